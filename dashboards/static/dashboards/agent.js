// The agent workspace: one websocket (/ws/agent/) for offers, cases and actions.
// Customer text is always inserted as text; customer HTML is sanitized on the
// server before it is stored and is the only markup this page renders.
(function () {
  "use strict";
  const HEARTBEAT_MS = 25000;
  const state = { agent: null, statuses: [], declineReasons: [], offers: new Map(), cases: new Map(), openCaseId: null };
  let socket = null;
  let requestSeq = 0;
  let reconnectDelay = 1000;
  const pending = new Map();

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null) node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  };

  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  function send(type, body) {
    const request_id = ++requestSeq;
    return new Promise((resolve, reject) => {
      if (!socket || socket.readyState !== WebSocket.OPEN) { reject(new Error("not connected")); return; }
      pending.set(request_id, { resolve, reject });
      socket.send(JSON.stringify(Object.assign({ type, request_id }, body || {})));
    });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/agent/`);
    setConnection("connecting");
    // "live" once the snapshot is in: from then on the page shows the agent's
    // current offers and cases and follows every change.
    socket.addEventListener("open", () => { reconnectDelay = 1000; });
    socket.addEventListener("close", (event) => {
      setConnection("offline");
      if (event.code === 4401) { location.href = "/accounts/login/?next=/agent/"; return; }
      setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 15000);
    });
    socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
  }

  function setConnection(value) {
    const c = $("connection");
    c.dataset.state = value;
    c.textContent = value === "live" ? "live" : value === "offline" ? "reconnecting…" : "connecting…";
  }

  function handle(msg) {
    switch (msg.type) {
      case "snapshot": applySnapshot(msg); break;
      case "ack": settle(msg, true); break;
      case "error": settle(msg, false); break;
      case "offer.created": addOffer(msg.offer); notify(msg.offer); break;
      case "offer.closed": state.offers.delete(msg.offer_id); renderOffers(); break;
      case "case.updated": upsertCase(msg.case); break;
      case "message.added": addMessage(msg.case_id, msg.message); break;
      case "agent.updated": state.agent = msg.agent; renderAgent(); break;
    }
  }

  function settle(msg, ok) {
    const waiter = pending.get(msg.request_id);
    if (!ok) toast(msg.detail || "That did not work");
    if (!waiter) return;
    pending.delete(msg.request_id);
    ok ? waiter.resolve(msg) : waiter.reject(new Error(msg.detail));
  }

  function applySnapshot(snap) {
    setConnection("live");
    state.agent = snap.agent;
    state.statuses = snap.statuses;
    state.declineReasons = snap.decline_reasons || [];
    state.offers = new Map(snap.offers.map((o) => [o.id, o]));
    state.cases = new Map(snap.cases.map((c) => [c.id, c]));
    renderAgent(); renderOffers(); renderCases();
    if (state.openCaseId && state.cases.has(state.openCaseId)) openCase(state.openCaseId);
  }

  function statusLabel(s) {
    const kinds = s.channel_kinds;
    if (!kinds.length) return `${s.name} (no channels)`;
    return kinds.length <= 3 ? `${s.name} (${kinds.join(", ")})` : `${s.name} (${kinds.length} channels)`;
  }

  function renderAgent() {
    const select = $("status");
    select.replaceChildren(...state.statuses.map((s) => el("option", { value: s.id, title: s.channel_kinds.join(", ") },
      statusLabel(s))));
    if (state.agent.status_id) select.value = String(state.agent.status_id);
    const current = state.statuses.find((s) => s.id === state.agent.status_id);
    select.title = current ? `Takes: ${current.channel_kinds.join(", ") || "nothing"}` : "";
    // Why the status changed when the agent did not change it (missed offers).
    const reason = $("status-reason");
    reason.textContent = state.agent.status_reason || "";
    reason.hidden = !state.agent.status_reason;
    renderLoad();
  }

  // Load as the router counts it: cases held (assigned or waiting) plus offers
  // pending, per channel kind. Derived from what this page shows, so it stays
  // current as offers and cases come and go between agent.updated events.
  function renderLoad() {
    if (!state.agent) return;
    const load = {};
    for (const item of [...state.cases.values(), ...state.offers.values()]) {
      load[item.channel_kind] = (load[item.channel_kind] || 0) + (item.units || 1);
    }
    const parts = Object.entries(state.agent.capacities).map(([kind, cap]) => {
      const used = load[kind] || 0;
      return el("span", used >= cap ? { class: "full" } : {}, `${kind} ${used}/${cap}`);
    });
    $("load").replaceChildren(...parts.flatMap((node, i) => (i ? [" · ", node] : [node])));
  }

  function addOffer(offer) { state.offers.set(offer.id, offer); renderOffers(); }

  function notify(offer) {
    if (document.hidden && "Notification" in window && Notification.permission === "granted") {
      new Notification(`New ${offer.channel_kind} case`, { body: `${offer.customer}: ${offer.preview}` });
    }
  }

  function secondsLeft(offer) {
    return Math.max(0, Math.round((Date.parse(offer.expires_at) - Date.now()) / 1000));
  }

  // The next SLA target: "SLA 12 min" while it runs, "SLA breached 3 min" after.
  function slaText(dueAt) {
    const left = Math.round((Date.parse(dueAt) - Date.now()) / 1000);
    const span = Math.abs(left) < 60 ? `${Math.abs(left)} s` : Math.abs(left) < 3600
      ? `${Math.round(Math.abs(left) / 60)} min` : `${Math.round(Math.abs(left) / 3600)} h`;
    return left >= 0 ? `SLA ${span}` : `SLA breached ${span}`;
  }

  function slaBadge(dueAt) {
    if (!dueAt) return null;
    const left = Date.parse(dueAt) - Date.now();
    return el("span", { class: `sla${left < 0 ? " breached" : left < 15 * 60000 ? " at-risk" : ""}`, "data-due": dueAt },
      slaText(dueAt));
  }

  function renderOffers() {
    const list = $("offers");
    renderLoad();
    if (!state.offers.size) { list.replaceChildren(el("li", { class: "empty" }, "No offers right now.")); return; }
    list.replaceChildren(...[...state.offers.values()].map((offer) => el("li", { class: "offer", "data-offer-id": offer.id },
      el("div", { class: "offer-head" },
        el("span", { class: `kind kind-${offer.channel_kind}` }, offer.channel_kind),
        el("strong", { title: offer.customer }, offer.customer), offer.vip ? el("span", { class: "vip" }, "VIP") : null,
        el("span", { class: "countdown", "data-expires": offer.expires_at }, `${secondsLeft(offer)} s`)),
      offer.preview || offer.subject
        ? el("p", { class: "preview" }, offer.preview || offer.subject)
        : el("p", { class: "preview none" }, "No text preview (formatted message)."),
      el("p", { class: "meta" }, offer.queue ? `Queue: ${offer.queue}` : "No queue", " ", slaBadge(offer.sla_due_at)),
      el("div", { class: "actions" },
        el("button", { class: "primary accept", onclick: () => accept(offer.id) }, "Accept"),
        el("button", { class: "decline", onclick: () => decline(offer.id) }, "Decline")))));
  }

  async function accept(offerId) {
    try {
      const ack = await send("offer.accept", { offer_id: offerId });
      state.offers.delete(offerId); renderOffers();
      openCase(ack.case_id);
    } catch (e) { state.offers.delete(offerId); renderOffers(); }
  }

  async function decline(offerId) {
    if (state.declineReasons.length) { chooseDeclineReason(offerId); return; }
    const reason = prompt("Why decline? (optional)") || "";
    await sendDecline(offerId, reason);
  }

  async function sendDecline(offerId, reason) {
    try { await send("offer.decline", { offer_id: offerId, reason }); } catch (e) { /* toast shown */ }
    state.offers.delete(offerId); renderOffers();
  }

  // The admin configured the reasons: the agent picks one of them.
  function chooseDeclineReason(offerId) {
    const card = document.querySelector(`#offers .offer[data-offer-id="${offerId}"]`);
    if (!card) return;
    const select = el("select", { class: "decline-reason", "aria-label": "Decline reason" },
      ...state.declineReasons.map((label) => el("option", { value: label }, label)));
    card.querySelector(".actions").replaceChildren(
      select,
      el("button", { class: "decline", onclick: () => sendDecline(offerId, select.value) }, "Confirm decline"),
      el("button", { onclick: () => renderOffers() }, "Cancel"));
    select.focus();
  }

  function upsertCase(c) {
    if (c.assignee_id === state.agent.id && ["assigned", "waiting", "wrap_up"].includes(c.status)) {
      state.cases.set(c.id, Object.assign(state.cases.get(c.id) || {}, c));
    } else {
      state.cases.delete(c.id);
    }
    renderCases();
    if (state.openCaseId === c.id) {
      if (c.messages) renderCase(c);
      else if (!state.cases.has(c.id)) $("case").replaceChildren(el("p", { class: "empty" }, `Case ${c.id} is ${c.status}.`));
    }
  }

  function renderCases() {
    const list = $("cases");
    renderLoad();
    if (!state.cases.size) { list.replaceChildren(el("li", { class: "empty" }, "No open cases.")); return; }
    // Most urgent first: the nearest SLA target, then the oldest.
    const due = (c) => (c.sla_due_at ? Date.parse(c.sla_due_at) : Infinity);
    const ordered = [...state.cases.values()].sort((a, b) => due(a) - due(b) || a.id - b.id);
    list.replaceChildren(...ordered.map((c) => el("li", {
      class: `case-item${state.openCaseId === c.id ? " open" : ""}`, "data-case-id": c.id, tabindex: 0,
      onclick: () => openCase(c.id), onkeydown: (e) => { if (e.key === "Enter") openCase(c.id); },
    }, el("span", { class: `kind kind-${c.channel_kind}` }, c.channel_kind), el("strong", { title: c.customer }, c.customer),
      el("span", { class: "subject" }, c.subject || `Case ${c.id}`),
      c.status === "waiting" ? el("span", { class: "waiting" }, "waiting on customer") : null,
      slaBadge(c.sla_due_at))));
  }

  // The customer's whole history (every channel), beside the open case, so
  // the agent never asks again what the customer already said.
  async function loadHistory(c) {
    const pane = $("customer");
    if (!c.customer_id) return;
    try {
      const response = await fetch(`/api/v1/customers/${c.customer_id}/history/`, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`history: ${response.status}`);
      const h = await response.json();
      if (state.openCaseId !== c.id) return;
      const others = h.cases.filter((x) => x.id !== c.id);
      pane.replaceChildren(
        el("h2", { id: "customer-title" }, h.customer.display_name || `Customer ${h.customer.id}`,
          h.customer.tier === "vip" ? el("span", { class: "vip" }, " VIP") : null),
        el("h3", {}, "Identities"),
        el("ul", { class: "identities" }, ...h.identities.map((i) => el("li", { class: "identity" }, `${i.kind}: ${i.address}`))),
        el("h3", {}, others.length ? `Other cases (${others.length})` : "No other cases"),
        el("div", { class: "past-cases" }, ...others.map((x) => el("details", { class: "past-case", "data-case-id": x.id },
          el("summary", {}, `#${x.id} · ${x.channel_kind} · ${x.status} · ${new Date(x.created_at).toLocaleDateString()}`,
            x.subject ? ` · ${x.subject}` : ""),
          el("ol", {}, ...(x.messages || []).filter((m) => m.direction !== "note").map((m) =>
            el("li", { class: `past-message ${m.direction}` }, m.text || "(formatted message)")))))));
    } catch (e) {
      pane.replaceChildren(el("h2", { id: "customer-title" }, "Customer"), el("p", { class: "empty" }, "History unavailable."));
    }
  }

  async function openCase(caseId) {
    state.openCaseId = caseId;
    renderCases();
    const pane = $("case");
    pane.setAttribute("aria-busy", "true");
    try {
      const ack = await send("case.open", { case_id: caseId });
      if (state.openCaseId === caseId) { renderCase(ack.case); loadHistory(ack.case); }
    } catch (e) { /* toast shown */ } finally {
      if (state.openCaseId === caseId) pane.removeAttribute("aria-busy");
    }
  }

  function messageNode(m) {
    const body = el("div", { class: m.text ? "body" : "body html" });
    if (m.text) body.textContent = m.text; else body.innerHTML = m.html; // html is sanitized server-side
    return el("li", { class: `message ${m.direction}`, "data-message-id": m.id },
      el("div", { class: "meta" }, m.direction === "in" ? "Customer" : (m.author || "Agent"), " · ",
        new Date(m.created_at).toLocaleTimeString(), m.direction === "out" ? ` · ${m.delivery_status}` : ""), body);
  }

  function renderCase(c) {
    state.cases.set(c.id, Object.assign(state.cases.get(c.id) || {}, c));
    // Re-rendering the open case (a reconnect, a case update) keeps the draft.
    const previous = $("reply-text");
    const draft = previous && previous.dataset.caseId === String(c.id) ? previous.value : "";
    const text = el("textarea", { id: "reply-text", rows: 3, placeholder: `Reply on ${c.channel_kind}…`, "aria-label": "Reply",
      "data-case-id": c.id });
    text.value = draft;
    const form = el("form", { class: "composer", onsubmit: async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      try { await send("case.reply", { case_id: c.id, text: text.value }); text.value = ""; } catch (err) { /* toast */ }
    } }, text, el("div", { class: "actions" },
      el("button", { type: "submit", class: "primary" }, "Send"),
      el("button", { type: "button", class: "resolve", onclick: async () => {
        try { await send("case.resolve", { case_id: c.id }); state.cases.delete(c.id); state.openCaseId = null; renderCases();
          $("case").replaceChildren(el("p", { class: "empty" }, `Case ${c.id} resolved.`)); } catch (err) { /* toast */ }
      } }, "Resolve"),
      c.status === "assigned" ? el("button", { type: "button", class: "wait", title: "Keep the case; its clock pauses until the customer writes",
        onclick: async () => { try { upsertCase(Object.assign({}, c, await send("case.waiting", { case_id: c.id }))); } catch (err) { /* toast */ } },
      }, "Wait on customer") : null));
    text.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit(); });
    // WhatsApp, Messenger, Instagram: free text only within 24 h of the customer's last message.
    const windowNotice = c.window_closes_at
      ? el("p", { class: `reply-window${Date.parse(c.window_closes_at) < Date.now() ? " closed" : ""}`, role: "note" },
        Date.parse(c.window_closes_at) < Date.now()
          ? `The 24-hour reply window closed ${new Date(c.window_closes_at).toLocaleString()}: only an approved template can be sent.`
          : `Reply window open until ${new Date(c.window_closes_at).toLocaleString()}.`)
      : null;
    if (windowNotice && windowNotice.classList.contains("closed")) { text.disabled = true; text.placeholder = "Window closed: send a template."; }
    $("case").replaceChildren(
      el("header", { class: "case-head" }, el("h2", {}, c.subject || `Case ${c.id}`),
        el("p", { class: "meta" }, `${c.customer} · ${c.channel_kind} · ${c.queue || "no queue"} · ${c.status}`, " ",
          slaBadge(c.sla_due_at))),
      el("ol", { id: "messages", class: "messages" }, ...(c.messages || []).map(messageNode)), windowNotice, form);
    scrollToLatest($("messages"));
  }

  function scrollToLatest(list) { list.scrollTop = list.scrollHeight; }

  // Near the bottom (reading the latest), a new message scrolls into view;
  // scrolled up (reading history), the view stays where it is.
  function isAtLatest(list) { return list.scrollHeight - list.scrollTop - list.clientHeight < 40; }

  function addMessage(caseId, message) {
    if (state.openCaseId !== caseId) return;
    const list = $("messages");
    if (!list || list.querySelector(`[data-message-id="${message.id}"]`)) return;
    const follow = isAtLatest(list) || message.direction === "out";
    list.append(messageNode(message));
    if (follow) scrollToLatest(list);
  }

  $("status").addEventListener("change", async (e) => {
    try { await send("status.set", { status_id: Number(e.target.value) }); } catch (err) { /* toast */ }
  });
  setInterval(() => { if (socket && socket.readyState === WebSocket.OPEN) send("heartbeat").catch(() => {}); }, HEARTBEAT_MS);
  setInterval(() => {
    document.querySelectorAll(".countdown").forEach((n) => {
      n.textContent = `${Math.max(0, Math.round((Date.parse(n.dataset.expires) - Date.now()) / 1000))} s`;
    });
    document.querySelectorAll(".sla[data-due]").forEach((n) => {
      n.textContent = slaText(n.dataset.due);
      n.classList.toggle("breached", Date.parse(n.dataset.due) < Date.now());
    });
  }, 1000);
  if ("Notification" in window && Notification.permission === "default") {
    document.addEventListener("click", () => Notification.requestPermission(), { once: true });
  }
  connect();
})();
