// e2e.mjs drives the console in Debian's chromium through playwright-core:
// it signs in with Ethereum through an injected EIP-1193 wallet (a viem
// account in node), creates an account, mints a key and prints
// {address, accountId, key} as JSON on stdout for the Go test to use.
//
//   node e2e.mjs <base URL> <screenshot directory>
//
// Everything else (progress, the page's console) goes to stderr.
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: node e2e.mjs <base URL> <screenshot directory>");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const log = (...a) => console.error("e2e:", ...a);

// The chain id the server's SIWE messages name; the wallet reports it.
async function chainId() {
  try {
    const response = await fetch(`${base}/v1/config`);
    const id = (await response.json()).chainId;
    if (Number.isSafeInteger(id) && id > 0) return `0x${id.toString(16)}`;
  } catch (err) {
    log("no /v1/config:", err.message);
  }
  return "0x539";
}

const wallet = privateKeyToAccount(generatePrivateKey());
const chain = await chainId();
const profile = mkdtempSync(join(tmpdir(), "tollway-e2e-"));
let context;
let step = 0;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (m) => log(`page ${m.type()}: ${m.text()}`));
  page.on("pageerror", (err) => log("page error:", err.message));
  const shot = async (name) => page.screenshot({ path: join(shots, `${String(++step).padStart(2, "0")}-${name}.png`), fullPage: true });

  // The wallet: the page's provider forwards each request to node, where the
  // viem account answers it. Unknown methods fail as EIP-1193 says (4200).
  await page.exposeFunction("__tollwayWallet", async (method, params) => {
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return { result: [wallet.address] };
      case "eth_chainId":
        return { result: chain };
      case "personal_sign": {
        const [hex, address] = params ?? [];
        if (typeof hex !== "string" || String(address).toLowerCase() !== wallet.address.toLowerCase()) {
          return { error: { code: 4100, message: "personal_sign for another address" } };
        }
        return { result: await wallet.signMessage({ message: { raw: hex } }) };
      }
      default:
        return { error: { code: 4200, message: `unsupported method ${method}` } };
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

  const name = "E2E account";
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Environment").selectOption("test");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name, level: 1 }).waitFor();
  const accountId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
  if (!accountId.startsWith("acct_")) throw new Error(`account page URL ${page.url()} names no account`);
  await page.getByText("No keys yet.").waitFor();
  await shot("account");

  const label = "E2E key";
  await page.getByLabel("Label", { exact: true }).fill(label);
  await page.getByLabel("Kind").selectOption("secret");
  await page.getByLabel("charges:write").check();
  await page.getByLabel("balance:read").check();
  await page.getByRole("button", { name: "Mint key" }).click();
  const secret = page.getByLabel("API key");
  await secret.waitFor();
  const key = await secret.inputValue();
  if (!key) throw new Error("the minted key's secret is empty");
  await page.getByRole("cell", { name: label, exact: true }).waitFor();
  await shot("key-minted");

  // Back to the list: the new account is there.
  await page.getByRole("link", { name: "← All accounts" }).click();
  await page.getByRole("link", { name, exact: true }).waitFor();
  await shot("accounts");

  process.stdout.write(JSON.stringify({ address: wallet.address, accountId, key }) + "\n");
} catch (err) {
  log("FAILED:", err.stack ?? err);
  try {
    const page = context?.pages()[0];
    if (page) await page.screenshot({ path: join(shots, "failure.png"), fullPage: true });
  } catch {
    // The failure is reported already; a missing screenshot must not hide it.
  }
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
