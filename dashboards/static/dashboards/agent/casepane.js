// The open case: its conversation on its channel, delivery of each reply
// (live), the customer typing, the composer and the case's tools.
import { $, el, fill } from "./dom.js";
import { send } from "./live.js";
import { keepCase, renderCases } from "./cases.js";
import { composer, windowClosed } from "./composer.js";
import { addresses, loadHistory } from "./history.js";
import { closePicker } from "./picker.js";
import { slaBadge } from "./status.js";
import { markSeen, state } from "./state.js";
import { caseTools } from "./tools.js";

export async function openCase(caseId) {
  state.openCaseId = caseId;
  markSeen(caseId);
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

export function closeCase(caseId, text) {
  state.cases.delete(caseId);
  if (state.openCaseId === caseId) {
    state.openCaseId = null;
    closePicker();
    $("case").replaceChildren(el("p", { class: "empty" }, text));
  }
  renderCases();
}

function deliveryNode(m) {
  if (m.direction !== "out") return null;
  return el("span", { class: `delivery ${m.delivery_status}`, title: m.delivery_error || "" },
    m.delivery_status, m.delivery_status === "failed" && m.delivery_error ? `: ${m.delivery_error}` : "");
}

function messageNode(m) {
  const body = el("div", { class: m.text ? "body" : "body html" });
  // Text is text. HTML was sanitized (nh3) when stored and is the only markup shown.
  if (m.text) body.textContent = m.text; else body.innerHTML = m.html || "";
  const who = m.direction === "in" ? "Customer" : m.direction === "note" ? `Note · ${m.author || "Agent"}` : (m.author || "Agent");
  return el("li", { class: `message ${m.direction}`, "data-message-id": m.id },
    el("div", { class: "meta" }, who, " · ", new Date(m.created_at).toLocaleTimeString(), " ", deliveryNode(m)), body);
}

export function renderCase(c) {
  keepCase(Object.assign({}, state.cases.get(c.id) || {}, c));
  // Re-rendering the open case (a reconnect, a status change) keeps the
  // draft, and the cursor if the agent was typing.
  const previous = $("reply-text");
  const same = previous && previous.dataset.caseId === String(c.id);
  const draft = same ? previous.value : "";
  const typing = same && document.activeElement === previous ? [previous.selectionStart, previous.selectionEnd] : null;
  const windowNotice = c.window_closes_at
    ? el("p", { class: `reply-window${windowClosed(c) ? " closed" : ""}`, role: "note" },
      windowClosed(c)
        ? `The 24-hour reply window closed ${new Date(c.window_closes_at).toLocaleString()}: only an approved template can be sent.`
        : `Reply window open until ${new Date(c.window_closes_at).toLocaleString()}.`)
    : null;
  closePicker();
  fill($("case"),
    el("header", { class: "case-head" }, el("h2", {}, c.subject || `Case ${c.id}`),
      el("p", { class: "meta" }, `${c.customer} · ${c.channel_kind} · ${c.queue || "no queue"} · ${c.status}`,
        c.language ? ` · ${c.language}` : "", " ", slaBadge(c.sla_due_at))),
    el("ol", { id: "messages", class: "messages" }, ...(c.messages || []).map(messageNode)),
    el("p", { id: "customer-typing", class: "typing meta", "aria-live": "polite" }),
    windowNotice,
    composer(c, { draft, addresses: addresses.get(c.customer_id) || [], onNote: (m) => addMessage(c.id, m) }),
    caseTools(c, {
      onResolved: (id) => closeCase(id, `Case ${id} resolved.`),
      onTransferred: (id) => closeCase(id, `Case ${id} transferred.`),
      onWaiting: (ack) => { const held = state.cases.get(c.id); if (held) { held.status = ack.status; renderCase(held); } },
    }));
  scrollToLatest($("messages"));
  if (typing) { const text = $("reply-text"); text.focus(); text.setSelectionRange(...typing); }
}

function scrollToLatest(list) { list.scrollTop = list.scrollHeight; }

// Near the bottom a new message scrolls into view; scrolled up it stays put.
function isAtLatest(list) { return list.scrollHeight - list.scrollTop - list.clientHeight < 40; }

export function addMessage(caseId, message) {
  const held = state.cases.get(caseId);
  if (held && message.direction === "in") held.last_customer_message_at = message.created_at;
  if (held && held.messages && !held.messages.some((m) => m.id === message.id)) held.messages.push(message);
  if (state.openCaseId !== caseId) { renderCases(); return; }
  markSeen(caseId);
  if (message.direction === "in") $("customer-typing").textContent = "";
  const list = $("messages");
  if (!list || list.querySelector(`[data-message-id="${message.id}"]`)) return;
  const follow = isAtLatest(list) || message.direction !== "in";
  list.append(messageNode(message));
  if (follow) scrollToLatest(list);
}

export function setDelivery(msg) {
  const held = state.cases.get(msg.case);
  const stored = held && held.messages && held.messages.find((m) => m.id === msg.message);
  if (stored) { stored.delivery_status = msg.status; stored.delivery_error = msg.error; }
  const node = document.querySelector(`#messages [data-message-id="${msg.message}"] .delivery`);
  if (!node) return;
  node.className = `delivery ${msg.status}`;
  node.title = msg.error || "";
  node.textContent = msg.status === "failed" && msg.error ? `${msg.status}: ${msg.error}` : msg.status;
}

let typingTimer = null;
export function customerTyping(caseId) {
  if (state.openCaseId !== caseId) return;
  const node = $("customer-typing");
  if (!node) return;
  node.textContent = `${state.cases.get(caseId)?.customer || "The customer"} is typing…`;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => { node.textContent = ""; }, 6000);
}
