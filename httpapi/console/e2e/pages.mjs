// pages.mjs drives the console's account, webhook and gateway pages in
// Debian's chromium through playwright-core, against a server the Go test
// (httpapi/console_pages_e2e_test.go) started and filled:
//
//   node pages.mjs <base URL> <screenshot directory> <fixture JSON>
//
// It talks to the Go test in JSON lines: it writes {"step": …} on stdout
// when the Go side has something to check or do over the API (a webhook
// created, a hold to capture), and reads one line from stdin before going
// on: {"ok": true, …} or {"error": "…"}. Progress goes to stderr.
import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { shooter, withBrowser } from "./browser.mjs";

const [base, shots, fixtureJSON] = process.argv.slice(2);
if (!base || !shots || !fixtureJSON) {
  console.error("usage: node pages.mjs <base URL> <screenshot directory> <fixture JSON>");
  process.exit(2);
}
const fx = JSON.parse(fixtureJSON);
mkdirSync(shots, { recursive: true });
const log = (...a) => console.error("pages:", ...a);

const replies = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

// ask hands a step to the Go test and waits for its answer.
async function ask(step, data = {}) {
  log("ask", step);
  process.stdout.write(JSON.stringify({ step, ...data }) + "\n");
  const { value, done } = await replies.next();
  if (done) throw new Error(`the Go test closed stdin at ${step}`);
  const answer = JSON.parse(value);
  if (answer.error) throw new Error(`the Go test refused ${step}: ${answer.error}`);
  return answer;
}

