#!/usr/bin/env bash
# Load benchmark of `repo-scanner serve`, all on loopback, bounded in time (~1 min).
#
#   scripts/load.sh            # builds the release binary, then runs every phase
#   DURATION=5s scripts/load.sh
#
# Uses wrk (Debian package `wrk`; installed here if missing). oha would do as well, but
# `cargo install oha` builds ~300 crates, which on a 2-core machine costs more than the runs.
# Phases:
#   1. cached scan, ref = full commit id (what a deploy sends): 50 and 200 connections
#   2. cached scan, ref = branch (an ls-remote to the git daemon each time): 50 connections
#   3. uncached scans by URL (every request another subdir: ls-remote + fetch + cascade)
# Traffic goes only to 127.0.0.1: the server, the git daemon it scans from. Target: p99 under
# 10 ms for phase 1 at 200 connections.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release --quiet --bin repo-scanner-full
BIN=target/release/repo-scanner-full

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

commit_all() { git -C "$1" add -A && git -C "$1" -c user.name=load -c user.email=load@example.invalid commit -q -m load; }
# `app`: one Flask app (the cached phases). `mono`: 1000 such apps under apps/aN, each
# request of the uncached phase scanning another one (another cache key).
repo=$work/repos/app
mkdir -p "$repo"
git -C "$repo" init -q --initial-branch=main
printf 'flask==3.0.0\ngunicorn==22.0.0\n' >"$repo/requirements.txt"
printf 'from flask import Flask\napp = Flask(__name__)\n' >"$repo/app.py"
printf 'web: gunicorn app:app\n' >"$repo/Procfile"
commit_all "$repo"
sha=$(git -C "$repo" rev-parse HEAD)
mono=$work/repos/mono
mkdir -p "$mono"
git -C "$mono" init -q --initial-branch=main
for i in $(seq 0 999); do
  mkdir -p "$mono/apps/a$i"
  cp "$repo/requirements.txt" "$repo/app.py" "$repo/Procfile" "$mono/apps/a$i/"
done
commit_all "$mono"

git_port=$(free_port)
"$(git --exec-path)/git-daemon" --reuseaddr --export-all --listen=127.0.0.1 --port="$git_port" \
  --base-path="$work/repos" "$work/repos" 2>"$work/git-daemon.log" &
pids+=($!)

cat >"$work/serve.toml" <<EOF
[ssrf]
allow = ["127.0.0.0/8"]
[limits]
max_concurrent_scans = 4
max_queued_scans = 256
rate_per_minute = 0
# wrk is one client address opening 200 connections: no per-address limits here.
ip_rate_per_minute = 0
max_connections_per_ip = 1024
EOF
port=$(free_port)
"$BIN" serve --listen "127.0.0.1:$port" --config "$work/serve.toml" --log warn 2>"$work/serve.log" &
pids+=($!)
url=git://127.0.0.1:$git_port/app
mono_url=git://127.0.0.1:$git_port/mono
for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
  sleep 0.1
done

report='done = function(summary, latency, requests)
  io.write(string.format("non-2xx/3xx: %d  errors: connect %d read %d timeout %d\n",
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.timeout))
end'
post_lua() { # $1: JSON body
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n%s\n' "'$1'" "$report"
}

# Warm the cache, and check it answers.
body_sha="{\"source\": \"$url\", \"ref\": \"$sha\"}"
curl -sf -H 'Content-Type: application/json' -d "$body_sha" "http://127.0.0.1:$port/v1/scans" | grep -q gunicorn
post_lua "$body_sha" >"$work/sha.lua"
post_lua "{\"source\": \"$url\", \"ref\": \"main\"}" >"$work/branch.lua"
cat >"$work/uncached.lua" <<EOF
local threads = 0
setup = function(thread) thread:set("offset", threads * 500); threads = threads + 1 end
local i = 0
request = function()
  i = i + 1
  local body = string.format('{"source": "$mono_url", "ref": "main", "subdir": "apps/a%d"}', (offset + i) % 1000)
  return wrk.format("POST", "/v1/scans", {["Content-Type"] = "application/json"}, body)
end
$report
EOF

run() { # $1: title, then wrk args
  echo "== $1"
  shift
  wrk --latency -t"$THREADS" "$@" "http://127.0.0.1:$port/v1/scans" | grep -E 'Latency|50%|90%|99%|Requests/sec|requests in|non-2xx'
}
run "cached, ref = commit id, 50 connections" -c50 -d"$DURATION" -s "$work/sha.lua"
run "cached, ref = commit id, 200 connections" -c200 -d"$DURATION" -s "$work/sha.lua"
run "cached, ref = branch (ls-remote each), 50 connections" -c50 -d"$DURATION" -s "$work/branch.lua"
run "uncached (ls-remote + fetch + scan), 4 connections" -c4 -d"$DURATION" --timeout 30s -s "$work/uncached.lua"
echo "== server metrics"
curl -sf "http://127.0.0.1:$port/metrics" | grep -E '^repo_scanner_(cache_hits|cache_misses|git_fetches|rejections)_total|_count '
