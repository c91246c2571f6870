// Offers: who, channel, first words, queue, SLA left, a countdown; accept, or
// decline with one of the configured reasons.
import { $, el } from "./dom.js";
import { send } from "./live.js";
import { slaBadge, renderLoad } from "./status.js";
import { state } from "./state.js";

let opened = () => {};
export function onAccepted(fn) { opened = fn; }

export function secondsLeft(expiresAt) {
  return Math.max(0, Math.round((Date.parse(expiresAt) - Date.now()) / 1000));
}

export function addOffer(offer) {
  state.offers.set(offer.id, offer);
  renderOffers();
  notify(offer);
}

export function renderOffers() {
  const list = $("offers");
  renderLoad();
  if (!state.offers.size) { list.replaceChildren(el("li", { class: "empty" }, "No offers right now.")); return; }
  list.replaceChildren(...[...state.offers.values()].map((offer) => el("li", { class: "offer", "data-offer-id": offer.id },
    el("div", { class: "offer-head" },
      el("span", { class: `kind kind-${offer.channel_kind}` }, offer.channel_kind),
      el("strong", { title: offer.customer }, offer.customer), offer.vip ? el("span", { class: "vip" }, "VIP") : null,
      el("span", { class: "countdown", "data-expires": offer.expires_at }, `${secondsLeft(offer.expires_at)} s`)),
    offer.preview || offer.subject
      ? el("p", { class: "preview" }, offer.preview || offer.subject)
      : el("p", { class: "preview none" }, "No text preview (formatted message)."),
    el("p", { class: "meta" }, offer.queue ? `Queue: ${offer.queue}` : "No queue", " ", slaBadge(offer.sla_due_at)),
    el("div", { class: "actions" },
      el("button", { class: "primary accept", onclick: () => accept(offer.id), title: "Accept (a)" }, "Accept"),
      el("button", { class: "decline", onclick: () => decline(offer.id), title: "Decline (d)" }, "Decline")))));
}

export async function accept(offerId) {
  try {
    const ack = await send("offer.accept", { offer_id: offerId });
    state.offers.delete(offerId); renderOffers();
    opened(ack.case_id);
  } catch (e) { state.offers.delete(offerId); renderOffers(); }
}

export async function decline(offerId) {
  if (state.declineReasons.length) { chooseReason(offerId); return; }
  const reason = prompt("Why decline? (optional)");
  if (reason === null) return;
  await sendDecline(offerId, reason);
}

async function sendDecline(offerId, reason) {
  try { await send("offer.decline", { offer_id: offerId, reason }); } catch (e) { /* toast shown */ }
  state.offers.delete(offerId); renderOffers();
}

// The admin configured the reasons: the agent picks one of them.
function chooseReason(offerId) {
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

// The tab is in the background: a desktop notification if allowed, and a
// short tone either way.
function notify(offer) {
  if (!document.hidden) return;
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification(`New ${offer.channel_kind} case`, { body: `${offer.customer}: ${offer.preview || offer.subject || ""}` });
  }
  chime();
}

let audio = null;
function chime() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
  } catch (e) { /* no audio here */ }
}
