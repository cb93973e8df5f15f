#!/usr/bin/env bash
# Whole-process benchmarks, each against its baseline measured in the same run:
#   1. `repo-scanner scan` over every corpus repository vs `nixpacks plan` on the same ones;
#   2. a generated 100k-file tree vs `find DIR -type f | wc -l` (time, and peak RSS);
#   3. a git URL scan from a loopback `git daemon` vs `git clone --depth 1` of the same repo.
# Needs hyperfine and GNU time (apt-get install hyperfine time) and nixpacks
# (cargo install nixpacks --locked). Writes target/bench/*.json and prints a summary.
# Traffic goes only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS="${REPO_SCANNER_CORPUS:-$PWD/../shared/corpus}"
OUT=target/bench
mkdir -p "$OUT"
bash scripts/release.sh  # the shipped binary: static-pie, debug info split off
BIN="$PWD/target/dist/repo-scanner"
RUNS="${BENCH_RUNS:-10}"
TMP="$(mktemp -d)"
cleanup() { [[ -n "${DAEMON_PID:-}" ]] && kill "$DAEMON_PID" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

summary() { # name json... (several: rounds of the same commands, pooled)
  python3 - "$@" <<'PY'
import json, sys, statistics
name, paths = sys.argv[1], sys.argv[2:]
runs = [json.load(open(p))["results"] for p in paths]
names = [x["command"] for x in runs[0]]
times = {n: [t for r in runs for x in r if x["command"] == n for t in x["times"]] for n in names}
med = {n: statistics.median(t) for n, t in times.items()}
base = names[1]
print(f"{name}: {len(paths)} round(s); ratios against {base}")
for n in names:
    t = sorted(times[n])
    p10, p90 = t[len(t) // 10], t[len(t) * 9 // 10]
    print(f"{name}: {n[:60]:<60} median {med[n]*1000:8.3f} ms  p10 {p10*1000:7.3f}  p90 {p90*1000:7.3f}  "
          f"stddev {statistics.pstdev(t)*1000:6.3f}  (n={len(t)})  ratio {med[n]/med[base]:6.3f}x")
if len(paths) > 1:
    per = [r[0]["median"] / r[1]["median"] for r in runs]
    print(f"{name}: ratio per round: {' '.join(f'{x:.3f}' for x in per)}")
PY
}

# 0. start-up: one invocation on one fixture vs `nixpacks plan` on the same, in the same run
#    (issue 14's bar: at most 0.20x), with /bin/true as the exec floor and repo-scanner-full
#    (everything linked, as the one binary was before the split) for reference; then the
#    instructions one scan executes (callgrind, loader included) and the binaries' sizes.
FIXTURE="${BENCH_FIXTURE:-fixtures/python-django}"
STARTUP_RUNS="${BENCH_STARTUP_RUNS:-1000}"
FULL="$PWD/target/dist/repo-scanner-full"
startup=(-n "repo-scanner scan $FIXTURE" "$BIN scan $FIXTURE")
if command -v nixpacks >/dev/null; then
  startup+=(-n "nixpacks plan $FIXTURE" "nixpacks plan $FIXTURE")
else
  echo "startup: nixpacks not installed (cargo install nixpacks --locked): no baseline" >&2
fi
startup+=(-n "repo-scanner-full scan $FIXTURE" "$FULL scan $FIXTURE" -n "exec floor: /bin/true" "/bin/true")
# BENCH_BEFORE=path: another build (e.g. an earlier commit's) measured in the same rounds.
[[ -n "${BENCH_BEFORE:-}" ]] && startup+=(-n "before: $BENCH_BEFORE scan $FIXTURE" "$BENCH_BEFORE scan $FIXTURE")
# Rounds, each running every command in turn: a machine that drifts (other tenants, clock)
# shifts all commands alike instead of the one that happened to run during the drift.
ROUNDS="${BENCH_STARTUP_ROUNDS:-5}"
for r in $(seq "$ROUNDS"); do
  # Its outlier warnings go to a file; on a failure they are shown.
  hyperfine -N --warmup 30 --runs $((STARTUP_RUNS / ROUNDS)) --export-json "$OUT/startup.$r.json" "${startup[@]}" \
    >/dev/null 2>"$OUT/startup.$r.log" || { cat "$OUT/startup.$r.log" >&2; exit 1; }
done
summary startup $(seq -f "$OUT/startup.%g.json" "$ROUNDS")
for b in "$BIN" "$FULL" ${BENCH_BEFORE:+"$BENCH_BEFORE"}; do
  if command -v valgrind >/dev/null; then
    valgrind --tool=callgrind --callgrind-out-file="$OUT/startup.callgrind" "$b" scan "$FIXTURE" \
      >/dev/null 2>"$OUT/startup.valgrind.log"
    echo "startup: $b: callgrind $(grep -m1 '^totals:' "$OUT/startup.callgrind" | awk '{print $2}') instructions for one scan"
  fi
  echo "startup: $b: $(stat -c %s "$b") bytes; $(file -b "$b" | cut -d, -f1,4)"
done
[[ -n "${BENCH_STARTUP_ONLY:-}" ]] && exit 0

# 1. corpus: our scan vs nixpacks plan, every repository once per run.
if command -v nixpacks >/dev/null; then
  ls -d "$CORPUS"/repos/*/ > "$TMP/repos"
  N=$(wc -l < "$TMP/repos")
  hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$OUT/corpus.json" \
    -n "repo-scanner scan x$N" "bash -c 'while read d; do $BIN scan \"\$d\" >/dev/null; done < $TMP/repos'" \
    -n "nixpacks plan x$N" "bash -c 'while read d; do nixpacks plan \"\$d\" >/dev/null 2>&1; done < $TMP/repos'" \
    -n "spawn floor: /bin/true x$N" "bash -c 'while read d; do /bin/true \"\$d\" >/dev/null; done < $TMP/repos'" >/dev/null
  summary corpus "$OUT/corpus.json"
else
  echo "corpus: nixpacks not installed (cargo install nixpacks --locked); skipped" >&2
fi

# 2. 100k-file tree.
TREE="$TMP/tree"
python3 - "$TREE" <<'PY'
import os, sys
root = sys.argv[1]
os.makedirs(root)
open(os.path.join(root, "package.json"), "w").write('{"scripts":{"start":"node server.js"}}')
open(os.path.join(root, "server.js"), "w").write("require('http')")
n = 0
for a in range(100):
    for b in range(10):
        d = os.path.join(root, "src", f"m{a}", f"p{b}")
        os.makedirs(d)
        for c in range(100):
            open(os.path.join(d, f"f{c}.js"), "w").close()
            n += 1
print(f"tree: {n} files", file=sys.stderr)
PY
hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$OUT/tree.json" \
  -n "repo-scanner scan 100k" "$BIN scan $TREE" \
  -n "find | wc -l" "bash -c 'find $TREE -type f | wc -l'" >/dev/null
summary tree "$OUT/tree.json"
RSS=$(/usr/bin/time -f %M "$BIN" scan "$TREE" 2>&1 >/dev/null | tail -1)
FIND_RSS=$(/usr/bin/time -f %M find "$TREE" -type f 2>&1 >/dev/null | tail -1)
echo "tree: peak RSS repo-scanner ${RSS} KiB, find ${FIND_RSS} KiB"

# 3. git URL from a loopback git daemon vs git clone --depth 1.
SRC=$(ls -d "$CORPUS"/repos/*/ | grep -m1 sample-django || ls -d "$CORPUS"/repos/*/ | head -1)
mkdir -p "$TMP/git"
cp -r "$SRC" "$TMP/git/repo"
git -C "$TMP/git/repo" init -q -b main
git -C "$TMP/git/repo" add -A
git -C "$TMP/git/repo" -c user.name=bench -c user.email=bench@localhost commit -qm bench
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --reuseaddr --base-path="$TMP/git" --export-all --listen=127.0.0.1 --port="$PORT" "$TMP/git" &
DAEMON_PID=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
URL="git://127.0.0.1:$PORT/repo"
hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$OUT/git.json" \
  -n "repo-scanner scan git://" "$BIN scan $URL --ref main" \
  -n "git clone --depth 1" "bash -c 'rm -rf $TMP/clone && git clone -q --depth 1 $URL $TMP/clone'" >/dev/null
summary git "$OUT/git.json"
