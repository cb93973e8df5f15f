#!/usr/bin/env bash
# How many repositories the pipeline escalates to the model, and the tokens and cost of the
# first request, on the labelled corpora with the Procfile present and hidden. The model is a
# loopback stand-in (scripts/measure/fake_openai.py) that answers "cannot tell" without usage
# figures, so tokens in are the client's own cl100k estimate of the request; tokens out are
# priced at OUT_TOKENS (a one-app answer is ~80). Prices: config.rs's table for the default
# Haiku-class model ($0.10 / $0.50 per Mtok unless PRICE_IN / PRICE_OUT say otherwise).
#
#   scripts/escalation-measure.sh [CORPUS...]   (default ../shared/corpus ../shared/wild)
set -euo pipefail
cd "$(dirname "$0")/.."
corpora=("$@"); [ ${#corpora[@]} -eq 0 ] && corpora=(../shared/corpus ../shared/wild)
cargo build --quiet
out=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
python3 scripts/measure/fake_openai.py "$port" "$out/requests.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
sleep 1
for c in "${corpora[@]}"; do
  name=$(basename "$c")
  for mode in present hidden; do
    extra=(); [ "$mode" = hidden ] && extra=(--hide-procfile)
    ./target/debug/repo-scanner eval --corpus "$c" "${extra[@]}" --jobs 2 --out "$out/$name-$mode" \
      --llm-provider openai --llm-base-url "http://127.0.0.1:$port/v1" >/dev/null
  done
done
OUT="$out" PRICE_IN="${PRICE_IN:-0.10}" PRICE_OUT="${PRICE_OUT:-0.50}" OUT_TOKENS="${OUT_TOKENS:-80}" python3 - "${corpora[@]}" <<'PY'
import json, os, sys
out, pin, pout, tout = os.environ["OUT"], float(os.environ["PRICE_IN"]), float(os.environ["PRICE_OUT"]), int(os.environ["OUT_TOKENS"])
for c in sys.argv[1:]:
    name = os.path.basename(c.rstrip("/"))
    for mode in ("present", "hidden"):
        cases = json.load(open(f"{out}/{name}-{mode}/report.json"))["cases"]
        calls = [x["llm"] for x in cases if x.get("llm")]
        if not calls:
            print(f"{name}, Procfile {mode}: 0/{len(cases)} repositories call the model"); continue
        tin = [k["tokens_in"] for k in calls]
        cost = [t * pin / 1e6 + tout * pout / 1e6 for t in tin]
        print(f"{name}, Procfile {mode}: {len(calls)}/{len(cases)} repositories call the model; "
              f"tokens in mean {sum(tin)/len(tin):.0f} max {max(tin)}; cost per call mean ${sum(cost)/len(cost):.6f} max ${max(cost):.6f}")
PY
