// Approvals: agent spends above a key's approval threshold, waiting for the
// owner. A user who signs in with a wallet decides with its signature of
// "Tollway approval <id>: approve|reject" (what the API checks); others
// with their session.
import * as api from "../api.js";
import { formatUSDC } from "../usdc.js";
import { action, apiPages, h, page, say, serverPages, when } from "../ui.js";
import * as wallet from "../wallet.js";

const STATES = ["PENDING", "APPROVED", "EXECUTED", "REJECTED", "EXPIRED", "FAILED", "all"];

// decide approves or rejects approval id, by the user's wallet when the
// user has one, and answers the approval as the API returns it.
export async function decide(id, decision, reason) {
  const path = `/v1/approvals/${encodeURIComponent(id)}/${decision}`;
  const body = reason ? { reason } : {};
  const own = api.currentUser()?.address;
  if (!own) return api.call("POST", path, body);
  const address = await wallet.connect();
  if (!wallet.sameAddress(address, own)) {
    throw new Error(`The wallet shares ${address}, but you signed in with ${own}: switch the wallet to ${own} to decide.`);
  }
  say(`Sign the decision in your wallet…`);
  const signature = await wallet.personalSign(address, `Tollway approval ${id}: ${decision}`);
  return api.callSigned("POST", path, body, { "X-Ethereum-Address": address, "X-Ethereum-Signature": signature });
}

const reasons = (a) => (a.decisions ?? []).filter((d) => d.reason).map((d) => `${d.role}: ${d.reason}`).join("; ") || "—";

export async function approvalsPage(state = "PENDING") {
  const filter = h("select", { id: "approval-state", onchange: (e) => approvalsPage(e.target.value) },
    STATES.map((s) => h("option", { value: s, text: s === "all" ? "All states" : s, selected: s === state })));
  const reason = h("input", { id: "decision-reason", maxlength: "500" });
  const result = h("p", { id: "decision-result", "aria-live": "polite" });
  let list;
  const row = (a) => h("tr", {},
    h("td", { text: a.id }), h("td", { text: a.kind }), h("td", { class: "num", text: `${formatUSDC(a.amount)} USDC` }),
    h("td", { text: a.to }), h("td", { text: a.keyId }), h("td", { text: reasons(a) }),
    h("td", { text: when(a.expiresAt) }), h("td", { text: a.state }),
    h("td", {}, a.state !== "PENDING" ? "" : ["approve", "reject"].map((decision) =>
      h("button", { type: "button", class: decision === "reject" ? "danger" : undefined, text: decision === "approve" ? "Approve" : "Reject",
        "aria-label": `${decision === "approve" ? "Approve" : "Reject"} ${a.id}`, onclick: action(async () => {
          const decided = await decide(a.id, decision, reason.value.trim());
          result.textContent = `${decided.id} is ${decided.state}` + (decided.transferId ? ` (${decided.kind} ${decided.transferId}).` : ".");
          say(`Approval ${decided.id} is ${decided.state}.`);
          await list.refresh();
        }) }))));
  list = serverPages(apiPages("/v1/approvals", { state: state === "all" ? "" : state }), (items) => h("div", { class: "scroll" }, h("table", { class: "approvals" }, h("caption", { text: "Approvals" }),
    h("thead", {}, h("tr", {}, ["Approval", "Kind", "Amount", "Payee", "Key", "Reasons", "Expires", "State", "Decide"].map((c) => h("th", { scope: "col", text: c })))),
    h("tbody", {}, items.map(row)))), "Approvals", state === "all" ? "No approvals." : `No ${state} approvals.`);
  const own = api.currentUser()?.address;
  page("Approvals",
    h("p", { class: "meta", text: own ? `Decisions are signed by your wallet ${own}.` : "Decisions are made with your session." }),
    h("div", { class: "field" }, h("label", { for: "approval-state", text: "State" }), filter),
    h("div", { class: "field" }, h("label", { for: "decision-reason", text: "Reason for a decision (optional)" }), reason),
    result, list);
  await list.ready;
}
