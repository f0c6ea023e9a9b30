// The console's pages: sign-in, accounts, an account's keys. Everything is
// built with DOM calls (h), never innerHTML, so API text cannot become markup.
import * as api from "./api.js";
import { formatUSDC, parseUSDC } from "./usdc.js";

const BASE = "/console";
const PAGE_SIZE = 20;
const SCOPES = ["charges:write", "holds:write", "sessions:write", "sessions:read", "balance:read", "usage:read",
  "settlements:read", "x402:facilitate", "gateway:call", "approvals:read", "approvals:write", "*"];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const status = document.getElementById("status");

function h(tag, attrs = {}, ...children) {
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

function say(message, kind = "info") {
  status.textContent = message;
  status.className = `status ${kind}`;
}

// showError puts an API error in the status line, as the API worded it, and
// each field error beside its input (inputs carry data-field="<JSON name>").
function showError(err, form) {
  if (form) {
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }
  if (err instanceof api.ApiError) {
    say(`${err.message} (${err.code}${err.requestId ? `, request ${err.requestId}` : ""})`, "error");
    if (err.status === 401 && !api.signedIn()) return go("/");
    for (const [field, message] of Object.entries(err.fields)) {
      const input = form?.querySelector(`[data-field="${CSS.escape(field)}"]`);
      const slot = form?.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      if (slot) slot.textContent = message;
      else say(`${status.textContent} ${field}: ${message}`, "error");
      if (input) input.setAttribute("aria-invalid", "true");
    }
  } else {
    say(err?.message ?? String(err), "error");
  }
}

// field is a labelled input with a slot for its field error.
function field(label, name, attrs = {}) {
  const id = `f-${name.replaceAll(".", "-")}`;
  const errorId = `${id}-error`;
  const input = attrs.tag === "select"
    ? h("select", { id, name, "data-field": name, "aria-describedby": errorId }, attrs.options.map((o) => h("option", { value: o, text: o })))
    : h("input", { id, name, "data-field": name, "aria-describedby": errorId, ...attrs });
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input,
    h("span", { id: errorId, class: "field-error", "data-error-for": name }));
}

