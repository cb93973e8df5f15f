#!/usr/bin/env bash
# Regenerates eval/calibration.md: every rule's precision on ../shared/corpus and
# ../shared/wild with their Procfiles hidden, rules alone, pooled.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
out=${OUT:-target/calibrate}
cargo run --locked --quiet -- eval --corpus "$shared/corpus" --hide-procfile --no-llm --out "$out/corpus"
cargo run --locked --quiet -- eval --corpus "$shared/wild" --hide-procfile --no-llm --out "$out/wild"
cargo run --locked --quiet -- eval merge "$out/corpus/report.json" "$out/wild/report.json" \
  --out "$out/pooled" --calibration eval/calibration.md
