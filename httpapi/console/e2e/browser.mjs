// How the console's browser tests drive chromium: one launch with the same
// flags for every script, and one way to take a page's screenshots, which
// also checks the page (accessibility, and nothing wider than a phone).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { checkA11y } from "./a11y.mjs";

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 375, height: 740 };

// withBrowser runs run(context) in a fresh chromium profile and always
// cleans up. A failure is logged with its stack, the page as it was then is
// saved as <shots>/<name>-failure.png, and the process's exit code is 1.
export async function withBrowser(name, shots, run) {
  const profile = mkdtempSync(join(tmpdir(), `tollway-${name}-`));
  let context;
  try {
    context = await launch(profile);
    await run(context);
  } catch (err) {
    console.error(`${name}: FAILED:`, err.stack ?? err);
    try {
      const page = context?.pages()[0];
      if (page) await page.screenshot({ path: join(shots, `${name}-failure.png`), fullPage: true });
    } catch {
      // The failure is reported already; a missing screenshot must not hide it.
    }
    process.exitCode = 1;
  } finally {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

// launch starts Debian's chromium (CHROMIUM overrides the path), headless,
// with a persistent profile in profileDir, and answers its context.
function launch(profileDir) {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: DESKTOP,
  });
}

// shooter answers shot(name): it saves the page at desktop size as
// <dir>/<prefix>-NN-<name>.png and at a phone's as …-phone.png, and throws
// when axe-core finds a WCAG 2.1 A/AA violation or when the page is wider
// than the phone (wide tables must scroll inside their .scroll wrappers).
export function shooter(page, dir, prefix) {
  let step = 0;
  return async (name) => {
    const file = `${prefix}-${String(++step).padStart(2, "0")}-${name}`;
    await page.screenshot({ path: join(dir, `${file}.png`), fullPage: true });
    await checkA11y(page, name);
    await page.setViewportSize(PHONE);
    try {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      const wide = overflow <= 0 ? "" : await page.evaluate(() => Array.from(document.querySelectorAll("body *"))
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth && !el.closest(".scroll"))
        .slice(0, 5).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`).join(" "));
      await page.screenshot({ path: join(dir, `${file}-phone.png`), fullPage: true });
      if (overflow > 0) throw new Error(`${name}: the page is ${overflow}px wider than a ${PHONE.width}px phone: ${wide}`);
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  };
}
