// What an agent does to a case besides replying: wait on the customer,
// resolve, promise a follow-up, transfer to another queue.
import { api, el, toast } from "./dom.js";
import { renderCases } from "./cases.js";
import { send } from "./live.js";
import { state } from "./state.js";

function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function promiseForm(c, done) {
  const due = el("input", { type: "datetime-local", "aria-label": "Follow-up due", required: true,
    value: localInput(new Date(Date.now() + 24 * 3600 * 1000)) });
  const note = el("input", { "aria-label": "Follow-up note", placeholder: "What you promised", maxlength: 2000 });
  return el("form", { class: "inline-form", "aria-label": "Follow-up promise", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const p = await api("POST", "/api/v1/sla/promises/", { case: c.id, due_at: new Date(due.value).toISOString(), channel_kind: c.channel_kind, note: note.value });
      state.promises[c.id] = state.promises[c.id] && state.promises[c.id] < p.due_at ? state.promises[c.id] : p.due_at;
      toast(`Follow-up set for ${new Date(p.due_at).toLocaleString()}`);
      renderCases();
      done();
    } catch (err) { /* toast shown */ }
  } }, due, note, el("button", { type: "submit" }, "Promise"));
}

function transferForm(c, done) {
  const go = async (body, label) => {
    try {
      await api("POST", `/api/v1/cases/${c.id}/transfer/`, body);
      toast(`Case ${c.id} transferred to ${label}`);
      done(true);
    } catch (err) { /* toast shown */ }
  };
  const queue = el("select", { "aria-label": "Transfer to queue" },
    ...state.queues.filter((q) => q.name !== c.queue).map((q) => el("option", { value: q.id }, q.name)));
  const agent = el("select", { "aria-label": "Transfer to agent" },
    ...state.colleagues.map((a) => el("option", { value: a.id }, a.name)));
  return el("div", { class: "transfer-forms" },
    el("form", { class: "inline-form", "aria-label": "Transfer", onsubmit: (e) => {
      e.preventDefault();
      go({ queue: Number(queue.value) }, queue.selectedOptions[0]?.textContent);
    } }, queue, el("button", { type: "submit" }, "Transfer")),
    el("form", { class: "inline-form", "aria-label": "Transfer to an agent", onsubmit: (e) => {
      e.preventDefault();
      go({ agent: Number(agent.value) }, agent.selectedOptions[0]?.textContent);
    } }, agent, el("button", { type: "submit" }, "Give to agent")));
}

export function caseTools(c, { onResolved, onWaiting, onTransferred }) {
  const slot = el("div", { class: "tool-slot" });
  const toggle = (make) => () => {
    if (slot.firstChild && slot.dataset.tool === make.name) { slot.replaceChildren(); slot.dataset.tool = ""; return; }
    slot.dataset.tool = make.name;
    slot.replaceChildren(make(c, (gone) => { slot.replaceChildren(); if (gone) onTransferred(c.id); }));
    slot.querySelector("input, select")?.focus();
  };
  return el("div", { class: "case-tools" },
    el("div", { class: "actions" },
      c.status === "assigned" ? el("button", { type: "button", class: "wait", title: "Keep the case; its clock pauses until the customer writes (w)",
        onclick: async () => { try { onWaiting(await send("case.waiting", { case_id: c.id })); } catch (err) { /* toast */ } } },
      "Wait on customer") : null,
      el("button", { type: "button", class: "follow-up", onclick: toggle(promiseForm), title: "Promise a follow-up (f)" }, "Follow-up"),
      el("button", { type: "button", class: "transfer", onclick: toggle(transferForm) }, "Transfer"),
      c.status !== "wrap_up" ? el("button", { type: "button", class: "resolve", title: "Resolve (e)", onclick: () => resolve(c.id, onResolved) }, "Resolve") : null),
    slot);
}

export async function resolve(caseId, onResolved) {
  try { await send("case.resolve", { case_id: caseId }); onResolved(caseId); } catch (err) { /* toast */ }
}
