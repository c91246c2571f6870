// Keyboard shortcuts for the frequent actions, and their help (?).
import { $, el } from "./dom.js";
import { orderedCases } from "./cases.js";
import { openCase } from "./casepane.js";
import { focusReply } from "./composer.js";
import { accept, decline } from "./offers.js";
import { closePicker } from "./picker.js";
import { state } from "./state.js";

const click = (selector) => () => document.querySelector(selector)?.click();
const firstOffer = () => [...state.offers.keys()][0];

function step(delta) {
  const cases = orderedCases();
  if (!cases.length) return;
  const at = cases.findIndex((c) => c.id === state.openCaseId);
  const next = cases[(at + delta + cases.length) % cases.length];
  if (at === -1 && delta < 0) openCase(cases[cases.length - 1].id); else openCase(next.id);
}

const KEYS = [
  ["a", "Accept the first offer", () => { const id = firstOffer(); if (id) accept(id); }],
  ["d", "Decline the first offer (with a reason)", () => { const id = firstOffer(); if (id) decline(id); }],
  ["j", "Next case", () => step(1)],
  ["k", "Previous case", () => step(-1)],
  ["r", "Write a reply", focusReply],
  ["t", "Templates and snippets", click("#case .composer .templates")],
  ["n", "Write an internal note", () => { const box = $("note-mode"); if (box) { box.checked = true; box.dispatchEvent(new Event("change")); focusReply(); } }],
  ["w", "Wait on the customer", click("#case .case-tools .wait")],
  ["f", "Promise a follow-up", click("#case .case-tools .follow-up")],
  ["e", "Resolve the open case", () => {
    const button = document.querySelector("#case .case-tools .resolve");
    if (button && confirm(`Resolve case ${state.openCaseId}?`)) button.click();
  }],
  ["?", "Show or hide this help", toggleHelp],
];

function helpOverlay() {
  return el("div", { id: "help", class: "help-overlay", role: "dialog", "aria-label": "Keyboard shortcuts", "aria-modal": "true",
    onclick: (e) => { if (e.target.id === "help") toggleHelp(); } },
  el("div", { class: "help-card" }, el("h2", {}, "Keyboard shortcuts"),
    el("dl", {}, ...KEYS.flatMap(([key, what]) => [el("dt", {}, el("kbd", {}, key)), el("dd", {}, what)]),
      el("dt", {}, el("kbd", {}, "Ctrl"), "+", el("kbd", {}, "Enter")), el("dd", {}, "Send the reply (or note)"),
      el("dt", {}, el("kbd", {}, "/")), el("dd", {}, "In the reply: a template by its shortcut"),
      el("dt", {}, el("kbd", {}, "Esc")), el("dd", {}, "Close this help, the template picker, leave the reply box")),
    el("button", { type: "button", onclick: () => toggleHelp() }, "Close")));
}

export function toggleHelp() {
  const open = $("help");
  if (open) { open.remove(); return; }
  document.body.append(helpOverlay());
  $("help").querySelector("button").focus();
}

function typingIn(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

export function listenForKeys() {
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      if ($("help")) { toggleHelp(); return; }
      closePicker();
      if (typingIn(e.target)) e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target)) return;
    const entry = KEYS.find(([key]) => key === e.key);
    if (!entry) return;
    e.preventDefault();
    entry[2]();
  });
}
