// The console's building blocks, shared by every page: DOM construction (h,
// never innerHTML, so API text cannot become markup), the status line, API
// errors beside their fields, forms, lists a page at a time, and routing.
import * as api from "./api.js";
import { formatUSDC } from "./usdc.js";

export const BASE = "/console";
export const PAGE_SIZE = 20;

const main = document.getElementById("main");
const status = document.getElementById("status");

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function say(message, kind = "info") {
  status.textContent = message;
  status.className = `status ${kind}`;
}

// STATUS_WORDS open the status line of the API errors people can act on.
const STATUS_WORDS = {
  400: "Not valid", 401: "Not signed in", 402: "Payment required", 403: "Not allowed", 404: "Not found",
  409: "Conflict", 429: "Too many requests", 500: "Server error", 503: "Unavailable",
};

// showError puts an API error in the status line, as the API worded it, and
// each field error beside its input (inputs carry data-field="<JSON name>").
export function showError(err, form) {
  if (form) {
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }
  if (err instanceof api.ApiError) {
    say(`${STATUS_WORDS[err.status] ?? `Error ${err.status}`}: ${err.message} (${err.code}${err.requestId ? `, request ${err.requestId}` : ""})` +
      (err.status === 429 ? ` Retry after ${err.retryAfter || "a few"} seconds.` : ""), "error");
    if (err.status === 401 && !api.signedIn()) return go("/");
    for (const [field, message] of Object.entries(err.fields)) {
      const input = form?.querySelector(`[data-field="${CSS.escape(field)}"]`);
      const slot = form?.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      if (slot) slot.textContent = message;
      else say(`${status.textContent} ${field}: ${message}`, "error");
      if (input) input.setAttribute("aria-invalid", "true");
    }
  } else if (err?.code === 4001) {
    say("The wallet declined the request.", "error");
  } else {
    say(err?.message ?? String(err), "error");
  }
}

// invalid is the error a form raises for a field it checks itself, shown
// as the API's own field errors are.
export function invalid(field, message) {
  return new api.ApiError(400, { error: { type: "invalid_request_error", code: "validation_failed",
    message: "A field is not valid.", fields: { [field]: message } } });
}

// field is a labelled input with a slot for its field error.
export function field(label, name, attrs = {}) {
  const id = `f-${name.replaceAll(".", "-")}`;
  const errorId = `${id}-error`;
  // A select's options are values, or [value, text] pairs.
  const option = (o) => Array.isArray(o) ? h("option", { value: o[0], text: o[1] }) : h("option", { value: o, text: o });
  const input = attrs.tag === "select"
    ? h("select", { id, name, "data-field": name, "aria-describedby": errorId }, attrs.options.map(option))
    : h("input", { id, name, "data-field": name, "aria-describedby": errorId, ...attrs });
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input,
    h("span", { id: errorId, class: "field-error", "data-error-for": name }));
}

// checkboxes is a fieldset of one checkbox per value, all named name, with
// the error slot of the field name (an array in the API's JSON).
export function checkboxes(legend, name, values) {
  const errorId = `f-${name.replaceAll(".", "-")}-error`;
  return h("fieldset", { class: "checks", "data-field": name, "aria-describedby": errorId }, h("legend", { text: legend }),
    values.map((v) => h("label", { class: "check" }, h("input", { type: "checkbox", name, value: v }), ` ${v}`)),
    h("span", { id: errorId, class: "field-error", "data-error-for": name }));
}

// busy makes a form's submit handler: the button disabled while fn runs,
// its error shown on the form.
export function busy(form, fn) {
  return async (event) => {
    event?.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await fn(new FormData(form));
    } catch (err) {
      showError(err, form);
    } finally {
      if (button) button.disabled = false;
    }
  };
}

// action makes a button's click handler: disabled while fn runs, its
// error in the status line.
export function action(fn) {
  return async (event) => {
    const button = event?.currentTarget;
    if (button) button.disabled = true;
    try {
      await fn();
    } catch (err) {
      showError(err);
    } finally {
      if (button?.isConnected) button.disabled = false;
    }
  };
}

function pager(label, prev, info, next) {
  return h("nav", { class: "pager", "aria-label": `${label} pages` }, prev, info, next);
}

