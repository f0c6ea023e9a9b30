// Top up: deposit USDC from the browser wallet into the pool, which credits
// the account bound to that wallet, and withdraw from the pool (request,
// then finalize once the pool's delay has passed). Chain reads and writes go
// through the wallet (wallet.js); the account through the API.
import * as api from "../api.js";
import { formatUSDC, parseUSDC } from "../usdc.js";
import { accountTabs, action, balances, busy, field, h, invalid, live, page, say } from "../ui.js";
import * as wallet from "../wallet.js";

const CREDIT_WAIT_MS = 60_000;
const CREDIT_POLL_MS = 500;

// config is GET /v1/config: the chain, the pool and the asset.
async function config() {
  const c = await api.callSigned("GET", "/v1/config", undefined, {});
  const usdc = c.assets?.[0]?.address;
  if (!c.settlementAddress || !usdc || !c.chainId) throw new Error("The server runs without a chain: there is nothing to deposit into.");
  return { chainId: c.chainId, pool: c.settlementAddress, usdc };
}

// countdown says how long until unix time at (seconds), or that it is due.
export function countdown(at, nowMs = Date.now()) {
  const left = Number(at) - Math.floor(nowMs / 1000);
  if (left <= 0) return "available now";
  const d = Math.floor(left / 86400);
  const rest = new Date((left % 86400) * 1000).toISOString().slice(11, 19);
  return `available in ${d > 0 ? `${d} d ` : ""}${rest}`;
}

export async function topUpPage(id) {
  const path = `/v1/accounts/${encodeURIComponent(id)}`;
  const account = await api.call("GET", path);
  const slot = h("div", { id: "wallet-slot" });
  const connect = h("button", { type: "button", text: "Connect wallet", onclick: action(async () => {
    const chain = await config();
    const address = await wallet.connect();
    await wallet.ensureChain(chain.chainId);
    await drawWallet(id, chain, address, slot);
    say(`Wallet ${address} connected.`);
  }) });
  page(`${account.name}: top up`,
    h("p", { class: "meta", text: `${account.id} · ${account.environment} · wallet ${account.walletAddress ?? "none bound"}` }),
    accountTabs(id, "/top-up"),
    h("div", { id: "account-balance" }, balances(account.balance)),
    window.ethereum?.request
      ? h("p", {}, connect)
      : h("p", { text: "No browser wallet found (MetaMask, Coinbase Wallet or Rabby inject one): deposits are made from a wallet." }),
    slot);
}

