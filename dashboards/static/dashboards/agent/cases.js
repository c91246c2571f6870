// My open cases, most urgent first: the nearest of the SLA target and a
// follow-up promise due; unread customer replies marked.
import { $, el, span } from "./dom.js";
import { renderLoad, slaBadge } from "./status.js";
import { isUnread, state } from "./state.js";

let opener = () => {};
export function onOpen(fn) { opener = fn; }

const HELD = ["assigned", "waiting", "wrap_up"];

function urgency(c) {
  const times = [c.sla_due_at, state.promises[c.id]].filter(Boolean).map(Date.parse);
  return times.length ? Math.min(...times) : Infinity;
}

export function orderedCases() {
  return [...state.cases.values()].sort((a, b) => urgency(a) - urgency(b) || a.id - b.id);
}

export function keepCase(c) {
  if (c.assignee_id === state.agent.id && HELD.includes(c.status)) {
    state.cases.set(c.id, Object.assign(state.cases.get(c.id) || {}, c));
    return true;
  }
  state.cases.delete(c.id);
  return false;
}

function promiseBadge(c) {
  const due = state.promises[c.id];
  if (!due) return null;
  const left = (Date.parse(due) - Date.now()) / 1000;
  return el("span", { class: `promise${left < 0 ? " due" : ""}`, title: `Follow-up promised for ${new Date(due).toLocaleString()}` },
    left < 0 ? `follow-up due ${span(left)} ago` : `follow-up in ${span(left)}`);
}

export function renderCases() {
  const list = $("cases");
  renderLoad();
  if (!state.cases.size) { list.replaceChildren(el("li", { class: "empty" }, "No open cases.")); return; }
  list.replaceChildren(...orderedCases().map((c) => {
    const unread = isUnread(c);
    return el("li", {
      class: `case-item${state.openCaseId === c.id ? " open" : ""}${unread ? " unread" : ""}`, "data-case-id": c.id, tabindex: 0,
      onclick: () => opener(c.id), onkeydown: (e) => { if (e.key === "Enter") opener(c.id); },
    }, el("span", { class: `kind kind-${c.channel_kind}` }, c.channel_kind),
    el("strong", { title: c.customer }, c.customer),
    unread ? el("span", { class: "unread-mark", title: "New customer reply" }, "new reply") : null,
    el("span", { class: "subject" }, c.subject || `Case ${c.id}`),
    c.status === "waiting" ? el("span", { class: "waiting" }, "waiting on customer") : null,
    c.status === "wrap_up" ? el("span", { class: "waiting" }, "wrap-up") : null,
    slaBadge(c.sla_due_at), promiseBadge(c));
  }));
}
