// The top bar: presence status (and what each enables), load against capacity,
// and the SLA badges used across the page.
import { $, el, span } from "./dom.js";
import { send } from "./live.js";
import { state } from "./state.js";

function statusLabel(s) {
  const kinds = s.channel_kinds;
  if (!kinds.length) return `${s.name} (no channels)`;
  return kinds.length <= 3 ? `${s.name} (${kinds.join(", ")})` : `${s.name} (${kinds.length} channels)`;
}

export function renderAgent() {
  const select = $("status");
  select.replaceChildren(...state.statuses.map((s) => el("option", { value: s.id, title: s.channel_kinds.join(", ") },
    statusLabel(s))));
  if (state.agent.status_id) select.value = String(state.agent.status_id);
  const current = state.statuses.find((s) => s.id === state.agent.status_id);
  const takes = $("status-takes");
  takes.textContent = current ? `Takes: ${current.channel_kinds.join(", ") || "nothing"}` : "";
  takes.title = takes.textContent;
  const reason = $("status-reason");
  reason.textContent = state.agent.status_reason || "";
  reason.hidden = !state.agent.status_reason;
  renderLoad();
}

// Load as the router counts it: cases held plus offers pending, per channel kind.
export function renderLoad() {
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

export function slaText(dueAt) {
  const left = (Date.parse(dueAt) - Date.now()) / 1000;
  return left >= 0 ? `SLA ${span(left)}` : `SLA breached ${span(left)}`;
}

export function slaBadge(dueAt) {
  if (!dueAt) return null;
  const left = Date.parse(dueAt) - Date.now();
  return el("span", { class: `sla${left < 0 ? " breached" : left < 15 * 60000 ? " at-risk" : ""}`, "data-due": dueAt },
    slaText(dueAt));
}

export function watchStatusPicker() {
  $("status").addEventListener("change", async (e) => {
    try { await send("status.set", { status_id: Number(e.target.value) }); } catch (err) { /* toast */ }
  });
}