function expect(ok, message) {
  if (!ok) throw new Error(message);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

await withBrowser("pages", shots, async (context) => {
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (m) => log(`page ${m.type()}: ${m.text()}`));
  page.on("pageerror", (err) => log("page error:", err.message));
  // Every confirm() (deletes) is answered yes; anything else is a failure.
  page.on("dialog", (d) => (d.type() === "confirm" ? d.accept() : d.dismiss()));

  const shot = shooter(page, shots, "pages");
  const h1 = (name) => page.getByRole("heading", { name, level: 1 }).waitFor();
  // rows reads a table's body, by its caption, as arrays of cell texts.
  const rows = (caption) => page.locator("table").filter({ has: page.locator(`caption:text-is("${caption}")`) }).locator("tbody tr")
    .evaluateAll((trs) => trs.map((tr) => Array.from(tr.cells, (td) => td.textContent.trim())));
  // until polls fn (async) until it returns true, for what the page shows
  // later (live refreshes, deliveries).
  const until = async (what, fn, ms = 15_000) => {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
      try {
        if (await fn()) return;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
      await page.waitForTimeout(100);
    }
  };

  // Sign in with the email and password the Go test signed up with.
  await page.goto(`${base}/console`);
  await h1("Sign in");
  // With the keyboard alone. A page takes focus on its main region, so a
  // screen reader starts there and Tab moves within it: to the email field;
  // Shift+Tab goes back to the skip link. Then the password; Enter submits.
  const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent);
  expect(await focused() === "main", `the sign-in page's focus is on ${await focused()}, want main`);
  await page.keyboard.press("Tab");
  expect(await focused() === "f-email", `the first Tab stop is ${await focused()}, want the email field`);
  await page.keyboard.press("Shift+Tab");
  expect(await focused() === "Skip to content", `Shift+Tab from the email field reaches ${await focused()}, want the skip link`);
  await page.keyboard.press("Tab");
  expect(await focused() === "f-email", `Tab from the skip link reaches ${await focused()}, want the email field`);
  await page.keyboard.type(fx.email);
  await page.keyboard.press("Tab");
  expect(await focused() === "f-password", `the third Tab stop is ${await focused()}, want the password field`);
  await page.keyboard.type(fx.password);
  await page.keyboard.press("Enter");
  await h1("Accounts");
  expect(await focused() === "main", `after signing in the focus is on ${await focused()}, want main`);
  await page.getByRole("link", { name: fx.payer.name, exact: true }).waitFor();
  await shot("accounts");

  // Webhooks: create an endpoint, see its secret once, a delivery, delete.
  await page.getByRole("link", { name: "Webhooks", exact: true }).click();
  await h1("Webhooks");
  await page.getByText("No endpoints yet.").waitFor();
  await shot("webhooks-empty");
  const hookURL = `${fx.receiver}/hook`;
  await page.getByLabel("Endpoint URL", { exact: true }).fill(hookURL);
  await page.getByLabel("deposit.credited", { exact: true }).check();
  await page.getByLabel("session.ended", { exact: true }).check();
  await page.getByLabel("Account", { exact: true }).selectOption(fx.payer.id);
  await page.getByRole("button", { name: "Create endpoint" }).click();
  const webhookSecret = await page.getByLabel("Signing secret", { exact: true }).inputValue();
  expect(webhookSecret.startsWith("whsec_"), `the signing secret shown is ${webhookSecret}`);
  const hookLink = page.getByRole("link", { name: `Deliveries of ${hookURL}` });
  const webhookId = decodeURIComponent((await hookLink.getAttribute("href")).split("/").pop());
  const hookRows = await rows("Webhook endpoints");
  expect(same(hookRows.map((r) => r.slice(0, 3)), [[hookURL, "deposit.credited, session.ended", `${fx.payer.name} ${fx.payer.id}`]]),
    `webhook rows ${JSON.stringify(hookRows)}`);
  await shot("webhook-created");
  // Shown once: after a reload the list is there and the secret is not.
  await page.reload();
  await hookLink.waitFor();
  expect(await page.getByLabel("Signing secret", { exact: true }).count() === 0, "the signing secret is shown again after a reload");
  await ask("webhook-created", { id: webhookId, url: hookURL, secret: webhookSecret });
  await hookLink.click();
  await h1("Webhook endpoint");
  await page.getByText(hookURL, { exact: true }).waitFor();
  // The Go test credited the account: the delivery shows up (live).
  await until("the delivery in the log", async () => {
    const r = await rows("Deliveries");
    return r.length === 1 && r[0][1] === "deposit.credited" && r[0][2] === "delivered" && r[0][3] === "200" && r[0][4] === "1";
  });
  await shot("webhook-deliveries");
  await page.getByRole("button", { name: "Delete endpoint" }).click();
  await h1("Webhooks");
  await page.getByText("No endpoints yet.").waitFor();
  await ask("webhook-deleted", { id: webhookId });

  // Gateway routes: a field error beside its field, create, list, delete.
  await page.getByRole("link", { name: "Gateway routes", exact: true }).click();
  await h1("Gateway routes");
  await page.getByText("No routes yet.").waitFor();
  await shot("routes-empty");
  await page.getByLabel("Slug", { exact: true }).fill(fx.slug);
  await page.getByLabel("Account paid", { exact: true }).selectOption(fx.payee.id);
  await page.getByLabel("Upstream URL", { exact: true }).fill("ftp://example.com/api");
  await page.getByLabel("Price per call (USDC)", { exact: true }).fill("0.0015");
  await page.getByLabel("GET", { exact: true }).check();
  await page.getByLabel("POST", { exact: true }).check();
  await page.getByLabel(/^Timeout/).fill("5000");
  await page.getByRole("button", { name: "Create route" }).click();
  const upstreamError = page.locator("#f-upstream-error");
  await until("the upstream's field error", async () => (await upstreamError.textContent()) !== "");
  expect(await page.getByLabel("Upstream URL", { exact: true }).getAttribute("aria-invalid") === "true", "the upstream input is not marked invalid");
  const otherErrors = await page.locator(".field-error:not(#f-upstream-error)").evaluateAll((els) => els.map((e) => e.textContent).join(""));
  expect(otherErrors === "", `errors beside other fields: ${otherErrors}`);
  log("upstream error:", await upstreamError.textContent());
  await shot("route-field-error");
  await page.getByLabel("Upstream URL", { exact: true }).fill(`${fx.upstream}/api`);
  await page.getByRole("button", { name: "Create route" }).click();
  const routeSecret = await page.getByLabel("Route secret", { exact: true }).inputValue();
  expect(/^gws_[0-9a-f]{64}$/.test(routeSecret), `the route secret shown is ${routeSecret}`);
  const routeRows = await rows("Gateway routes");
  expect(same(routeRows.map((r) => r.slice(0, 7)), [[fx.slug, `${base}/gw/${fx.slug}/…`, `${fx.upstream}/api`, "0.001500 USDC",
    `${fx.payee.name} ${fx.payee.id}`, "GET, POST", "5000 ms"]]), `route rows ${JSON.stringify(routeRows)}`);
  await shot("route-created");
  // The Go test called the route: its charge is a hold on the payer.
  const call = await ask("route-created", { slug: fx.slug, secret: routeSecret });
  fx.holds[call.hold] = call.want;
  await page.getByRole("button", { name: `Delete ${fx.slug}` }).click();
  await page.getByText("No routes yet.").waitFor();
  await ask("route-deleted", { slug: fx.slug });

  // Settlements: the server has no chain, so its list is empty; a batch as
  // the API describes it is then answered by the browser's route stub, to
  // show the list and the detail with full hashes.
  await page.getByRole("link", { name: "Accounts", exact: true }).click();
  await page.getByRole("link", { name: fx.payer.name, exact: true }).click();
  await h1(fx.payer.name);
  await page.getByRole("link", { name: "Settlements", exact: true }).click();
  await h1(`${fx.payer.name}: settlements`);
  await page.getByText("No settlements yet.").waitFor();
  const settlement = {
    id: "stl_7", state: "CONFIRMED", batchId: `0x${"ab".repeat(32)}`, txHash: `0x${"cd".repeat(32)}`, blockNumber: 4242,
    entries: [{ from: `0x${"11".repeat(20)}`, to: `0x${"22".repeat(20)}`, amount: "2500000", fee: "25000", payer: fx.payer.id, payee: fx.payee.id }],
    createdAt: "2026-12-01T10:00:00Z", confirmedAt: "2026-12-01T10:00:12Z",
  };
  await page.route(/\/v1\/settlements(\?|\/)/, (route) => route.fulfill({ contentType: "application/json",
    body: JSON.stringify(route.request().url().includes("/v1/settlements/") ? settlement
      : { data: [settlement], hasMore: false, nextStartingAfter: null }) }));
  await page.reload();
  await h1(`${fx.payer.name}: settlements`);
  await page.getByRole("link", { name: "stl_7" }).waitFor();
  const stlRows = await rows("Settlements");
  expect(stlRows.length === 1 && stlRows[0][1] === "CONFIRMED" && stlRows[0][3] === `${settlement.txHash}Copy` && stlRows[0][4] === "4242"
    && stlRows[0][5] === "1", `settlement rows ${JSON.stringify(stlRows)}`);
  await shot("settlements");
  await page.getByRole("link", { name: "stl_7" }).click();
  await h1("Settlement stl_7");
  const entryRows = await rows("Entries");
  expect(same(entryRows, [[fx.payer.id, fx.payee.id, `${settlement.entries[0].from}Copy`, `${settlement.entries[0].to}Copy`,
    "2.500000 USDC", "0.025000 USDC"]]), `entry rows ${JSON.stringify(entryRows)}`);
  await shot("settlement");
  await page.unroute(/\/v1\/settlements(\?|\/)/);

  // Sessions and holds: exactly the Go test's, in their states.
  await page.getByRole("link", { name: "Sessions and holds", exact: true }).click();
  await h1(`${fx.payer.name}: sessions and holds`);
  const byId = (r) => Object.fromEntries(r.map((cells) => [cells[0], cells]));
  // wantActivity checks the first page of each list: PAGE_SIZE rows, or all
  // when fewer, each one of the Go test's with its counterparty, direction
  // and state. (The sessions fill more than a page: paging is checked after.)
  const PAGE_SIZE = 20;
  const wantActivity = async (sessions, holds) => {
    const s = byId(await rows("Sessions"));
    const hs = byId(await rows("Holds"));
    const sessionIds = Object.keys(s);
    expect(sessionIds.length === Math.min(PAGE_SIZE, Object.keys(sessions).length) && sessionIds.every((id) => id in sessions),
      `session rows ${JSON.stringify(s)}`);
    expect(same(Object.keys(hs).sort(), Object.keys(holds).sort()), `hold rows ${JSON.stringify(hs)}`);
    for (const id of sessionIds) {
      const want = sessions[id];
      expect(s[id][1] === want.state && s[id][2] === want.direction && s[id][3] === want.counterparty, `session ${id}: ${s[id]}, want ${JSON.stringify(want)}`);
    }
    for (const [id, want] of Object.entries(holds)) {
      expect(hs[id][1] === want.state && hs[id][2] === want.direction && hs[id][3] === want.counterparty && hs[id][4] === want.amount,
        `hold ${id}: ${hs[id]}, want ${JSON.stringify(want)}`);
    }
    return { s, hs };
  };
  await until("the activity lists", async () => { await wantActivity(fx.sessions, fx.holds); return true; });
  // A state filter shows only that state, from the first page.
  await page.getByLabel("Hold state", { exact: true }).selectOption("PENDING");
  const pendingHolds = Object.keys(fx.holds).filter((id) => fx.holds[id].state === "PENDING").sort();
  await until("the PENDING holds", async () => same(Object.keys(byId(await rows("Holds"))).sort(), pendingHolds));
  await page.getByLabel("Session state", { exact: true }).selectOption("LIVE");
  await until("the LIVE sessions", async () => same(Object.keys(byId(await rows("Sessions"))),
    Object.keys(fx.sessions).filter((id) => fx.sessions[id].state === "LIVE")));
  await shot("activity-filtered");
  await page.getByLabel("Hold state", { exact: true }).selectOption("");
  await page.getByLabel("Session state", { exact: true }).selectOption("");
  await until("the activity lists again", async () => { await wantActivity(fx.sessions, fx.holds); return true; });
  await shot("activity");

  // Live: the Go test captures a hold and ends a session over the API; the
  // page shows both without a reload (the marker set here survives).
  await page.evaluate(() => { window.tollwayNoReload = true; });
  const changed = await ask("activity-shown");
  const sessions = { ...fx.sessions, [changed.session]: { ...fx.sessions[changed.session], state: "ENDED" } };
  const holds = { ...fx.holds, [changed.hold]: { ...fx.holds[changed.hold], state: "CAPTURED" } };
  await until("the captured hold and the ended session", async () => { await wantActivity(sessions, holds); return true; });
  const { s, hs } = await wantActivity(sessions, holds);
  expect(hs[changed.hold][5] === changed.captured, `captured ${hs[changed.hold][5]}, want ${changed.captured}`);
  expect(s[changed.session][6] === changed.charged, `charged ${s[changed.session][6]}, want ${changed.charged}`);
  expect(await page.evaluate(() => window.tollwayNoReload === true), "the page reloaded");
  await shot("activity-live");

  // Paging: the second page of sessions holds the rest, exactly; a live
  // refresh reloads that page (startingAfter), and the page stays on it.
  const sessionPager = page.getByRole("navigation", { name: "Sessions pages" });
  const firstPage = Object.keys(byId(await rows("Sessions")));
  await sessionPager.getByRole("button", { name: "Next" }).click();
  await sessionPager.getByText("Page 2").waitFor();
  const readSecond = async () => byId(await rows("Sessions"));
  await until("the second page of sessions", async () => {
    const shown = await readSecond();
    return Object.keys(shown).length > 0 && !firstPage.some((id) => id in shown);
  });
  const second = await readSecond();
  expect(same([...firstPage, ...Object.keys(second)].sort(), Object.keys(sessions).sort()), `pages 1 and 2: ${firstPage} + ${Object.keys(second)}`);
  for (const [id, cells] of Object.entries(second)) expect(cells[1] === sessions[id].state, `session ${id} on page 2: ${cells}`);
  // A keyboard user on the table, scrolled sideways, stays there too.
  const region = page.getByRole("region", { name: "Sessions table" });
  await region.focus();
  await region.evaluate((el) => { el.scrollLeft = 120; });
  // Two refreshes of page 2: live() starts one only after the last ended,
  // so the first has redrawn the page when the second answers.
  await page.waitForResponse((r) => r.url().includes("/v1/sessions?") && r.url().includes("startingAfter="));
  await page.waitForResponse((r) => r.url().includes("/v1/sessions?") && r.url().includes("startingAfter="));
  expect(await sessionPager.getByText("Page 2").count() === 1, "a live refresh left page 2");
  const view = await region.evaluate((el) => ({ focused: document.activeElement === el, left: el.scrollLeft }));
  expect(view.focused && view.left === 120, `after a live refresh the sessions table has ${JSON.stringify(view)}, want focused, scrolled 120px`);
  expect(same(Object.keys(await readSecond()).sort(), Object.keys(second).sort()), "a live refresh changed page 2");
  await shot("activity-page-2");

  process.stdout.write(JSON.stringify({ step: "done" }) + "\n");
});
process.stdin.destroy();
