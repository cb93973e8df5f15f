#!/usr/bin/env bash
# The test suite: installs what is missing, then `cargo test`, and prints one closing line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p target
cargo test --locked 2>&1 | tee target/test.log
# cargo prints one summary per test binary: add them up.
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f; exit (p == 0 || f > 0) }' target/test.log