function busy(form, fn) {
  return async (event) => {
    event.preventDefault();
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

// paginate shows a list PAGE_SIZE at a time: the API answers an account's
// accounts and keys whole (bounded per user and per account), so the
// console pages them itself.
function paginate(items, render, label) {
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
  return h("div", {}, body, h("nav", { class: "pager", "aria-label": `${label} pages` }, prev, info, next));
}

function go(path) {
  history.pushState(null, "", BASE + path);
  return render();
}

function link(path, text) {
  return h("a", { href: BASE + path, onclick: (e) => { e.preventDefault(); go(path); }, text });
}

function page(title, ...content) {
  document.title = `${title} · Tollway console`;
  main.replaceChildren(h("h1", { text: title }), ...content);
  main.focus();
}

function drawNav() {
  const u = api.currentUser();
  nav.replaceChildren(...(api.signedIn()
    ? [link("/", "Accounts"), h("span", { class: "who", text: u?.email ?? u?.walletAddress ?? "" }),
      h("button", { type: "button", text: "Sign out", onclick: async () => {
        try { await api.logout(); } catch (err) { showError(err); }
        say("Signed out.");
        go("/");
      } })]
    : []));
}

function signInPage() {
  const form = h("form", { novalidate: true },
    field("Email", "email", { type: "email", autocomplete: "username", required: true }),
    field("Password", "password", { type: "password", autocomplete: "current-password", required: true, minlength: "8", maxlength: "72" }),
    h("div", { class: "actions" },
      h("button", { type: "submit", name: "action", value: "login", text: "Sign in" }),
      h("button", { type: "button", text: "Create account", onclick: () => signUp() })));
  const signIn = async (data) => {
    await api.login(data.get("email"), data.get("password"));
    say("Signed in.");
    go("/");
  };
  const signUp = busy(form, async (data) => {
    await api.signup(data.get("email"), data.get("password"));
    say("Account created; signed in.");
    go("/");
  });
  form.addEventListener("submit", busy(form, signIn));
  const wallet = h("section", { "aria-labelledby": "wallet-h" }, h("h2", { id: "wallet-h", text: "Sign in with a wallet" }));
  if (window.ethereum?.request) {
    wallet.append(h("button", { type: "button", text: "Sign in with Ethereum", onclick: async (e) => {
      e.target.disabled = true;
      try {
        await api.signInWithWallet(window.ethereum);
        say("Signed in with your wallet.");
        go("/");
      } catch (err) {
        showError(err.code === 4001 ? new Error("The wallet declined the request.") : err);
      } finally {
        e.target.disabled = false;
      }
    } }));
  } else {
    wallet.append(h("p", { text: "No browser wallet found (MetaMask, Coinbase Wallet or Rabby inject one)." }));
  }
  page("Sign in", h("section", { "aria-labelledby": "email-h" }, h("h2", { id: "email-h", text: "Email and password" }), form), wallet);
}

function balances(b) {
  return h("dl", { class: "balances" }, ["available", "reserved", "posted", "pending"].flatMap((k) =>
    [h("dt", { text: k[0].toUpperCase() + k.slice(1) }), h("dd", { text: `${formatUSDC(b[k])} USDC` })]));
}

async function accountsPage() {
  const form = h("form", { novalidate: true },
    field("Name", "name", { required: true, maxlength: "100" }),
    field("Environment", "environment", { tag: "select", options: ["test", "live"] }),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Create account" })));
  form.addEventListener("submit", busy(form, async (data) => {
    const account = await api.call("POST", "/v1/accounts", { name: data.get("name"), environment: data.get("environment") });
    say(`Account ${account.name} created.`);
    go(`/accounts/${account.id}`);
  }));
  const { data } = await api.call("GET", "/v1/accounts");
  const list = data.length === 0 ? h("p", { text: "No accounts yet." }) : paginate(data, (items) =>
    h("ul", { class: "cards" }, items.map((a) => h("li", {},
      h("h3", {}, link(`/accounts/${a.id}`, a.name)),
      h("p", { class: "meta", text: `${a.id} · ${a.environment}` }),
      balances(a.balance)))), "Accounts");
  page("Accounts", list, h("section", { "aria-labelledby": "new-account" }, h("h2", { id: "new-account", text: "New account" }), form));
}

// secretBox shows a key's plaintext once, with a copy button and a warning.
function secretBox(key) {
  const output = h("input", { id: "secret", readonly: true, value: key.key, class: "secret" });
  return h("section", { class: "secret-box", role: "alert" },
    h("h2", { text: `Secret for ${key.label}` }),
    h("p", { class: "warning", text: "Copy it now: it is shown only this once. Tollway keeps only a hash and cannot show it again." }),
    h("label", { for: "secret", text: "API key" }), output,
    h("button", { type: "button", text: "Copy", onclick: async () => {
      try {
        await navigator.clipboard.writeText(key.key);
        say("Copied to the clipboard.");
      } catch {
        output.select();
        say("Copying was refused: the key is selected, copy it by hand.", "error");
      }
    } }));
}

function keyForm(accountId, onMinted) {
  const scopes = h("fieldset", { class: "scopes", "data-field": "scopes", "aria-describedby": "f-scopes-error" }, h("legend", { text: "Scopes" }),
    SCOPES.map((s) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "scopes", value: s }), ` ${s}`)),
    h("span", { id: "f-scopes-error", class: "field-error", "data-error-for": "scopes" }));
  const form = h("form", { novalidate: true },
    field("Label", "label", { required: true, maxlength: "100" }),
    field("Kind", "kind", { tag: "select", options: ["secret", "publishable"] }),
    scopes,
    h("fieldset", {}, h("legend", { text: "Budget (USDC, optional)" }),
      field("Largest charge", "budget.maxPerCharge", { inputmode: "decimal" }),
      field("Per UTC day", "budget.maxPerDay", { inputmode: "decimal" }),
      field("In total", "budget.maxTotal", { inputmode: "decimal" })),
    h("fieldset", {}, h("legend", { text: "Rate limit (optional)" }),
      field("Requests", "rateLimit.requests", { type: "number", min: "1", inputmode: "numeric" }),
      field("Per seconds", "rateLimit.perSeconds", { type: "number", min: "1", inputmode: "numeric" })),
    h("fieldset", {}, h("legend", { text: "Approval policy (optional)" }),
      field("Spends above (USDC) wait for approval", "approval.above", { inputmode: "decimal" }),
      field("Approvers", "approval.approvers", { tag: "select", options: ["owner", "owner,arbiter"] }),
      field("Approval expires after (seconds)", "approval.expiresInSeconds", { type: "number", min: "60", value: "3600", inputmode: "numeric" })),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Mint key" })));
  form.addEventListener("submit", busy(form, async (data) => {
    const body = { label: data.get("label"), kind: data.get("kind"), scopes: data.getAll("scopes") };
    const usdc = (name) => {
      const text = data.get(name).trim();
      if (text === "") return undefined;
      const v = parseUSDC(text);
      if (v === null) throw new api.ApiError(400, { error: { type: "invalid_request_error", code: "validation_failed",
        message: "An amount is not valid.", fields: { [name]: "a USDC amount with at most 6 decimals" } } });
      return v;
    };
    const budget = { maxPerCharge: usdc("budget.maxPerCharge"), maxPerDay: usdc("budget.maxPerDay"), maxTotal: usdc("budget.maxTotal") };
    if (Object.values(budget).some((v) => v !== undefined)) body.budget = budget;
    if (data.get("rateLimit.requests") || data.get("rateLimit.perSeconds")) {
      body.rateLimit = { requests: Number(data.get("rateLimit.requests")), perSeconds: Number(data.get("rateLimit.perSeconds")) };
    }
    const above = usdc("approval.above");
    if (above !== undefined) {
      body.approval = { above, approvers: data.get("approval.approvers").split(","), expiresInSeconds: Number(data.get("approval.expiresInSeconds")) };
    }
    const key = await api.call("POST", `/v1/accounts/${encodeURIComponent(accountId)}/keys`, body);
    form.reset();
    onMinted(key);
  }));
  return form;
}

async function accountPage(id) {
  const path = `/v1/accounts/${encodeURIComponent(id)}`;
  const [account, keys] = await Promise.all([api.call("GET", path), api.call("GET", `${path}/keys`)]);
  const secret = h("div");
  const reveal = async (key, message) => {
    say(message);
    await accountPage(id);
    document.getElementById("secret-slot").replaceChildren(secretBox(key));
    document.getElementById("secret")?.focus();
  };
  const keyRow = (k) => h("tr", {},
    h("td", { text: k.label }), h("td", { text: `${k.prefix}…${k.last4}` }), h("td", { text: k.kind }),
    h("td", { text: k.scopes.join(", ") }), h("td", { text: k.revokedAt ? `revoked ${k.revokedAt}` : "active" }),
    h("td", {}, k.revokedAt ? "" : [
      h("button", { type: "button", text: "Rotate", "aria-label": `Rotate ${k.label}`, onclick: async () => {
        if (!confirm(`Rotate ${k.label}? The current secret stops working now.`)) return;
        try { await reveal(await api.call("POST", `/v1/keys/${encodeURIComponent(k.id)}/rotate`), `${k.label} rotated.`); } catch (err) { showError(err); }
      } }),
      h("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke ${k.label}`, onclick: async () => {
        if (!confirm(`Revoke ${k.label}? This cannot be undone.`)) return;
        try { await api.call("DELETE", `/v1/keys/${encodeURIComponent(k.id)}`); say(`${k.label} revoked.`); await accountPage(id); } catch (err) { showError(err); }
      } })]));
  const table = keys.data.length === 0 ? h("p", { text: "No keys yet." }) : paginate(keys.data, (items) =>
    h("div", { class: "scroll" }, h("table", {}, h("caption", { text: "API keys" }),
      h("thead", {}, h("tr", {}, ["Label", "Key", "Kind", "Scopes", "State", "Actions"].map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, items.map(keyRow)))), "Keys");
  page(account.name,
    h("p", { class: "meta", text: `${account.id} · ${account.environment} · ${account.asset}` }),
    balances(account.balance),
    h("div", { id: "secret-slot" }, secret),
    h("section", { "aria-labelledby": "keys-h" }, h("h2", { id: "keys-h", text: "Keys" }), table),
    h("section", { "aria-labelledby": "mint-h" }, h("h2", { id: "mint-h", text: "Mint a key" }),
      keyForm(id, (key) => reveal(key, `Key ${key.label} minted.`))),
    h("p", {}, link("/", "← All accounts")));
}

async function render() {
  drawNav();
  const route = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) || "/" : "/";
  try {
    if (!api.signedIn()) return signInPage();
    const m = /^\/accounts\/([^/]+)$/.exec(route);
    if (m) return await accountPage(decodeURIComponent(m[1]));
    return await accountsPage();
  } catch (err) {
    showError(err);
  }
}

window.addEventListener("popstate", render);
(async () => {
  try {
    await api.refresh();
  } catch (err) {
    showError(err);
  }
  render();
})();
