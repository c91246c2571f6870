// Response templates and knowledge snippets: the same library on every
// channel. Picking one renders it for the case (the customer's first name
// and so on) and puts the text in the composer.
import { $, api, el, toast } from "./dom.js";

let current = null;

export function closePicker() {
  if (current) { current.remove(); current = null; }
}

export function openPicker(c, insert, query = null) {
  if (current && current.dataset.caseId === String(c.id)) {
    const search = current.querySelector("input[type=search]");
    if (query !== null && search.value !== query) { search.value = query; search.dispatchEvent(new Event("input")); }
    return;
  }
  closePicker();
  const search = el("input", { type: "search", "aria-label": "Search templates", placeholder: "Search templates and snippets", value: query || "" });
  const kind = el("select", { "aria-label": "Template kind" },
    el("option", { value: "" }, "All"), el("option", { value: "template" }, "Templates"), el("option", { value: "snippet" }, "Snippets"));
  const list = el("ul", { class: "picker-list", role: "listbox", "aria-label": "Templates" });
  let seq = 0;

  async function load() {
    const mine = ++seq;
    const params = new URLSearchParams({ channel_kind: c.channel_kind, q: search.value });
    if (kind.value) params.set("kind", kind.value);
    let items;
    try { items = await api("GET", `/api/v1/templates/?${params}`); } catch (e) { return; }
    if (mine !== seq) return;
    items = Array.isArray(items) ? items : items.results || [];
    list.replaceChildren(...(items.length ? items.map((t) => el("li", { role: "option", tabindex: 0, class: "picker-item", "data-template-id": t.id,
      onclick: () => pick(t), onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); pick(t); } } },
    el("strong", {}, t.name), t.shortcut ? el("span", { class: "kind" }, `/${t.shortcut}`) : null, " ",
    el("span", { class: "meta" }, t.kind), el("p", { class: "meta snippet" }, (t.body || "").slice(0, 120)))) : [el("li", { class: "empty" }, "Nothing matches.")]));
  }

  async function pick(t) {
    try {
      const rendered = await api("POST", `/api/v1/templates/${t.id}/render/`, { case: c.id });
      if (rendered.missing && rendered.missing.length) toast(`Fill in: ${rendered.missing.join(", ")}`);
      closePicker();
      insert(rendered.text);
    } catch (e) { /* toast shown */ }
  }

  search.addEventListener("input", load);
  kind.addEventListener("change", load);
  search.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { closePicker(); $("reply-text")?.focus(); }
    if (e.key === "Enter" || e.key === "ArrowDown") { e.preventDefault(); list.querySelector(".picker-item")?.focus(); }
  });
  current = el("div", { class: "picker", id: "picker", role: "dialog", "aria-label": "Templates and snippets", "data-case-id": c.id },
    el("div", { class: "picker-head" }, search, kind, el("button", { type: "button", onclick: closePicker, "aria-label": "Close templates" }, "×")),
    list);
  // Above the composer, so the reply being typed stays in view.
  (document.querySelector("#case .composer-wrap") || $("case")).append(current);
  if (query === null) search.focus();
  load();
}
