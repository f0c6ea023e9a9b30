// An account's settlement batches (the API pages them) and one batch's
// entries. Hashes are shown in full to copy and compare; there is no link
// to a block explorer: the console loads nothing from elsewhere.
import * as api from "../api.js";
import { formatUSDC } from "../usdc.js";
import { accountTabs, apiPages, h, link, mono, page, serverPages, table, when } from "../ui.js";

const usdc = (v) => `${formatUSDC(v)} USDC`;
const state = (s) => h("span", { class: `state state-${s.state.toLowerCase()}`, text: s.state });
const block = (s) => (s.blockNumber === null || s.blockNumber === undefined ? "—" : String(s.blockNumber));

function settlementRows(accountId) {
  return (items) => table("Settlements", ["Settlement", "State", "Batch id", "Transaction", "Block", "Entries", "Created", "Confirmed"],
    items.map((s) => [
      link(`/accounts/${encodeURIComponent(accountId)}/settlements/${encodeURIComponent(s.id)}`, s.id),
      state(s), mono(s.batchId, "batch id"), mono(s.txHash, "transaction hash"), block(s),
      String(s.entries.length), when(s.createdAt), when(s.confirmedAt)]));
}

export async function settlementsPage(id) {
  const account = await api.call("GET", `/v1/accounts/${encodeURIComponent(id)}`);
  const list = serverPages(apiPages("/v1/settlements", { account: id }), settlementRows(id), "Settlements", "No settlements yet.");
  page(`${account.name}: settlements`,
    h("p", { class: "meta", text: `${account.id} · ${account.environment}` }),
    accountTabs(id, "/settlements"),
    h("p", { text: "Batches this account pays or is paid in, newest first, with this account's entries." }),
    list);
  await list.ready;
}

export async function settlementPage(accountId, id) {
  const s = await api.call("GET", `/v1/settlements/${encodeURIComponent(id)}`);
  const facts = [["State", state(s)], ["Batch id", mono(s.batchId, "batch id")], ["Transaction", mono(s.txHash, "transaction hash")],
    ["Block", block(s)], ["Created", when(s.createdAt)], ["Confirmed", when(s.confirmedAt)]];
  if (s.error) facts.push(["Error", s.error]);
  page(`Settlement ${s.id}`,
    accountTabs(accountId, "/settlements"),
    h("dl", { class: "facts" }, facts.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)])),
    s.entries.length === 0 ? h("p", { text: "No entries of yours." }) : table("Entries", ["Payer", "Payee", "From", "To", "Amount", "Fee"],
      s.entries.map((e) => [e.payer, e.payee, mono(e.from, "payer address"), mono(e.to, "payee address"), usdc(e.amount), usdc(e.fee)])),
    h("p", {}, link(`/accounts/${encodeURIComponent(accountId)}/settlements`, "← All settlements")));
}
