// The agent workspace: one websocket (/ws/agent/) for offers, cases and
// actions, the REST API for the rest. Everything a customer wrote is shown
// as text, or as the HTML sanitized on the server when it was stored.
import { $, el } from "./dom.js";
import { addMessage, customerTyping, openCase, renderCase, setDelivery } from "./casepane.js";
import { keepCase, onOpen, renderCases } from "./cases.js";
import { listenForKeys, toggleHelp } from "./keys.js";
import { connect, onHeartbeat, send, setConnection } from "./live.js";
import { addOffer, onAccepted, renderOffers, secondsLeft } from "./offers.js";
import { state } from "./state.js";
import { renderAgent, slaText, watchStatusPicker } from "./status.js";

function applySnapshot(snap) {
  state.agent = snap.agent;
  state.statuses = snap.statuses;
  state.declineReasons = snap.decline_reasons || [];
  state.queues = snap.queues || [];
  state.colleagues = snap.colleagues || [];
  state.promises = snap.promises || {};
  state.offers = new Map(snap.offers.map((o) => [o.id, o]));
  state.cases = new Map(snap.cases.map((c) => [c.id, c]));
  renderAgent(); renderOffers(); renderCases();
  if (state.openCaseId && state.cases.has(state.openCaseId)) openCase(state.openCaseId);
  setConnection("live");
}

// A push the channel layer dropped: the heartbeat's list of pending offers
// differs from the page's, and a snapshot sets it right.
onHeartbeat((ack) => {
  const pending = ack.pending_offers || [];
  const shown = [...state.offers.keys()];
  if (pending.length === shown.length && pending.every((id) => state.offers.has(id))) return;
  send("snapshot").then((answer) => applySnapshot(answer.snapshot)).catch(() => {});
});

function caseUpdated(c) {
  const held = keepCase(c);
  renderCases();
  if (state.openCaseId !== c.id) return;
  if (held) renderCase(state.cases.get(c.id)); // with the messages it already has, if this update has none
  else if (!held) { state.openCaseId = null; $("case").replaceChildren(el("p", { class: "empty" }, `Case ${c.id} is ${c.status}.`)); }
}

function handle(msg) {
  switch (msg.type) {
    case "snapshot": applySnapshot(msg); break;
    case "offer.created": addOffer(msg.offer); break;
    case "offer.closed": state.offers.delete(msg.offer_id); renderOffers(); break;
    case "case.updated": caseUpdated(msg.case); break;
    case "message.added": addMessage(msg.case_id, msg.message); break;
    case "message.status": setDelivery(msg); break;
    case "customer.typing": customerTyping(msg.case_id); break;
    case "agent.updated": state.agent = msg.agent; renderAgent(); break;
  }
}

// Countdowns and SLA badges tick every second without a re-render.
setInterval(() => {
  document.querySelectorAll(".countdown").forEach((n) => { n.textContent = `${secondsLeft(n.dataset.expires)} s`; });
  document.querySelectorAll(".sla[data-due]").forEach((n) => {
    n.textContent = slaText(n.dataset.due);
    n.classList.toggle("breached", Date.parse(n.dataset.due) < Date.now());
  });
}, 1000);

if ("Notification" in window && Notification.permission === "default") {
  document.addEventListener("click", () => Notification.requestPermission(), { once: true });
}
onOpen(openCase);
onAccepted(openCase);
watchStatusPicker();
listenForKeys();
$("help-button").addEventListener("click", toggleHelp);
connect(handle);
