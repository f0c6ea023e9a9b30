// build.mjs compiles the contracts in src/ with the pinned solc-js (package-lock.json)
// and writes each deployable contract's ABI and creation bytecode to
// <out>/<Name>.abi and <Name>.bin, the inputs of abigen. The output is a pure
// function of the sources, the compiler version and the settings below, so
// contracts_current_test.go can compile again and compare.
//
// Usage: node build.mjs [--out DIR]   (default: build/ beside this file)
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const solc = require("solc");

// The contracts whose bindings Go uses; everything else in the output (the
// OpenZeppelin bases) is skipped.
const contracts = ["TestUSDC", "SettlementPool", "X402StateReader", "AuthorizationBatcher"];

// Cancun: every chain Tollway targets runs it (the embedded go-ethereum dev
// chain is on Osaka, geth --dev too, L2s are on Cancun or later), and later
// forks add no opcode these contracts would use.
const evmVersion = "cancun";

function parseOut(argv) {
  const at = argv.indexOf("--out");
  if (at === -1) return join(here, "build");
  if (at + 1 >= argv.length) throw new Error("--out needs a directory");
  return resolve(argv[at + 1]);
}

// Imports resolve against this directory's node_modules (the pinned
// OpenZeppelin), never a global install.
function findImports(path) {
  try {
    return { contents: readFileSync(require.resolve(path), "utf8") };
  } catch (err) {
    return { error: `cannot import ${path}: ${err.message}` };
  }
}

function main() {
  const out = parseOut(process.argv.slice(2));
  const sources = {};
  for (const name of readdirSync(join(here, "src")).sort()) {
    if (name.endsWith(".sol")) {
      sources[`src/${name}`] = { content: readFileSync(join(here, "src", name), "utf8") };
    }
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion,
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  let failed = false;
  for (const diagnostic of output.errors ?? []) {
    console.error(diagnostic.formattedMessage);
    if (diagnostic.severity === "error") failed = true;
  }
  if (failed) {
    throw new Error("compilation failed");
  }
  mkdirSync(out, { recursive: true });
  for (const name of contracts) {
    const compiled = output.contracts[`src/${name}.sol`]?.[name];
    if (!compiled) throw new Error(`no output for ${name}`);
    writeFileSync(join(out, `${name}.abi`), JSON.stringify(compiled.abi, null, 2) + "\n");
    writeFileSync(join(out, `${name}.bin`), compiled.evm.bytecode.object + "\n");
  }
  console.log(`solc ${solc.version()}: wrote ${contracts.join(", ")} to ${out}`);
}

main();
