// checkA11y runs axe-core (pinned in package-lock.json) in the page against
// WCAG 2.1 A and AA (labels, names, contrast, landmarks, ARIA use) and
// throws with every violation's rule and elements when there is one. The
// console's CSP does not stop it: the source is evaluated through the
// DevTools protocol (a string to page.evaluate), not loaded as a script,
// and the page's eval stays forbidden.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export async function checkA11y(page, name) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      resultTypes: ["violations"],
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary}`) }));
  });
  if (violations.length > 0) {
    const text = violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join("\n    ")}`).join("\n  ");
    throw new Error(`accessibility violations on ${name}:\n  ${text}`);
  }
}
