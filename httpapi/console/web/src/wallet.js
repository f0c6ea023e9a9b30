// The browser wallet (EIP-1193, window.ethereum) and the few contract calls
// the console makes through it, ABI-encoded by hand: the CSP lets the page
// reach only its own origin, so every chain read and write goes through the
// wallet, and the page loads no library.

// SELECTORS are the 4-byte selectors (the first bytes of the Keccak-256 of
// the signature). TestWalletSelectors in httpapi/console recomputes each
// from its signature here: keep one "signature": "0x…" pair a line.
export const SELECTORS = {
  "approve(address,uint256)": "0x095ea7b3",
  "allowance(address,address)": "0xdd62ed3e",
  "balanceOf(address)": "0x70a08231",
  "deposit(uint256)": "0xb6b55f25",
  "requestWithdrawal(uint256)": "0x9ee679e8",
  "finalizeWithdrawal()": "0xc5b6aa2f",
  "pendingWithdrawal(address)": "0x0964c95b",
};

const RECEIPT_WAIT_MS = 120_000;
const RECEIPT_POLL_MS = 500;

export function provider() {
  const p = window.ethereum;
  if (!p?.request) throw new Error("No browser wallet found (MetaMask, Coinbase Wallet or Rabby inject one).");
  return p;
}

// word encodes an address or an unsigned integer (BigInt or decimal
// string) as one 32-byte ABI word, in hex without 0x.
function word(v) {
  if (typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v)) return v.slice(2).toLowerCase().padStart(64, "0");
  const n = BigInt(v);
  if (n < 0n || n >= 1n << 256n) throw new Error(`not a uint256: ${v}`);
  return n.toString(16).padStart(64, "0");
}

// calldata is a call's data: the selector, then its arguments' words.
export function calldata(signature, ...args) {
  const selector = SELECTORS[signature];
  if (!selector) throw new Error(`no selector for ${signature}`);
  return selector + args.map(word).join("");
}

// words splits a call's result into its 32-byte words, as BigInts.
export function words(hex) {
  const body = (hex ?? "0x").slice(2);
  const out = [];
  for (let i = 0; i + 64 <= body.length; i += 64) out.push(BigInt("0x" + body.slice(i, i + 64)));
  return out;
}

export async function connect() {
  const accounts = await provider().request({ method: "eth_requestAccounts" });
  const address = accounts?.[0];
  if (!address) throw new Error("The wallet shared no address.");
  return address;
}

// ensureChain has the wallet on chainId (a number), asking it to switch
// when it is on another.
export async function ensureChain(chainId) {
  const want = `0x${chainId.toString(16)}`;
  const have = await provider().request({ method: "eth_chainId" });
  if (BigInt(have) === BigInt(want)) return;
  try {
    await provider().request({ method: "wallet_switchEthereumChain", params: [{ chainId: want }] });
  } catch (err) {
    throw new Error(`The wallet is on chain ${BigInt(have)}, Tollway's is ${chainId}: switch the wallet to chain ${chainId}` +
      ` (${err?.message ?? "it refused to switch"}).`);
  }
  const now = await provider().request({ method: "eth_chainId" });
  if (BigInt(now) !== BigInt(want)) throw new Error(`The wallet is still on chain ${BigInt(now)}: switch it to chain ${chainId}.`);
}

// read calls a view function and answers its result's words.
export async function read(to, signature, ...args) {
  return words(await provider().request({ method: "eth_call", params: [{ to, data: calldata(signature, ...args) }, "latest"] }));
}

// send sends a transaction from the wallet and waits for its receipt; a
// reverted transaction is an error.
export async function send(from, to, signature, ...args) {
  const hash = await provider().request({ method: "eth_sendTransaction", params: [{ from, to, data: calldata(signature, ...args) }] });
  const deadline = Date.now() + RECEIPT_WAIT_MS;
  for (;;) {
    const receipt = await provider().request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (receipt) {
      if (BigInt(receipt.status) !== 1n) throw new Error(`Transaction ${hash} reverted (${signature}).`);
      return hash;
    }
    if (Date.now() > deadline) throw new Error(`Transaction ${hash} has no receipt after ${RECEIPT_WAIT_MS / 1000} s.`);
    await new Promise((resolve) => setTimeout(resolve, RECEIPT_POLL_MS));
  }
}

// personalSign signs text (UTF-8) with personal_sign (EIP-191).
export async function personalSign(address, text) {
  const bytes = new TextEncoder().encode(text);
  const hex = "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return provider().request({ method: "personal_sign", params: [hex, address] });
}

export const sameAddress = (a, b) => typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
