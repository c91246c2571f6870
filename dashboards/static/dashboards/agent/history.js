// The customer's whole history beside the open case (every channel: other
// cases and their messages, identities, satisfaction answers, promises), and
// linking or merging identities, so nothing is asked twice.
import { $, api, el, fill, toast } from "./dom.js";

export const addresses = new Map(); // customer id -> [email addresses]

function identityForm(customerId, reload) {
  const kind = el("select", { "aria-label": "Identity kind" },
    ...["email", "phone", "whatsapp", "telegram", "messenger", "web", "social", "api"].map((k) => el("option", { value: k }, k)));
  const address = el("input", { "aria-label": "Identity address", placeholder: "address", required: true });
  return el("form", { class: "inline-form", "aria-label": "Link identity", onsubmit: async (e) => {
    e.preventDefault();
    try { await api("POST", `/api/v1/customers/${customerId}/identities/`, { kind: kind.value, address: address.value }); reload(); }
    catch (err) { /* toast shown */ }
  } }, kind, address, el("button", { type: "submit" }, "Link"));
}

function mergeForm(customerId, reload) {
  const source = el("input", { type: "number", min: 1, "aria-label": "Customer to merge in", placeholder: "customer id", required: true });
  return el("form", { class: "inline-form", "aria-label": "Merge customer", onsubmit: async (e) => {
    e.preventDefault();
    if (!confirm(`Merge customer ${source.value} into this one? It can be undone.`)) return;
    try { await api("POST", `/api/v1/customers/${customerId}/merge/`, { source: Number(source.value) }); reload(); }
    catch (err) { /* toast shown */ }
  } }, source, el("button", { type: "submit" }, "Merge"));
}

function surveyNode(s) {
  return el("li", { class: "survey-answer", "data-case-id": s.case },
    `#${s.case} · ${s.channel_kind} · ${s.score}/5`, s.agent ? ` · ${s.agent}` : "", s.comment ? ` · “${s.comment}”` : "");
}

function pastCase(x) {
  return el("details", { class: "past-case", "data-case-id": x.id },
    el("summary", {}, `#${x.id} · ${x.channel_kind} · ${x.status} · ${new Date(x.created_at).toLocaleDateString()}`,
      x.subject ? ` · ${x.subject}` : ""),
    el("ol", {}, ...(x.messages || []).filter((m) => m.direction !== "note").map((m) =>
      el("li", { class: `past-message ${m.direction}` }, m.text || "(formatted message)"))));
}

let shown = null; // the case whose customer the pane shows (stays after it is resolved)

export async function loadHistory(c) {
  const pane = $("customer");
  if (!c.customer_id) return;
  shown = c.id;
  const reload = () => loadHistory(c);
  try {
    const [h, promises] = await Promise.all([
      api("GET", `/api/v1/customers/${c.customer_id}/history/`),
      api("GET", `/api/v1/sla/promises/?customer=${c.customer_id}`).catch(() => []),
    ]);
    if (shown !== c.id) return;
    const emails = h.identities.filter((i) => i.kind === "email").map((i) => i.address);
    addresses.set(c.customer_id, emails);
    const to = $("email-to");
    if (to && emails.length) to.textContent = emails.join(", ");
    const others = h.cases.filter((x) => x.id !== c.id);
    const openPromises = (Array.isArray(promises) ? promises : promises.results || []).filter((p) => p.status === "open");
    const surveys = h.surveys || [];
    fill(pane,
      el("div", { class: "history-head" },
        el("h2", { id: "customer-title" }, h.customer.display_name || `Customer ${h.customer.id}`,
          h.customer.tier === "vip" ? el("span", { class: "vip" }, " VIP") : null),
        el("button", { type: "button", class: "link refresh", "aria-label": "Refresh history", title: "Refresh history", onclick: reload }, "↻")),
      el("p", { class: "meta" }, `Customer ${h.customer.id}`),
      el("h3", {}, "Identities"),
      el("ul", { class: "identities" }, ...h.identities.map((i) => el("li", { class: "identity" }, `${i.kind}: ${i.address}`))),
      el("details", { class: "identity-tools" }, el("summary", {}, "Link or merge"),
        identityForm(c.customer_id, reload), mergeForm(c.customer_id, reload),
        ...(h.merges || []).filter((m) => !m.undone_at).map((m) => el("button", { type: "button", class: "link",
          onclick: async () => { try { await api("POST", `/api/v1/customers/${c.customer_id}/undo-merge/`, { merge: m.id }); reload(); } catch (e) { /* toast */ } } },
        `Undo merge ${m.id}`))),
      openPromises.length ? el("h3", {}, "Promises") : null,
      openPromises.length ? el("ul", { class: "promises" }, ...openPromises.map((p) => el("li", { class: "promise-item" },
        `${new Date(p.due_at).toLocaleString()} · ${p.channel_kind}`, p.note ? ` · ${p.note}` : ""))) : null,
      surveys.length ? el("h3", {}, "Satisfaction") : null,
      surveys.length ? el("ul", { class: "surveys" }, ...surveys.map(surveyNode)) : null,
      el("h3", {}, others.length ? `Other cases (${others.length})` : "No other cases"),
      el("div", { class: "past-cases" }, ...others.map(pastCase)));
  } catch (e) {
    if (shown !== c.id) return;
    pane.replaceChildren(el("h2", { id: "customer-title" }, "Customer"), el("p", { class: "empty" }, "History unavailable."));
    toast("History unavailable");
  }
}
