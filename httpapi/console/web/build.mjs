// Bundles the console: src/main.js and src/style.css into content-hashed
// files, and src/index.html with their names filled in, written to ../dist
// (or to --out DIR: TestConsoleBuildIsCurrent builds into a temporary
// directory and compares). The output depends only on src/ and the pinned
// esbuild, so the committed dist/ can be checked byte for byte.
import { readFile, writeFile, rm, mkdir, readdir } from "node:fs/promises";
import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const outFlag = process.argv.indexOf("--out");
const out = outFlag >= 0 ? path.resolve(process.argv[outFlag + 1]) : path.join(here, "..", "dist");

// Only what a previous build wrote is removed: dist/ holds nothing else.
await mkdir(out, { recursive: true });
for (const name of await readdir(out)) {
  await rm(path.join(out, name), { recursive: true });
}

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/main.js", "src/style.css"],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022", "chrome109", "firefox115", "safari16"],
  entryNames: "[name]-[hash]",
  outdir: out,
  metafile: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});

const outputs = {};
for (const [file, info] of Object.entries(result.metafile.outputs)) {
  if (info.entryPoint) outputs[info.entryPoint] = path.basename(file);
}
const script = outputs["src/main.js"];
const style = outputs["src/style.css"];
if (!script || !style) throw new Error(`esbuild wrote no main.js or style.css: ${JSON.stringify(outputs)}`);

// The icon, content-hashed like the rest, so browsers stop asking for
// /favicon.ico (a 404 in every page's log).
const icon = await readFile(path.join(here, "src", "favicon.svg"));
const iconName = `favicon-${createHash("sha256").update(icon).digest("base64url").replace(/[^A-Za-z0-9]/g, "").slice(0, 8).toUpperCase()}.svg`;
await writeFile(path.join(out, iconName), icon);

const template = await readFile(path.join(here, "src", "index.html"), "utf8");
const html = template.replace("{{style}}", `/console/${style}`).replace("{{script}}", `/console/${script}`).replace("{{icon}}", `/console/${iconName}`);
if (html.includes("{{")) throw new Error("src/index.html: a placeholder was left unfilled");
await writeFile(path.join(out, "index.html"), html);