// paginate shows a list the API answers whole (bounded per user or per
// account: accounts, keys) PAGE_SIZE at a time.
export function paginate(items, render, label) {
  let page = 0;
  const body = h("div");
  const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
  const info = h("span", { "aria-live": "polite" });
  const prev = h("button", { type: "button", onclick: () => { page--; draw(); }, text: "Previous" });
  const next = h("button", { type: "button", onclick: () => { page++; draw(); }, text: "Next" });
  function draw() {
    body.replaceChildren(render(items.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)));
    info.textContent = `Page ${page + 1} of ${pages}`;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  draw();
  return h("div", {}, body, pager(label, prev, info, next));
}

// keepView runs redraw, which replaces container's content, and keeps what
// the user had there: the focus (on the element in the same place) and how
// far each table was scrolled sideways. A live list redraws every few
// seconds; without this a keyboard user's focus and a phone's scrolled
// table would jump back each time.
function keepView(container, redraw) {
  const place = [];
  for (let el = document.activeElement; el && el !== container && container.contains(el); el = el.parentElement) {
    place.unshift(Array.prototype.indexOf.call(el.parentElement.children, el));
  }
  const scrolled = Array.from(container.querySelectorAll(".scroll"), (el) => el.scrollLeft);
  redraw();
  container.querySelectorAll(".scroll").forEach((el, i) => {
    if (scrolled[i]) el.scrollLeft = scrolled[i];
  });
  if (place.length === 0) return;
  let target = container;
  for (const i of place) target = target?.children[i];
  target?.focus({ preventScroll: true });
}

// serverPages shows a list the API pages itself. load(cursor) answers
// {items, next}: next is the cursor of the following page, null on the
// last. The cursors of the pages seen are kept, so Previous goes back
// without the API paging backwards. refresh() reloads the page shown (for
// live lists); the returned element carries it.
export function serverPages(load, render, label, empty = "Nothing yet.") {
  const cursors = [null];
  let next = null;
  let drawn = 0;
  const body = h("div");
  const info = h("span", { "aria-live": "polite" });
  const prev = h("button", { type: "button", text: "Previous", onclick: () => { cursors.pop(); draw(); } });
  const more = h("button", { type: "button", text: "Next", onclick: () => { cursors.push(next); draw(); } });
  async function draw() {
    // Only the latest draw shows: a live refresh answered after the user
    // went to another page must not put back the page it read.
    const generation = ++drawn;
    try {
      const page = await load(cursors.at(-1));
      if (generation !== drawn) return;
      next = page.next ?? null;
      // A filtered page may come back empty with more after it: only an
      // empty first page with nothing after is an empty list.
      keepView(body, () => body.replaceChildren(page.items.length === 0 && cursors.length === 1 && next === null
        ? h("p", { text: empty }) : render(page.items)));
      // Set only when it changes: a live refresh must not make a screen
      // reader announce the page again every few seconds.
      if (info.textContent !== `Page ${cursors.length}`) info.textContent = `Page ${cursors.length}`;
      prev.disabled = cursors.length === 1;
      more.disabled = next === null;
    } catch (err) {
      if (generation !== drawn) return;
      // The page shown stays; no Next into a page that did not load.
      more.disabled = true;
      prev.disabled = cursors.length === 1;
      showError(err);
    }
  }
  const el = h("div", {}, body, pager(label, prev, info, more));
  el.refresh = draw;
  el.ready = draw();
  return el;
}

// apiPages is serverPages' load for an API list answering {data, hasMore,
// nextStartingAfter}: path with query (empty values left out), PAGE_SIZE
// at a time.
export function apiPages(path, query = {}) {
  return async (cursor) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v) params.set(k, v);
    params.set("limit", String(PAGE_SIZE));
    if (cursor) params.set("startingAfter", cursor);
    const page = await api.call("GET", `${path}?${params}`);
    return { items: page.data, next: page.hasMore ? page.nextStartingAfter : null };
  };
}

// table is a captioned table in a scroll wrapper (narrow screens scroll it
// sideways; it takes focus so the keyboard can scroll it too). rows are
// arrays of cells: text, or an element.
export function table(caption, columns, rows) {
  return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": `${caption} table` },
    h("table", {}, h("caption", { text: caption }),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) =>
        c instanceof Node ? h("td", {}, c) : h("td", { text: c ?? "—" })))))));
}