// drawWallet shows what the connected wallet holds and can do for the
// account: bind, deposit, withdraw.
async function drawWallet(id, chain, address, slot) {
  const path = `/v1/accounts/${encodeURIComponent(id)}`;
  const account = await api.call("GET", path);
  const [[held], [pooled], [pendingAmount, availableAt]] = await Promise.all([
    wallet.read(chain.usdc, "balanceOf(address)", address),
    wallet.read(chain.pool, "balanceOf(address)", address),
    wallet.read(chain.pool, "pendingWithdrawal(address)", address),
  ]);
  const redraw = () => drawWallet(id, chain, address, slot);
  const bound = account.walletAddress;
  let binding;
  if (!bound) {
    binding = h("p", {}, `No wallet is bound to this account: deposits from ${address} credit it once bound. `,
      h("button", { type: "button", text: "Bind this wallet", onclick: action(async () => {
        await api.call("PATCH", path, { walletAddress: address });
        say(`${address} is now bound to ${account.name}.`);
        await redraw();
      }) }));
  } else if (!wallet.sameAddress(bound, address)) {
    binding = h("p", { class: "warning", text: `This account is bound to ${bound}, not to the connected wallet ${address}: ` +
      `deposits from ${address} would not credit it. Switch the wallet to ${bound}.` });
  } else {
    binding = h("p", { text: `Deposits from ${address} credit this account.` });
  }
  const depositForm = h("form", { novalidate: true },
    field("Deposit amount (USDC)", "amount", { inputmode: "decimal", required: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Deposit", disabled: !wallet.sameAddress(bound, address) })));
  depositForm.addEventListener("submit", busy(depositForm, async (data) => {
    const amount = parseUSDC(String(data.get("amount")));
    if (amount === null || amount === "0") throw invalid("amount", "a positive USDC amount with at most 6 decimals");
    const before = BigInt((await api.call("GET", path)).balance.available);
    const [allowance] = await wallet.read(chain.usdc, "allowance(address,address)", address, chain.pool);
    if (allowance < BigInt(amount)) {
      say(`Approve the pool to take ${formatUSDC(amount)} USDC in your wallet…`);
      await wallet.send(address, chain.usdc, "approve(address,uint256)", chain.pool, amount);
    }
    say(`Confirm the deposit of ${formatUSDC(amount)} USDC in your wallet…`);
    const hash = await wallet.send(address, chain.pool, "deposit(uint256)", amount);
    say(`Deposit ${hash} is on chain; waiting for Tollway to credit the account…`);
    const deadline = Date.now() + CREDIT_WAIT_MS;
    for (;;) {
      const now = await api.call("GET", path);
      if (BigInt(now.balance.available) >= before + BigInt(amount)) {
        await redraw();
        say(`Credited ${formatUSDC(amount)} USDC: available ${formatUSDC(now.balance.available)} USDC.`);
        return;
      }
      if (Date.now() > deadline) throw new Error(`Deposit ${hash} is on chain but not credited after ${CREDIT_WAIT_MS / 1000} s: reload later.`);
      await new Promise((resolve) => setTimeout(resolve, CREDIT_POLL_MS));
    }
  }));

  const withdrawForm = h("form", { novalidate: true },
    field("Withdrawal amount (USDC)", "withdraw", { inputmode: "decimal", required: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Request withdrawal" })));
  withdrawForm.addEventListener("submit", busy(withdrawForm, async (data) => {
    const amount = parseUSDC(String(data.get("withdraw")));
    if (amount === null || amount === "0") throw invalid("withdraw", "a positive USDC amount with at most 6 decimals");
    if (BigInt(amount) > pooled) throw invalid("withdraw", `at most ${formatUSDC(pooled.toString())} USDC, what the pool holds for you`);
    say(`Confirm the withdrawal request in your wallet…`);
    await wallet.send(address, chain.pool, "requestWithdrawal(uint256)", amount);
    await redraw();
    say(`Withdrawal of ${formatUSDC(amount)} USDC requested.`);
  }));
  let pending;
  if (pendingAmount > 0n) {
    const left = h("span", { id: "withdrawal-countdown", text: countdown(availableAt) });
    const finalize = h("button", { type: "button", text: "Finalize withdrawal", disabled: Number(availableAt) * 1000 > Date.now(), onclick: action(async () => {
      say("Confirm the withdrawal in your wallet…");
      await wallet.send(address, chain.pool, "finalizeWithdrawal()");
      await redraw();
      say(`Withdrew ${formatUSDC(pendingAmount.toString())} USDC to ${address}.`);
    }) });
    live(() => {
      left.textContent = countdown(availableAt);
      if (Number(availableAt) * 1000 <= Date.now()) finalize.disabled = false;
    }, 1000);
    pending = h("p", {}, `Pending withdrawal: ${formatUSDC(pendingAmount.toString())} USDC, due ${new Date(Number(availableAt) * 1000).toLocaleString()}, `, left, " ", finalize);
  } else {
    pending = h("p", { text: "No withdrawal pending." });
  }
  document.getElementById("account-balance")?.replaceChildren(balances(account.balance));
  slot.replaceChildren(
    h("section", { "aria-labelledby": "wallet-h" }, h("h2", { id: "wallet-h", text: `Wallet ${address}` }),
      binding,
      h("dl", { class: "balances" },
        h("dt", { text: "USDC in the wallet" }), h("dd", { id: "wallet-usdc", text: `${formatUSDC(held.toString())} USDC` }),
        h("dt", { text: "In the pool" }), h("dd", { id: "wallet-pool", text: `${formatUSDC(pooled.toString())} USDC` }))),
    h("section", { "aria-labelledby": "deposit-h" }, h("h2", { id: "deposit-h", text: "Deposit" }),
      h("p", { class: "meta", text: "Two wallet confirmations when the pool may not yet take this much: approve, then deposit." }), depositForm),
    h("section", { "aria-labelledby": "withdraw-h" }, h("h2", { id: "withdraw-h", text: "Withdraw" }), pending, withdrawForm));
}
