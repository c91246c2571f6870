// The reply composer, fitted to the case's channel: email (to, subject,
// quoted thread), chat (typing shown both ways), SMS (length and parts),
// WhatsApp/Messenger (the 24-hour window; a template outside it). A note
// mode writes an internal note instead.
import { $, api, el, toast } from "./dom.js";
import { send } from "./live.js";
import { smsInfo } from "./sms.js";
import { openPicker } from "./picker.js";

const TYPING_EVERY_MS = 3000;

export function windowClosed(c) {
  return Boolean(c.window_closes_at) && Date.parse(c.window_closes_at) < Date.now();
}

function lastInbound(c) {
  return [...(c.messages || [])].reverse().find((m) => m.direction === "in" && m.text);
}

function quoted(c) {
  const m = lastInbound(c);
  if (!m) return "";
  const when = new Date(m.created_at).toLocaleString();
  return `\n\nOn ${when}, ${c.customer} wrote:\n${m.text.split("\n").map((line) => `> ${line}`).join("\n")}`;
}

function emailFields(c, addresses) {
  const quote = el("input", { type: "checkbox", id: "quote-thread", checked: true });
  return {
    node: el("div", { class: "email-fields" },
      el("p", { class: "meta" }, el("b", {}, "To: "), el("span", { id: "email-to" }, addresses.join(", ") || c.customer)),
      el("p", { class: "meta" }, el("b", {}, "Subject: "), c.subject ? (/^re:/i.test(c.subject) ? c.subject : `Re: ${c.subject}`) : "(no subject)"),
      el("label", { class: "meta" }, quote, " Quote the customer's last message")),
    finish: (text) => (quote.checked ? text + quoted(c) : text),
  };
}

function templateForm(c) {
  // Outside the window WhatsApp takes only an approved template.
  const name = el("input", { "aria-label": "Template name", placeholder: "template_name", required: true });
  const language = el("input", { "aria-label": "Template language", placeholder: "en_US", value: "en_US", required: true, size: 6 });
  const params = el("input", { "aria-label": "Template parameters", placeholder: "parameters, separated by |" });
  return el("form", { class: "wa-template", onsubmit: async (e) => {
    e.preventDefault();
    const parameters = params.value.split("|").map((p) => p.trim()).filter(Boolean);
    try { await api("POST", `/api/v1/cases/${c.id}/template/`, { name: name.value, language: language.value, parameters }); params.value = ""; }
    catch (err) { /* toast shown */ }
  } }, name, language, params, el("button", { type: "submit" }, "Send template"));
}

export function composer(c, { draft, addresses, onNote }) {
  const closed = windowClosed(c);
  const text = el("textarea", { id: "reply-text", rows: 3, "aria-label": "Reply", "data-case-id": c.id,
    placeholder: closed ? "Window closed: send a template." : `Reply on ${c.channel_kind}… (/ for templates)` });
  text.value = draft || "";
  text.disabled = closed;
  const noteMode = el("input", { type: "checkbox", id: "note-mode" });
  const counter = el("span", { id: "sms-count", class: "meta", "aria-live": "polite" });
  const email = c.channel_kind === "email" ? emailFields(c, addresses) : null;
  let lastTyping = 0;

  function refresh() {
    const note = noteMode.checked;
    text.disabled = closed && !note;
    text.classList.toggle("note", note);
    form.querySelector("button[type=submit]").textContent = note ? "Add note" : "Send";
    if (c.channel_kind === "sms" && !note) {
      const info = smsInfo(text.value);
      counter.textContent = `${info.units} characters · ${info.segments} SMS (${info.encoding})`;
    } else counter.textContent = "";
  }

  const form = el("form", { class: "composer", onsubmit: async (e) => {
    e.preventDefault();
    const body = text.value.trim();
    if (!body) return;
    try {
      if (noteMode.checked) { onNote(await api("POST", `/api/v1/cases/${c.id}/note/`, { text: body })); noteMode.checked = false; }
      else await send("case.reply", { case_id: c.id, text: email ? email.finish(body) : body });
      text.value = "";
      refresh();
    } catch (err) { /* toast shown */ }
  } },
  email ? email.node : null,
  text,
  el("div", { class: "actions" },
    el("button", { type: "submit", class: "primary", title: "Ctrl+Enter" }, "Send"),
    el("button", { type: "button", class: "templates", title: "Templates and snippets (t)",
      onclick: () => openPicker(c, insertText) }, "Templates"),
    el("label", { class: "meta note-toggle" }, noteMode, " Internal note"),
    counter));

  function insertText(value) {
    const start = text.selectionStart ?? text.value.length;
    const end = text.selectionEnd ?? start;
    // A "/shortcut" typed just before the cursor is replaced by the template.
    const before = text.value.slice(0, start).replace(/(^|\s)\/[\w-]*$/, "$1");
    text.value = before + value + text.value.slice(end);
    text.focus();
    text.selectionStart = text.selectionEnd = before.length + value.length;
    refresh();
  }

  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
    // From a "/shortcut" to its matches in the open picker.
    const match = document.querySelector("#picker .picker-item");
    if (match && (e.key === "ArrowDown" || e.key === "Tab") && !e.shiftKey) { e.preventDefault(); match.focus(); }
  });
  text.addEventListener("input", () => {
    refresh();
    const shortcut = text.value.slice(0, text.selectionStart).match(/(?:^|\s)\/([\w-]*)$/);
    if (shortcut) openPicker(c, insertText, shortcut[1]);
    if (c.channel_kind === "web_chat" && !noteMode.checked && Date.now() - lastTyping > TYPING_EVERY_MS) {
      lastTyping = Date.now();
      api("POST", `/api/v1/cases/${c.id}/typing/`).catch(() => {});
    }
  });
  noteMode.addEventListener("change", refresh);
  form.insertText = insertText;
  refresh();
  return el("div", { class: "composer-wrap" }, closed && c.channel_kind === "whatsapp" ? templateForm(c) : null, form);
}

export function focusReply() {
  const text = $("reply-text");
  if (text && !text.disabled) text.focus();
  else toast("No reply box here");
}