// copyButton copies value to the clipboard; when the browser refuses, it
// selects source (an input holding value) for copying by hand. name tells
// apart the copy buttons of one page (a secret box has one, named "Copy").
export function copyButton(value, what, source, name) {
  return h("button", { type: "button", class: "copy", text: "Copy", "aria-label": name, onclick: async () => {
    try {
      await navigator.clipboard.writeText(value);
      say(`Copied the ${what} to the clipboard.`);
    } catch {
      source?.select();
      say(`Copying was refused${source ? `: the ${what} is selected, copy it by hand` : ""}.`, "error");
    }
  } });
}

// mono is a value people compare or copy character by character (hashes,
// addresses), in full, in a monospace font, with a copy button.
export function mono(value, what) {
  if (!value) return h("span", { text: "—" });
  return h("span", { class: "mono-copy" }, h("code", { class: "mono", text: value }), copyButton(value, what, null, `Copy ${what} ${value}`));
}

// secretBox shows a secret once (an API key, a webhook's signing secret, a
// route's secret), with a copy button and a warning. Its input is
// labelled label, so a page or a test finds it by that name.
export function secretBox(title, value, label = "Secret") {
  const output = h("input", { id: "secret", readonly: true, value, class: "secret" });
  return h("section", { class: "secret-box", role: "alert" },
    h("h2", { text: title }),
    h("p", { class: "warning", text: "Copy it now: it is shown only this once. Tollway cannot show it again." }),
    h("label", { for: "secret", text: label }), output, copyButton(value, label, output));
}

// Routing: pages register [pattern, render(match)] pairs; go and link
// change the URL under BASE without reloading.
let routes = [];
let fallback = () => {};
let drawNav = () => {};
let stopLive = [];

export function setRoutes(table, otherwise, nav) {
  routes = table;
  fallback = otherwise;
  drawNav = nav;
}

export function go(path) {
  history.pushState(null, "", BASE + path);
  return render();
}

export function link(path, text, attrs = {}) {
  return h("a", { href: BASE + path, onclick: (e) => { e.preventDefault(); go(path); }, text, ...attrs });
}

// live calls fn every intervalMs while its page is shown: a page's timers
// stop when another page renders. A call still running (fn may be async)
// is not overlapped: a slow answer is not overtaken by the next.
export function live(fn, intervalMs) {
  let running = false;
  const timer = setInterval(async () => {
    if (running || document.visibilityState !== "visible") return;
    running = true;
    try {
      await fn();
    } finally {
      running = false;
    }
  }, intervalMs);
  stopLive.push(() => clearInterval(timer));
}

export function page(title, ...content) {
  document.title = `${title} · Tollway console`;
  main.replaceChildren(h("h1", { text: title }), ...content);
  main.focus();
}

export async function render() {
  for (const stop of stopLive.splice(0)) stop();
  drawNav();
  const route = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) || "/" : "/";
  try {
    if (!api.signedIn()) return await fallback();
    for (const [pattern, draw] of routes) {
      const m = pattern.exec(route);
      if (m) return await draw(...m.slice(1).map(decodeURIComponent));
    }
    return await routes[0][1]();
  } catch (err) {
    showError(err);
  }
}

export function balances(b) {
  return h("dl", { class: "balances" }, ["available", "reserved", "posted", "pending"].flatMap((k) =>
    [h("dt", { text: k[0].toUpperCase() + k.slice(1) }), h("dd", { text: `${formatUSDC(b[k])} USDC` })]));
}

// ACCOUNT_TABS are an account's pages, under /accounts/{id}.
export const ACCOUNT_TABS = [["", "Keys"], ["/top-up", "Top up"], ["/usage", "Usage"], ["/activity", "Sessions and holds"],
  ["/settlements", "Settlements"]];

// accountTabs is the navigation between an account's pages; current is the
// suffix of the page shown.
export function accountTabs(id, current) {
  const base = `/accounts/${encodeURIComponent(id)}`;
  return h("nav", { class: "tabs", "aria-label": "Account" }, ACCOUNT_TABS.map(([suffix, text]) =>
    link(base + suffix, text, suffix === current ? { "aria-current": "page" } : {})));
}

// when formats an API time (RFC 3339) for people, or "—" when absent.
export function when(t) {
  return t ? new Date(t).toLocaleString() : "—";
}
