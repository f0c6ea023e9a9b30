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
  const input = attrs.tag === "select"
    ? h("select", { id, name, "data-field": name, "aria-describedby": errorId }, attrs.options.map((o) => h("option", { value: o, text: o })))
    : h("input", { id, name, "data-field": name, "aria-describedby": errorId, ...attrs });
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input,
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

// serverPages shows a list the API pages itself. load(cursor) answers
// {items, next}: next is the cursor of the following page, null on the
// last. The cursors of the pages seen are kept, so Previous goes back
// without the API paging backwards. refresh() reloads the page shown (for
// live lists); the returned element carries it.
export function serverPages(load, render, label, empty = "Nothing yet.") {
  const cursors = [null];
  let next = null;
  const body = h("div");
  const info = h("span", { "aria-live": "polite" });
  const prev = h("button", { type: "button", text: "Previous", onclick: () => { cursors.pop(); draw(); } });
  const more = h("button", { type: "button", text: "Next", onclick: () => { cursors.push(next); draw(); } });
  async function draw() {
    try {
      const page = await load(cursors.at(-1));
      next = page.next ?? null;
      body.replaceChildren(page.items.length === 0 && cursors.length === 1 ? h("p", { text: empty }) : render(page.items));
      info.textContent = `Page ${cursors.length}`;
      prev.disabled = cursors.length === 1;
      more.disabled = next === null;
    } catch (err) {
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
// stop when another page renders.
export function live(fn, intervalMs) {
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") fn();
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
