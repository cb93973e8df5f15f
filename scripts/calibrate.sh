#!/usr/bin/env bash
# Regenerates eval/calibration.md: every rule's precision, rules alone, pooled over
# ../shared/corpus (Procfiles visible: the cases without one, and the procfile rule),
# ../shared/corpus with Procfiles hidden and ../shared/wild with Procfiles hidden.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
out=${OUT:-target/calibrate}
run() { cargo run --locked --quiet -- eval --no-llm --out "$out/$1" --corpus "${@:2}" | tail -1; }
run corpus "$shared/corpus"
run corpus-hidden "$shared/corpus" --hide-procfile
run wild-hidden "$shared/wild" --hide-procfile
cargo run --locked --quiet -- eval calibrate "$out/corpus/report.json" "$out/corpus-hidden/report.json" \
  "$out/wild-hidden/report.json" --out eval/calibration.md
