// Accounts: the list, a new account, and an account's keys (mint with
// scopes, budget, rate limit and approval policy; the secret shown once;
// rotate; revoke).
import * as api from "../api.js";
import { parseUSDC } from "../usdc.js";
import { accountTabs, balances, busy, checkboxes, field, go, h, invalid, link, page, paginate, say, secretBox, showError, when } from "../ui.js";

const SCOPES = ["charges:write", "holds:write", "sessions:write", "sessions:read", "balance:read", "usage:read",
  "settlements:read", "x402:facilitate", "gateway:call", "approvals:read", "approvals:write", "*"];

export async function accountsPage() {
  const own = api.currentUser()?.address; // a SIWE user's wallet: the one an account may bind
  const form = h("form", { novalidate: true },
    field("Name", "name", { required: true, maxlength: "100" }),
    field("Environment", "environment", { tag: "select", options: ["test", "live"] }),
    own ? h("label", { class: "check" }, h("input", { type: "checkbox", name: "useWallet", value: own, "data-field": "walletAddress" }),
      ` Use my wallet ${own}`, h("span", { class: "field-error", "data-error-for": "walletAddress" })) : null,
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Create account" })));
  form.addEventListener("submit", busy(form, async (data) => {
    const body = { name: data.get("name"), environment: data.get("environment") };
    if (data.get("useWallet")) body.walletAddress = own;
    const account = await api.call("POST", "/v1/accounts", body);
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

function keyForm(accountId, onMinted) {
  const form = h("form", { novalidate: true },
    field("Label", "label", { required: true, maxlength: "100" }),
    field("Kind", "kind", { tag: "select", options: ["secret", "publishable"] }),
    field("Role", "role", { tag: "select", options: [["standard", "standard: spends as its scopes allow"],
      ["arbiter", "arbiter: decides approvals as the second role, spends nothing"]] }),
    checkboxes("Scopes", "scopes", SCOPES),
    field("Expires at (optional, your local time)", "expiresAt", { type: "datetime-local" }),
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
    const body = { label: data.get("label"), kind: data.get("kind"), role: data.get("role"), scopes: data.getAll("scopes") };
    if (data.get("expiresAt")) {
      const at = new Date(data.get("expiresAt"));
      if (Number.isNaN(at.getTime())) throw invalid("expiresAt", "a date and time");
      body.expiresAt = at.toISOString();
    }
    const usdc = (name) => {
      const text = data.get(name).trim();
      if (text === "") return undefined;
      const v = parseUSDC(text);
      if (v === null) throw invalid(name, "a USDC amount with at most 6 decimals");
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

// keyState says whether a key works: revoked, expired, expiring, or active.
function keyState(k) {
  if (k.revokedAt) return `revoked ${when(k.revokedAt)}`;
  if (k.expiresAt) return `${new Date(k.expiresAt) <= new Date() ? "expired" : "active, expires"} ${when(k.expiresAt)}`;
  return "active";
}

export async function accountPage(id) {
  const path = `/v1/accounts/${encodeURIComponent(id)}`;
  const [account, keys] = await Promise.all([api.call("GET", path), api.call("GET", `${path}/keys`)]);
  const secret = h("div");
  const reveal = async (key, message) => {
    say(message);
    await accountPage(id);
    document.getElementById("secret-slot").replaceChildren(secretBox(`Secret for ${key.label}`, key.key, "API key"));
    document.getElementById("secret")?.focus();
  };
  const keyRow = (k) => h("tr", {},
    h("td", { text: k.label }), h("td", { text: `${k.prefix}…${k.last4}` }), h("td", { text: k.role === "arbiter" ? `${k.kind}, arbiter` : k.kind }),
    h("td", { text: k.scopes.join(", ") }), h("td", { text: keyState(k) }),
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
    accountTabs(id, ""),
    balances(account.balance),
    h("div", { id: "secret-slot" }, secret),
    h("section", { "aria-labelledby": "keys-h" }, h("h2", { id: "keys-h", text: "Keys" }), table),
    h("section", { "aria-labelledby": "mint-h" }, h("h2", { id: "mint-h", text: "Mint a key" }),
      keyForm(id, (key) => reveal(key, `Key ${key.label} minted.`))),
    h("p", {}, link("/", "← All accounts")));
}
