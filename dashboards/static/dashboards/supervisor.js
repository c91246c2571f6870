// The supervisor dashboard and the wallboard: one websocket (/ws/supervisor/).
// The server sends a snapshot numbered per stream, then deltas (whole rows of
// the queues and agents that changed) and heartbeats carrying each stream's
// number. A skipped number, a heartbeat ahead of us, or silence means we may
// have missed something: the page says "stale" and asks for a fresh snapshot.
// Text from the server is always inserted as text.
(function () {
  "use strict";
  const SILENCE_MS = 12000; // heartbeats come every 5 s
  const RESYNC_MIN_MS = 3000;
  const root = document.querySelector(".supervisor");
  const MODE = root.dataset.mode;
  const state = {
    queues: new Map(), agents: new Map(), escalations: [], history: {}, seqs: {}, aheadAt: {},
    statuses: [], kinds: [], serverOffset: 0, drillQueue: null,
  };
  let socket = null;
  let reconnectDelay = 1000;
  let lastMessageAt = Date.now();
  let lastResyncAt = 0;
  let live = false;

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };
  const now = () => Date.now() / 1000 + state.serverOffset;

  function toast(text) {
    const t = $("toast");
    if (!t) return;
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  function setConnection(value) {
    const c = $("connection");
    c.dataset.state = value;
    c.textContent = { live: "live", stale: "stale — resyncing…", offline: "reconnecting…", connecting: "connecting…" }[value];
  }

  // --- The socket -------------------------------------------------------------

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/supervisor/`);
    setConnection("connecting");
    live = false;
    socket.addEventListener("open", () => { reconnectDelay = 1000; lastMessageAt = Date.now(); });
    socket.addEventListener("close", (event) => {
      live = false;
      setConnection("offline");
      if (event.code === 4401) { location.href = "/accounts/login/?next=" + encodeURIComponent(location.pathname); return; }
      setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 15000);
    });
    socket.addEventListener("message", (event) => {
      lastMessageAt = Date.now();
      handle(JSON.parse(event.data));
    });
  }

  function resync(why) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastResyncAt < RESYNC_MIN_MS) return;
    lastResyncAt = Date.now();
    live = false;
    setConnection("stale");
    socket.send(JSON.stringify({ type: "resync", why }));
  }

  // Silence (Redis away, memberships lost): never look live when we are not.
  setInterval(() => {
    if (socket && socket.readyState === WebSocket.OPEN && Date.now() - lastMessageAt > SILENCE_MS) {
      setConnection("stale");
      resync("silence");
    }
    tick();
  }, 1000);

  function handle(msg) {
    switch (msg.type) {
      case "snapshot": applySnapshot(msg); break;
      case "delta": applyDelta(msg); break;
      case "heartbeat": checkHeartbeat(msg); break;
      case "error": toast(msg.detail); break;
    }
  }

  function applySnapshot(snap) {
    state.serverOffset = snap.now - Date.now() / 1000;
    state.seqs = Object.assign({}, snap.seqs);
    state.aheadAt = {};
    state.queues = new Map(snap.queues.map((q) => [q.id, q]));
    state.agents = new Map(snap.agents.map((a) => [a.id, a]));
    state.escalations = snap.escalations;
    state.history = snap.history || {};
    state.statuses = snap.statuses;
    state.kinds = snap.channel_kinds;
    live = true;
    setConnection("live");
    renderAll();
    if (state.drillQueue !== null) refreshDrill();
  }

  function applyDelta(msg) {
    const have = state.seqs[msg.stream];
    if (have === undefined || msg.seq <= have) return; // older than what we show
    const gap = msg.seq > have + 1;
    state.seqs[msg.stream] = msg.seq;
    for (const q of msg.queues) state.queues.set(q.id, q);
    for (const a of msg.agents) state.agents.set(a.id, a);
    if (msg.escalations.length) {
      const known = new Set(state.escalations.map((e) => e.id));
      const fresh = msg.escalations.filter((e) => !known.has(e.id)).reverse();
      state.escalations = fresh.concat(state.escalations).slice(0, 50);
    }
    renderAll();
    if (state.drillQueue !== null && msg.queues.some((q) => q.id === state.drillQueue)) refreshDrill();
    if (gap) resync("gap"); // rows are whole, but what changed in between is unknown
  }

  function checkHeartbeat(msg) {
    const have = state.seqs[msg.stream];
    if (have === undefined) return;
    if (msg.seq < have) { resync("counter reset"); return; }
    if (msg.seq === have) { delete state.aheadAt[msg.stream]; if (!live) { live = true; setConnection("live"); } return; }
    // Ahead: a delta may still be on its way; if the next heartbeat is still ahead, it was lost.
    if (state.aheadAt[msg.stream] !== undefined && state.aheadAt[msg.stream] <= have) {
      delete state.aheadAt[msg.stream];
    }
    if (state.aheadAt[msg.stream] === undefined) { state.aheadAt[msg.stream] = msg.seq; return; }
    resync("missed delta");
  }

  // --- Formatting ---------------------------------------------------------------

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return `${seconds} s`;
    const m = Math.floor(seconds / 60);
    if (m < 60) return `${m} min ${String(seconds % 60).padStart(2, "0")} s`;
    return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
  }
  const since = (ts) => (ts ? duration(now() - ts) : "—");
  const kindsText = (obj) => Object.entries(obj || {}).map(([k, n]) => `${k} ${n}`).join(", ") || "none";

  // --- Rendering ----------------------------------------------------------------

  function sortedQueues() {
    return [...state.queues.values()].filter((q) => q.active).sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name));
  }

  function renderAll() {
    if (MODE === "wallboard") renderTiles(); else { renderQueues(); renderAgents(); renderKindForm(); }
    renderFeed();
    renderChart();
  }

  function tick() {
    // Waits grow between deltas: refresh the clocks every second.
    document.querySelectorAll("[data-since]").forEach((node) => { node.textContent = since(Number(node.dataset.since)); });
    const clock = $("clock");
    if (clock) clock.textContent = new Date().toLocaleTimeString();
  }

  function priorityPicker(q) {
    const select = el("select", { "aria-label": `Priority of ${q.name}`, class: "priority" });
    for (let p = 1; p <= 5; p++) select.append(el("option", { value: p, selected: p === q.priority }, String(p)));
    select.addEventListener("change", () => act(`/api/v1/supervisor/queues/${q.id}/priority/`, { priority: Number(select.value) }, `${q.name}: priority ${select.value}`));
    return select;
  }

  function renderQueues() {
    const body = $("queues").tBodies[0];
    const rows = sortedQueues().map((q) => el("tr", { "data-queue-id": q.id, class: q.sla_breached ? "breached" : q.sla_at_risk ? "at-risk" : "" },
      el("th", { scope: "row" }, el("button", { type: "button", class: "link", onclick: () => openDrill(q.id) }, q.name)),
      el("td", {}, priorityPicker(q)),
      el("td", { class: "num waiting" }, q.waiting),
      el("td", { class: "num offered" }, q.offered),
      el("td", { class: "num assigned" }, q.assigned),
      el("td", { class: "num on-customer" }, q.waiting_on_customer),
      el("td", { class: "num longest", "data-since": q.oldest_queued_at || "" }, since(q.oldest_queued_at)),
      el("td", { class: "num average", "data-since": q.average_queued_at || "" }, since(q.average_queued_at)),
      el("td", { class: "num sla-risk" }, q.sla_at_risk),
      el("td", { class: "num sla-breached" }, q.sla_breached),
      el("td", { class: "available" }, `${kindsText(q.agents_available)} (${q.agents_online} online)`),
      el("td", { class: "num capacity" }, `${q.capacity_in_use}/${q.capacity_total}`),
      el("td", { class: "num arrivals" }, `${q.arrivals_15}/${q.arrivals_60}`),
      el("td", { class: "num answers" }, `${q.answers_15}/${q.answers_60}`)));
    body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: 14 }, "No queues in your teams."))]));
  }

  function statusPicker(a) {
    const select = el("select", { "aria-label": `Status of ${a.name}` });
    for (const s of state.statuses) select.append(el("option", { value: s.id, selected: s.id === a.status_id }, s.name));
    select.addEventListener("change", () => act(`/api/v1/supervisor/agents/${a.id}/status/`, { status_id: Number(select.value) }, `${a.name}: status changed`));
    return select;
  }

  function capacityForm(a) {
    const input = el("input", { type: "number", min: 1, max: 1000, value: a.capacity_total, "aria-label": `Total capacity of ${a.name}`, class: "capacity-input" });
    const form = el("form", { class: "inline-form" }, input, el("button", { type: "submit" }, "Set"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(`/api/v1/supervisor/agents/${a.id}/capacity/`, { total: Number(input.value) }, `${a.name}: capacity ${input.value}`);
    });
    return form;
  }

  function renderAgents() {
    const body = $("agents").tBodies[0];
    const agents = [...state.agents.values()].filter((a) => a.active).sort((a, b) => a.name.localeCompare(b.name));
    const rows = agents.map((a) => {
      const load = Object.entries(a.capacities).map(([k, cap]) => `${k} ${a.load[k] || 0}/${cap}`).join(", ") || "no capacity";
      const used = Object.values(a.load).reduce((s, n) => s + n, 0);
      return el("tr", { "data-agent-id": a.id, class: a.present ? "" : "absent" },
        el("th", { scope: "row" }, a.name, a.present ? null : el("span", { class: "meta" }, " (offline)")),
        el("td", {}, statusPicker(a), a.status_reason ? el("div", { class: "meta" }, a.status_reason) : null),
        el("td", { class: "num", "data-since": a.status_since || "" }, since(a.status_since)),
        el("td", { class: "load" }, `${used}/${a.capacity_total} · ${load}`),
        el("td", { class: "cases" }, a.cases.map((c) => `#${c.id}`).join(" ") || "—"),
        el("td", { class: "num missed" }, a.missed_offers),
        el("td", {}, capacityForm(a)));
    });
    body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: 7 }, "No agents in your teams."))]));
  }

  function renderKindForm() {
    const select = $("kind-priority-kind");
    if (!select || select.options.length) return;
    for (const k of state.kinds) select.append(el("option", { value: k }, k));
  }

  function renderFeed() {
    const feed = $("feed");
    const items = state.escalations.slice(0, MODE === "wallboard" ? 8 : 30).map((e) => el("li", { class: `feed-item ${e.kind}` },
      el("span", { class: "kind-tag" }, e.kind.replace(/_/g, " ")),
      " ", e.case_id ? `case #${e.case_id} · ` : "", e.detail,
      el("span", { class: "meta" }, " ", new Date(e.at * 1000).toLocaleTimeString())));
    feed.replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "No escalations.")]));
  }

  function renderTiles() {
    const tiles = sortedQueues().map((q) => el("article", { class: `tile ${q.sla_breached ? "breached" : q.sla_at_risk ? "at-risk" : ""}`, "data-queue-id": q.id },
      el("h2", {}, q.name),
      el("div", { class: "big waiting", "aria-label": `${q.name} waiting` }, q.waiting + q.offered),
      el("div", { class: "label" }, "waiting"),
      el("dl", {},
        el("dt", {}, "Longest"), el("dd", { "data-since": q.oldest_queued_at || "" }, since(q.oldest_queued_at)),
        el("dt", {}, "SLA at risk"), el("dd", { class: "sla-risk" }, q.sla_at_risk),
        el("dt", {}, "Breached"), el("dd", { class: "sla-breached" }, q.sla_breached),
        el("dt", {}, "Agents free"), el("dd", {}, Object.values(q.agents_available).reduce((s, n) => Math.max(s, n), 0)),
        el("dt", {}, "Answered 60 min"), el("dd", {}, q.answers_60))));
    $("tiles").replaceChildren(...(tiles.length ? tiles : [el("p", { class: "empty" }, "No queues.")]));
  }

  // A small SVG line chart: one line per queue, waiting cases per minute, now at the right.
  const COLORS = ["#2f5bea", "#d92d20", "#079455", "#dc6803", "#7a5af8", "#0e9384", "#c11574", "#475467"];
  function renderChart() {
    const box = $("chart");
    const W = 600, H = MODE === "wallboard" ? 260 : 180, P = 28;
    const end = now(), start = end - 4 * 3600;
    const series = sortedQueues().map((q, i) => {
      const points = (state.history[String(q.id)] || []).filter((p) => p[0] >= start).map((p) => [p[0], p[1]]);
      points.push([end, q.waiting + q.offered]);
      return { q, color: COLORS[i % COLORS.length], points };
    });
    const max = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])));
    const x = (t) => P + ((t - start) / (end - start)) * (W - 2 * P);
    const y = (v) => H - P - (v / max) * (H - 2 * P);
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("class", "chart-svg");
    const add = (tag, attrs, text) => {
      const n = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
      if (text !== undefined) n.textContent = text;
      svg.append(n);
      return n;
    };
    add("line", { x1: P, y1: H - P, x2: W - P, y2: H - P, stroke: "#98a2b3" });
    add("line", { x1: P, y1: P, x2: P, y2: H - P, stroke: "#98a2b3" });
    add("text", { x: 2, y: P + 4, "font-size": 11, fill: "#667085" }, String(max));
    add("text", { x: 2, y: H - P + 4, "font-size": 11, fill: "#667085" }, "0");
    for (let h = 4; h >= 0; h--) add("text", { x: x(end - h * 3600) - 10, y: H - 8, "font-size": 11, fill: "#667085" }, h ? `-${h} h` : "now");
    series.forEach((s, i) => {
      const d = s.points.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
      add("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "data-queue-id": s.q.id });
      const last = s.points[s.points.length - 1];
      add("circle", { cx: x(last[0]), cy: y(last[1]), r: 3, fill: s.color });
      add("text", { x: W - P - 110, y: P + 12 * i, "font-size": 11, fill: s.color }, `${s.q.name}: ${last[1]}`);
    });
    box.replaceChildren(svg);
  }

  // --- Actions (REST, session + CSRF) --------------------------------------------

  function csrf() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function api(url, body) {
    const response = await fetch(url, {
      method: body === undefined ? "GET" : "POST",
      credentials: "same-origin",
      headers: Object.assign({ Accept: "application/json" }, body === undefined ? {} : { "Content-Type": "application/json", "X-CSRFToken": csrf() }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = data.detail || Object.entries(data).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`).join("; ") || response.statusText;
      throw new Error(detail);
    }
    return data;
  }

  async function act(url, body, done) {
    try {
      await api(url, body);
      toast(done);
    } catch (err) {
      toast(err.message);
      renderAll(); // put the pickers back as the server has them
    }
  }

  const kindForm = $("kind-priority");
  if (kindForm) {
    kindForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const kind = $("kind-priority-kind").value, priority = Number($("kind-priority-value").value);
      act("/api/v1/supervisor/channel-kind-priority/", { channel_kind: kind, priority }, `Waiting ${kind} cases: priority ${priority}`);
    });
  }

  // --- Drill-down: a queue's cases, with assign and transfer ---------------------

  function openDrill(queueId) {
    state.drillQueue = queueId;
    $("drill").hidden = false;
    refreshDrill();
  }

  let drillTimer = null;
  function refreshDrill() {
    // Coalesced: deltas may come several a second.
    clearTimeout(drillTimer);
    drillTimer = setTimeout(loadDrill, 150);
  }

  async function loadDrill() {
    const queueId = state.drillQueue;
    if (queueId === null) return;
    const q = state.queues.get(queueId);
    $("drill-title").textContent = q ? `Queue ${q.name}` : "Queue";
    const body = $("drill-cases");
    body.setAttribute("aria-busy", "true");
    let cases;
    try { cases = await api(`/api/v1/supervisor/queues/${queueId}/cases/`); } catch (err) { toast(err.message); return; }
    finally { body.removeAttribute("aria-busy"); }
    if (state.drillQueue !== queueId) return;
    const agents = [...state.agents.values()].filter((a) => a.active).sort((a, b) => a.name.localeCompare(b.name));
    const queues = sortedQueues();
    const rows = cases.map((c) => {
      const who = el("select", { "aria-label": `Agent for case ${c.id}` }, ...agents.filter((a) => a.id !== c.assignee_id).map((a) => el("option", { value: a.id }, a.name)));
      const force = el("input", { type: "checkbox", "aria-label": `Force case ${c.id}` });
      const where = el("select", { "aria-label": `Queue for case ${c.id}` }, ...queues.filter((x) => x.id !== queueId).map((x) => el("option", { value: x.id }, x.name)));
      const assign = el("button", { type: "button", onclick: () => act(`/api/v1/cases/${c.id}/assign/`, { agent: Number(who.value), force: force.checked }, `Case ${c.id} ${c.assignee_id ? "reassigned" : "assigned"}`).then(refreshDrill) }, c.assignee_id ? "Reassign" : "Assign");
      const transfer = el("button", { type: "button", onclick: () => act(`/api/v1/cases/${c.id}/transfer/`, { queue: Number(where.value) }, `Case ${c.id} transferred`).then(refreshDrill) }, "Transfer");
      const holder = c.assignee || c.offered_to;
      const why = el("button", { type: "button", class: "why", onclick: () => showWhy(c, holder) }, holder ? `Why ${holder}?` : "Why waiting?");
      return el("tr", { "data-case-id": c.id },
        el("td", {}, `#${c.id}`), el("td", {}, c.status), el("td", {}, c.customer || "—"), el("td", {}, c.channel_kind),
        el("td", { class: "num" }, c.priority), el("td", {}, c.assignee || (c.offered_to ? `offered to ${c.offered_to}` : "—")),
        el("td", { "data-since": c.queued_at ? Date.parse(c.queued_at) / 1000 : "" }, c.queued_at ? since(Date.parse(c.queued_at) / 1000) : "—"),
        el("td", { class: "actions" }, why, who, el("label", { class: "meta" }, force, " force"), assign, where, transfer));
    });
    body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: 8 }, "No open cases in this queue."))]));
  }

  // --- Why did this case go to this agent (or to nobody yet)? -------------------

  async function showWhy(c, holder) {
    const panel = $("why");
    $("why-title").textContent = holder ? `Why ${holder}? Case #${c.id}` : `Why is case #${c.id} waiting?`;
    const body = $("why-body");
    body.setAttribute("aria-busy", "true");
    panel.hidden = false;
    let told;
    try { told = await api(`/api/v1/cases/${c.id}/explanation/`); } catch (err) { toast(err.message); body.removeAttribute("aria-busy"); return; }
    const blocks = [];
    if (told.waiting) blocks.push(whyBlock("Now", told.waiting));
    for (const offer of told.offers) {
      const when = new Date(offer.created_at).toLocaleTimeString();
      const head = `Offered to ${offer.agent_name} at ${when} (${offer.status}${offer.decline_reason ? `: ${offer.decline_reason}` : ""})`;
      blocks.push(offer.explanation ? whyBlock(head, offer.explanation) : el("section", {}, el("h3", {}, head), el("p", { class: "meta" }, `No explanation kept (they are kept ${told.kept_days} days).`)));
    }
    if (!blocks.length) blocks.push(el("p", { class: "meta" }, "Nothing routed yet."));
    body.replaceChildren(...blocks);
    body.removeAttribute("aria-busy");
  }

  function whyBlock(head, data) {
    const ranked = data.ranked.map((r, i) => el("tr", {},
      el("td", {}, i === 0 ? `${r.name} (chosen)` : r.name), el("td", { class: "num" }, r.free), el("td", { class: "num" }, r.open),
      el("td", { class: "num" }, r.proficiency), el("td", {}, r.idle_since ? since(r.idle_since) : "—")));
    return el("section", { class: "why-block" },
      el("h3", {}, head),
      el("ul", {}, ...data.summary.map((line) => el("li", {}, line))),
      ranked.length ? el("table", { class: "grid" },
        el("thead", {}, el("tr", {}, el("th", {}, "Candidate"), el("th", {}, "Free units"), el("th", {}, "Open cases"), el("th", {}, "Proficiency"), el("th", {}, "Idle for"))),
        el("tbody", {}, ...ranked)) : null);
  }

  const whyClose = $("why-close");
  if (whyClose) whyClose.addEventListener("click", () => { $("why").hidden = true; });

  const close = $("drill-close");
  if (close) close.addEventListener("click", () => { state.drillQueue = null; $("drill").hidden = true; });

  connect();
})();
