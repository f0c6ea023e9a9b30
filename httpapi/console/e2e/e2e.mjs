// e2e.mjs drives the console in Debian's chromium through playwright-core
// against a real `tollway serve` with its embedded chain (run by
// cmd/tollway/console_e2e_test.go, which funds the wallet). The page's
// EIP-1193 wallet forwards to node: a viem local account answers accounts,
// chain id and personal_sign, signs eth_sendTransaction and sends it over
// the chain's JSON-RPC (rpcUrl of /v1/config), where reads go as well.
//
//   TOLLWAY_E2E_WALLET_KEY=0x… node e2e.mjs <base URL> <screenshot directory>
//
// It signs in with Ethereum, creates a payer account bound to the wallet
// and a payee account, mints a key with an approval policy, tops up through
// the UI (approve + deposit), charges with the key over HTTP and reads the
// charges in the usage page's tables, approves a charge above the threshold
// with the wallet's signature and rejects another, sees a charge to another
// user's supplier settled on chain in the Settlements tab, requests a
// withdrawal, revokes the key, and
// shows real 402, 403, 409 and 429 answers of the API in the page. It
// prints a JSON summary on stdout; everything else goes to stderr.
import { mkdirSync } from "node:fs";
import { shooter, withBrowser } from "./browser.mjs";
import { createPublicClient, createWalletClient, defineChain, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const [base, shots] = process.argv.slice(2);
const walletKey = process.env.TOLLWAY_E2E_WALLET_KEY;
if (!base || !shots || !/^0x[0-9a-f]{64}$/.test(walletKey ?? "")) {
  console.error("usage: TOLLWAY_E2E_WALLET_KEY=0x<64 hex> node e2e.mjs <base URL> <screenshot directory>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const log = (...a) => console.error("e2e:", ...a);
const fail = (message) => { throw new Error(message); };
const expectEqual = (what, got, want) => {
  if (JSON.stringify(got) !== JSON.stringify(want)) fail(`${what} = ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
};

// Amounts, in USDC base units (6 decimals); fee 1% (the test server's --fee-bps 100).
const DEPOSIT = "20";
const CHARGES = ["1500000", "2250000", "750000"]; // 4.5 USDC, fees 45000
const ABOVE = "5"; // the key's approval threshold, USDC
const BIG = "6000000"; // a charge above it: waits for approval
const WITHDRAW = "1";
const SETTLED = "1000000"; // charged to a supplier with a wallet: settled on chain, fee 10000

const config = await (await fetch(`${base}/v1/config`)).json();
if (!config.rpcUrl || !config.chainId) fail(`/v1/config names no chain: ${JSON.stringify(config)}`);
const account = privateKeyToAccount(walletKey);
const chain = defineChain({ id: config.chainId, name: "Tollway", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [config.rpcUrl] } } });
const transport = http(config.rpcUrl);
const chainReader = createPublicClient({ chain, transport });
const chainWriter = createWalletClient({ account, chain, transport });
const walletCalls = {}; // method -> count, for the summary
let walletChain = 1; // the wallet starts on another chain: the page must have it switch

// api calls the API from node (not through the page): {status, body, headers}.
async function api(method, path, token, body, headers = {}) {
  const response = await fetch(base + path, { method, headers: { Accept: "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}),
    ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, text, body: text ? JSON.parse(text) : null, headers: Object.fromEntries(response.headers) };
}
async function must(want, method, path, token, body) {
  const r = await api(method, path, token, body);
  if (r.status !== want) fail(`${method} ${path} = ${r.status} ${r.text}, want ${want}`);
  return r.body;
}

// signIn answers a wallet's own session (the page's wallet by default), for
// what the test does beside the page.
async function signIn(who = account) {
  const challenge = await must(200, "POST", "/v1/auth/siwe/challenge", null, { address: who.address });
  const signature = await who.signMessage({ message: challenge.message });
  return (await must(200, "POST", "/v1/auth/siwe/login", null, { message: challenge.message, signature })).accessToken;
}

async function answer(method, params) {
  walletCalls[method] = (walletCalls[method] ?? 0) + 1;
  switch (method) {
    case "eth_requestAccounts":
    case "eth_accounts":
      return [account.address];
    case "eth_chainId":
      return `0x${walletChain.toString(16)}`;
    case "wallet_switchEthereumChain": {
      const want = params?.[0]?.chainId;
      if (typeof want !== "string" || BigInt(want) !== BigInt(config.chainId)) {
        throw Object.assign(new Error(`unrecognized chain ${want}`), { code: 4902 });
      }
      walletChain = config.chainId;
      return null;
    }
    case "personal_sign": {
      const [hex, address] = params ?? [];
      if (typeof hex !== "string" || String(address).toLowerCase() !== account.address.toLowerCase()) {
        throw Object.assign(new Error("personal_sign for another address"), { code: 4100 });
      }
      return account.signMessage({ message: { raw: hex } });
    }
    case "eth_sendTransaction": {
      const [tx] = params ?? [];
      if (String(tx?.from).toLowerCase() !== account.address.toLowerCase()) {
        throw Object.assign(new Error("eth_sendTransaction from another address"), { code: 4100 });
      }
      // Like a wallet told to send anyway: a call whose estimate fails
      // (it would revert) goes with a fixed gas limit, is mined and reverts
      // in its receipt, which the page must report.
      const call = { account, to: tx.to, data: tx.data, value: tx.value ? BigInt(tx.value) : undefined };
      const gas = await chainReader.estimateGas(call).catch((err) => {
        log(`eth_sendTransaction: the estimate failed (${err.shortMessage ?? err.message}); sending with 500000 gas`);
        return 500_000n;
      });
      return chainWriter.sendTransaction({ ...call, gas });
    }
    case "eth_call":
    case "eth_getTransactionReceipt":
    case "eth_blockNumber":
    case "eth_estimateGas":
    case "eth_gasPrice":
    case "eth_getBalance":
    case "eth_getTransactionCount":
    case "eth_getCode":
    case "eth_getBlockByNumber":
    case "eth_feeHistory":
    case "eth_maxPriorityFeePerGas":
      return chainReader.request({ method, params });
    default:
      throw Object.assign(new Error(`unsupported method ${method}`), { code: 4200 });
  }
}

await withBrowser("e2e", shots, async (context) => {
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("console", (m) => log(`page ${m.type()}: ${m.text()}`));
  page.on("pageerror", (err) => log("page error:", err.message));
  page.on("dialog", (d) => d.accept()); // confirm() before a revoke
  const shot = shooter(page, shots, "wallet");
  const status = page.locator("#status");
  const statusSays = async (pattern) => {
    await page.waitForFunction(([source, flags]) => new RegExp(source, flags).test(document.getElementById("status").textContent),
      [pattern.source, pattern.flags]);
    return status.textContent();
  };

  // The wallet: the page's provider forwards each request to node.
  await page.exposeFunction("__tollwayWallet", async (method, params) => {
    try {
      return { result: await answer(method, params) };
    } catch (err) {
      log(`wallet ${method}:`, err.message);
      return { error: { code: err.code ?? -32603, message: err.shortMessage ?? err.message } };
    }
  });
  await page.addInitScript(() => {
    window.ethereum = {
      isTollwayTest: true,
      async request({ method, params }) {
        const answer = await window.__tollwayWallet(method, params);
        if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
        return answer.result;
      },
      on() {},
      removeListener() {},
    };
  });

  log("open", `${base}/console`);
  await page.goto(`${base}/console`);
  await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
  await shot("sign-in");
  await page.getByRole("button", { name: "Sign in with Ethereum" }).click();
  await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor();
  await page.getByText("No accounts yet.").waitFor();
  await shot("accounts-empty");

  // The payer, bound to the wallet at creation; the payee, bound to none.
  const createAccount = async (name, useWallet) => {
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Environment").selectOption("test");
    const box = page.getByLabel(`Use my wallet ${account.address}`);
    if (useWallet) await box.check(); else await box.uncheck();
    if (useWallet) await shot("new-account-with-wallet");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name, level: 1 }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    if (!id.startsWith("acct_")) fail(`account page URL ${page.url()} names no account`);
    return id;
  };
  const payer = await createAccount("Payer", true);
  await shot("payer-account");
  await page.getByRole("link", { name: "Accounts", exact: true }).click();
  const payee = await createAccount("Payee", false);
  const token = await signIn();
  expectEqual("the payer's wallet", (await must(200, "GET", `/v1/accounts/${payer}`, token)).walletAddress, account.address);
  expectEqual("the payee's wallet", (await must(200, "GET", `/v1/accounts/${payee}`, token)).walletAddress, null);

  // The agent's key, minted on the payer's page: spends above 5 USDC wait.
  await page.goto(`${base}/console/accounts/${payer}`);
  await page.getByRole("heading", { name: "Payer", level: 1 }).waitFor();
  await page.getByLabel("Label", { exact: true }).fill("Agent");
  await page.getByLabel("Kind").selectOption("secret");
  for (const scope of ["charges:write", "holds:write", "usage:read", "balance:read"]) await page.getByLabel(scope, { exact: true }).check();
  await page.getByLabel("Spends above (USDC) wait for approval").fill(ABOVE);
  await page.getByLabel("Approvers").selectOption("owner");
  await page.getByRole("button", { name: "Mint key" }).click();
  await page.getByLabel("API key").waitFor();
  const key = await page.getByLabel("API key").inputValue();
  if (!key.startsWith("sk_test_")) fail(`the minted key's secret is ${key}`);
  await shot("key-minted");

  // An arbiter key that expires in 30 days: role and expiry reach the API
  // as typed (the form's local time, sent as an instant).
  const expires = new Date(Date.now() + 30 * 86400_000);
  expires.setSeconds(0, 0);
  const local = new Date(expires.getTime() - expires.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await page.getByLabel("Label", { exact: true }).fill("Arbiter");
  await page.getByLabel("Role").selectOption("arbiter");
  for (const scope of ["approvals:read", "approvals:write"]) await page.getByLabel(scope, { exact: true }).check();
  await page.getByLabel("Expires at (optional, your local time)").fill(local);
  await page.getByRole("button", { name: "Mint key" }).click();
  await page.getByRole("heading", { name: "Secret for Arbiter" }).waitFor();
  await page.getByRole("cell", { name: "secret, arbiter", exact: true }).waitFor();
  const arbiter = (await must(200, "GET", `/v1/accounts/${payer}/keys`, token)).data.find((k) => k.label === "Arbiter");
  expectEqual("the arbiter key's role", arbiter?.role, "arbiter");
  expectEqual("the arbiter key's expiry", arbiter && new Date(arbiter.expiresAt).getTime(), expires.getTime());
  await shot("arbiter-minted");

  // Copy puts the secret on the clipboard; Rotate replaces the key: the old
  // secret stops working, the new one (shown once, in its place) works.
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const arbiterSecret = await page.getByLabel("API key").inputValue();
  await page.getByRole("button", { name: "Copy" }).click();
  await statusSays(/^Copied the API key to the clipboard\.$/);
  expectEqual("the clipboard", await page.evaluate(() => navigator.clipboard.readText()), arbiterSecret);
  await page.getByRole("button", { name: "Rotate Arbiter" }).click();
  await statusSays(/^Arbiter rotated\.$/);
  const rotatedSecret = await page.getByLabel("API key").inputValue();
  if (rotatedSecret === arbiterSecret || !rotatedSecret.startsWith("sk_test_")) fail(`the rotated secret is ${rotatedSecret}`);
  expectEqual("GET /v1/approvals with the rotated-away secret", (await api("GET", "/v1/approvals", arbiterSecret)).status, 401);
  expectEqual("GET /v1/approvals with the new secret", (await api("GET", "/v1/approvals", rotatedSecret)).status, 200);
  await shot("arbiter-rotated");

  // Top up through the UI: connect, approve + deposit, the credit seen.
  await page.getByRole("link", { name: "Top up" }).click();
  await page.getByRole("button", { name: "Connect wallet" }).click();
  await page.getByText(`Deposits from ${account.address} credit this account.`).waitFor();
  expectEqual("the wallet's USDC", await page.locator("#wallet-usdc").textContent(), "100.000000 USDC");
  expectEqual("the wallet's pool balance", await page.locator("#wallet-pool").textContent(), "0.000000 USDC");
  await shot("top-up");
  await page.getByLabel("Deposit amount (USDC)").fill(DEPOSIT);
  await page.getByRole("button", { name: "Deposit" }).click();
  await statusSays(/^Credited 20\.000000 USDC: available 20\.000000 USDC\.$/);
  expectEqual("the wallet's USDC after the deposit", await page.locator("#wallet-usdc").textContent(), "80.000000 USDC");
  expectEqual("the wallet's pool balance after the deposit", await page.locator("#wallet-pool").textContent(), "20.000000 USDC");
  expectEqual("the transactions sent", walletCalls.eth_sendTransaction, 2); // approve, deposit
  await shot("deposited");

  // More than the wallet holds: the allowance is raised, the deposit is
  // mined and reverts, and the page says so; nothing is credited.
  await page.getByLabel("Deposit amount (USDC)").fill("1000");
  await page.getByRole("button", { name: "Deposit" }).click();
  const reverted = await statusSays(/reverted/);
  if (!/^Transaction 0x[0-9a-f]{64} reverted \(deposit\(uint256\)\)\.$/.test(reverted)) fail(`the status line says ${reverted}`);
  expectEqual("the transactions sent", walletCalls.eth_sendTransaction, 4); // and another approve, a deposit that reverted
  expectEqual("the payer's balance after the reverted deposit", (await must(200, "GET", `/v1/accounts/${payer}`, token)).balance.available, "20000000");
  await shot("deposit-reverted");

  // The payee has no wallet: the page offers to bind the connected one,
  // which the API refuses (a wallet credits one account per environment).
  await page.goto(`${base}/console/accounts/${payee}/top-up`);
  await page.getByRole("button", { name: "Connect wallet" }).click();
  await page.getByText(`No wallet is bound to this account: deposits from ${account.address} credit it once bound.`).waitFor();
  if (!(await page.getByRole("button", { name: "Deposit" }).isDisabled())) fail("Deposit is enabled for an account the wallet is not bound to");
  await page.getByRole("button", { name: "Bind this wallet" }).click();
  const bindRefused = await statusSays(/^Conflict: /);
  await shot("bind-refused");
  expectEqual("the payee's wallet after the refused bind", (await must(200, "GET", `/v1/accounts/${payee}`, token)).walletAddress, null);

  // The agent charges over HTTP; the usage page, empty before, counts the
  // charges exactly after, in its charts and its tables.
  await page.goto(`${base}/console/accounts/${payer}/usage`);
  await page.getByRole("heading", { name: "Payer: usage", level: 1 }).waitFor();
  const rows = async (section) => page.locator(`#usage-${section} tbody tr`).evaluateAll((trs) =>
    trs.map((tr) => Array.from(tr.children, (c) => c.textContent)));
  const totals = async (section) => page.locator(`#usage-${section} tfoot tr`).evaluateAll((trs) =>
    trs.map((tr) => Array.from(tr.children, (c) => c.textContent)));
  await page.locator("#usage-day").waitFor();
  expectEqual("the day chart's columns before any charge", await page.locator("#usage-day svg rect.column").count(), 0);
  expectEqual("the payer's usage per day before any charge", await rows("day"), []);
  await shot("usage-before");
  const charges = [];
  for (const amount of CHARGES) charges.push((await must(201, "POST", "/v1/charges", key, { to: payee, amount })).id);
  await page.reload();
  await page.getByRole("heading", { name: "Payer: usage", level: 1 }).waitFor();
  await page.locator("#usage-day tbody tr").first().waitFor();
  const today = new Date().toISOString().slice(0, 10);
  expectEqual("the payer's usage per day", await rows("day"), [[today, "3", "4.500000", "0", "0.000000", "0.045000"]]);
  expectEqual("the payer's usage per month", await rows("month"), [[`${today.slice(0, 8)}01`, "3", "4.500000", "0", "0.000000", "0.045000"]]);
  expectEqual("the payer's usage total", await totals("day"), [["Total", "3", "4.500000", "0", "0.000000", "0.045000"]]);
  expectEqual("the day chart's columns", await page.locator("#usage-day svg rect.column").count(), 2); // amount and count of the spent series
  await shot("usage-payer");
  await page.goto(`${base}/console/accounts/${payee}/usage`);
  await page.getByRole("heading", { name: "Payee: usage", level: 1 }).waitFor();
  expectEqual("the payee's usage per day", await rows("day"), [[today, "0", "0.000000", "3", "4.455000", "0.000000"]]);
  await shot("usage-payee");

  // Above the threshold: 202, approved in the page with the wallet's signature.
  const pending = await api("POST", "/v1/charges", key, { to: payee, amount: BIG });
  if (pending.status !== 202 || pending.body?.approval?.state !== "PENDING") fail(`the big charge = ${pending.status} ${pending.text}, want 202 PENDING`);
  const approvalId = pending.body.approval.id;
  await page.getByRole("link", { name: "Approvals" }).click();
  await page.getByRole("heading", { name: "Approvals", level: 1 }).waitFor();
  await page.getByRole("cell", { name: approvalId, exact: true }).waitFor();
  expectEqual("the approval's amount in the list", await page.locator("tbody tr", { hasText: approvalId }).locator("td").nth(2).textContent(), "6.000000 USDC");
  await shot("approvals-pending");
  const signaturesBefore = walletCalls.personal_sign ?? 0;
  await page.getByRole("button", { name: `Approve ${approvalId}` }).click();
  expectEqual("the decision's status line", await statusSays(/^Approval \S+ is /), `Approval ${approvalId} is EXECUTED.`);
  expectEqual("the wallet's signatures for the decision", walletCalls.personal_sign - signaturesBefore, 1);
  await page.getByText(`No PENDING approvals.`).waitFor();
  expectEqual("the decision shown", await page.locator("#decision-result").textContent(), `${approvalId} is EXECUTED (charge ${approvalId}).`);
  await shot("approval-executed");
  await page.getByLabel("State").selectOption("EXECUTED");
  expectEqual("the executed approval's state in the list",
    await page.locator("tbody tr", { hasText: approvalId }).locator("td").nth(7).textContent(), "EXECUTED");
  expectEqual("the executed approval's buttons", await page.getByRole("button", { name: `Approve ${approvalId}` }).count(), 0);
  await shot("approvals-executed");

  // Another one, rejected in the page with a reason, signed by the wallet:
  // its reservation is released, nothing reaches the payee.
  const second = await api("POST", "/v1/charges", key, { to: payee, amount: BIG });
  if (second.status !== 202) fail(`the second big charge = ${second.status} ${second.text}, want 202`);
  const rejectedId = second.body.approval.id;
  await page.getByLabel("State").selectOption("PENDING");
  await page.getByRole("cell", { name: rejectedId, exact: true }).waitFor();
  await page.getByLabel("Reason for a decision (optional)").fill("too much for one call");
  await page.getByRole("button", { name: `Reject ${rejectedId}` }).click();
  expectEqual("the rejection's status line", await statusSays(/^Approval \S+ is /), `Approval ${rejectedId} is REJECTED.`);
  expectEqual("the wallet's signatures for both decisions", walletCalls.personal_sign - signaturesBefore, 2);
  await page.getByText(`No PENDING approvals.`).waitFor();
  await shot("approval-rejected");

  // A supplier of another user, bound to its own wallet: the relayer
  // settles a charge to it on chain, and the payer's Settlements tab shows
  // the batch confirmed, with the transaction's hash.
  const supplierWallet = privateKeyToAccount(generatePrivateKey());
  const supplierToken = await signIn(supplierWallet);
  const supplier = (await must(201, "POST", "/v1/accounts", supplierToken,
    { name: "Supplier", environment: "test", walletAddress: supplierWallet.address })).id;
  await must(201, "POST", "/v1/charges", key, { to: supplier, amount: SETTLED });
  let settlement;
  for (const deadline = Date.now() + 60_000; ;) {
    settlement = (await must(200, "GET", `/v1/settlements?account=${payer}`, token)).data.find((b) => b.state === "CONFIRMED");
    if (settlement) break;
    if (Date.now() > deadline) fail("no settlement of the payer confirmed within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expectEqual("the settlement's entries", settlement.entries, [{ from: account.address, to: supplierWallet.address, amount: SETTLED, fee: "10000", payer, payee: supplier }]);
  await page.goto(`${base}/console/accounts/${payer}/settlements`);
  await page.getByRole("heading", { name: "Payer: settlements", level: 1 }).waitFor();
  await page.getByText(settlement.txHash, { exact: true }).first().waitFor();
  await shot("settlements");

  // Real errors of the API, captured here, and shown by the page.
  const errors = {};
  const payeeKey = (await must(201, "POST", `/v1/accounts/${payee}/keys`, token, { label: "Payee", kind: "secret", scopes: ["charges:write"] })).key;
  errors[402] = await api("POST", "/v1/charges", payeeKey, { to: payer, amount: "1000000000" });
  errors[403] = await api("POST", "/v1/sessions", key, { to: payee, ratePerSecond: "1", maxDurationSeconds: 60 });
  errors[409] = await api("POST", `/v1/approvals/${approvalId}/approve`, token, {});
  const limited = (await must(201, "POST", `/v1/accounts/${payer}/keys`, token,
    { label: "Limited", kind: "secret", scopes: ["balance:read"], rateLimit: { requests: 1, perSeconds: 3600 } })).key;
  await must(200, "GET", "/v1/balance", limited);
  errors[429] = await api("GET", "/v1/balance", limited);
  const wantCodes = { 402: "insufficient_funds", 403: "missing_scope", 409: null, 429: "rate_limited" };
  const shown = {};
  for (const [code, r] of Object.entries(errors)) {
    if (String(r.status) !== code || (wantCodes[code] && r.body?.error?.code !== wantCodes[code])) fail(`the ${code} capture = ${r.status} ${r.text}`);
    if (code === "429" && !/^[0-9]+$/.test(r.headers["retry-after"] ?? "")) fail(`the 429 has Retry-After ${r.headers["retry-after"]}`);
    // The page's next list of approvals gets this answer instead.
    await page.route((url) => url.pathname === "/v1/approvals", (route) => route.fulfill({ status: r.status,
      headers: { "Content-Type": "application/json", ...(r.headers["retry-after"] ? { "Retry-After": r.headers["retry-after"] } : {}) },
      body: r.text }), { times: 1 });
    await page.getByRole("link", { name: "Accounts", exact: true }).click();
    await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor();
    await page.getByRole("link", { name: "Approvals" }).click();
    const e = r.body.error;
    const words = { 402: "Payment required", 403: "Not allowed", 409: "Conflict", 429: "Too many requests" }[code];
    const want = `${words}: ${e.message} (${e.code}, request ${e.request_id})` + (code === "429" ? ` Retry after ${r.headers["retry-after"]} seconds.` : "");
    expectEqual(`the page's status line for the ${code}`, await statusSays(new RegExp(`^${words}:`)), want);
    shown[code] = want;
    await shot(`error-${code}`);
  }

  // A withdrawal request from the top-up page: pending, counting down.
  await page.goto(`${base}/console/accounts/${payer}/top-up`);
  await page.getByRole("button", { name: "Connect wallet" }).click();
  await page.getByLabel("Withdrawal amount (USDC)").fill(WITHDRAW);
  await page.getByRole("button", { name: "Request withdrawal" }).click();
  await statusSays(/^Withdrawal of 1\.000000 USDC requested\.$/);
  const countdown = page.locator("#withdrawal-countdown");
  const first = await countdown.textContent();
  if (!/^available in (\d+ d )?\d\d:\d\d:\d\d$/.test(first)) fail(`the countdown says ${first}`);
  await page.waitForFunction((was) => document.getElementById("withdrawal-countdown").textContent !== was, first);
  if (!(await page.getByRole("button", { name: "Finalize withdrawal" }).isDisabled())) fail("Finalize is enabled before the withdrawal is due");
  await shot("withdrawal-pending");

  // Revoke the agent's key in the page: it gets 401 from then on.
  await page.goto(`${base}/console/accounts/${payer}`);
  await page.getByRole("button", { name: "Revoke Agent" }).click();
  await statusSays(/^Agent revoked\.$/);
  await shot("key-revoked");
  const revoked = await api("POST", "/v1/charges", key, { to: payee, amount: "1" });
  if (revoked.status !== 401) fail(`a charge with the revoked key = ${revoked.status} ${revoked.text}, want 401`);

  process.stdout.write(JSON.stringify({ address: account.address, payer, payee, key, charges, approvalId, rejectedId,
    supplier, supplierWallet: supplierWallet.address, settlement: settlement.id, txHash: settlement.txHash,
    revoked: { status: revoked.status, code: revoked.body.error.code }, shown, bindRefused, walletCalls }) + "\n");
});
