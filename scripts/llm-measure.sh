#!/usr/bin/env bash
# Measures the LLM resolver on a labelled corpus against the live SmolLM2 server (or any
# server given as $LLM_BASE_URL): how many repositories call the model, tokens in/out per
# call, cost at the price table's rate, latency, and cache hits on a second run. Then the
# share of the live model's answers the validator accepts (tests/it/llm_live.rs).
#
#   scripts/llm-measure.sh [CORPUS]      (default ../shared/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/corpus}
cargo build --quiet
started=""
if [ -z "${LLM_BASE_URL:-}" ]; then
  coproc SERVER { exec scripts/llm-server.sh; }
  read -r LLM_BASE_URL <&"${SERVER[0]}"
  started=$SERVER_PID
  trap 'kill "$started" 2>/dev/null || true' EXIT
fi
cache=$(mktemp -d)
for mode in present hidden; do
  extra=(); [ "$mode" = hidden ] && extra=(--hide-procfile)
  for run in 1 2; do
    ./target/debug/repo-scanner eval --corpus "$corpus" "${extra[@]}" --jobs 1 --out "target/eval-llm-$mode-$run" \
      --llm-base-url "$LLM_BASE_URL" --llm-timeout 240 --llm-max-tokens 200 --llm-cache-dir "$cache" >/dev/null
  done
done
python3 - <<'PY'
import json
for mode in ("present", "hidden"):
    for run in (1, 2):
        r = json.load(open(f"target/eval-llm-{mode}-{run}/report.json"))
        cases = r["cases"]
        calls = [c["llm"] for c in cases if c.get("llm")]
        n = len(cases)
        if not calls:
            print(f"{mode} run {run}: {n} repos, 0 model calls"); continue
        tin = [c["tokens_in"] for c in calls]; tout = [c["tokens_out"] for c in calls]
        lat = sorted(c["latency_ms"] for c in calls); cost = [c["cost_usd"] for c in calls]
        hits = sum(1 for c in calls if c["cache_hit"])
        print(f"Procfiles {mode}, run {run}: {len(calls)}/{n} repos called the model ({100*len(calls)/n:.0f} %); "
              f"tokens in mean {sum(tin)/len(tin):.0f} max {max(tin)}; out mean {sum(tout)/len(tout):.0f} max {max(tout)}; "
              f"cost/call mean ${sum(cost)/len(cost):.6f} max ${max(cost):.6f}; latency median {lat[len(lat)//2]} ms max {lat[-1]} ms; "
              f"cache hits {hits}/{len(calls)}")
PY
kill "${started:-0}" 2>/dev/null || true
LLM_LIVE_REPORT=target/llm-live.json cargo test --quiet --test it llm_live -- --nocapture 2>&1 | grep -E "^live|test result"
