#!/usr/bin/env bash
# Soak of `repo-scanner serve` with hostile and normal traffic, all on loopback, bounded in time.
#
#   scripts/soak.sh                 # builds the release binary if missing; DURATION=60 seconds
#   DURATION=20 scripts/soak.sh
#
# Phase 1, one hostile upload at a time, each against a fresh server at default limits: the
# status, the time to answer and the server's peak RSS (VmHWM) for that input alone.
# Phase 2, DURATION seconds of a mix against one server: normal uploads (a small Flask app) and
# /healthz from 4 clients, hostile uploads from 2 clients, and a client that keeps 50
# half-open connections (half a request, then silence) open. Reports the server's peak RSS,
# p50/p99 latency of the normal requests, and errors (normal requests not answered 200).
# Targets (issue 12): each hostile upload answered within 10 s, peak RSS under 512 MiB.
# Inputs are generated here; GNU tar writes the sparse one (`tar -S`, as an attacker would).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60}
BIN=${BIN:-target/release/repo-scanner-full}
[ -x "$BIN" ] || cargo build --release --quiet --bin repo-scanner-full

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- inputs --------------------------------------------------------------------------------
mkdir -p "$work/in"
python3 - "$work/in" <<'EOF'
import gzip, io, sys, tarfile
out = sys.argv[1]
flask = {"requirements.txt": b"flask==3.0.0\ngunicorn==22.0.0\n",
         "app.py": b"from flask import Flask\napp = Flask(__name__)\n"}
def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            if kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, data.decode()
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
def entries(extra):
    return [(k, v, "file") for k, v in flask.items()] + extra
def write(name, data):
    open(f"{out}/{name}", "wb").write(data)
write("normal.tgz", gzip.compress(tar_bytes(entries([("Procfile", b"web: gunicorn app:app\n", "file")]))))
dense = b"".join(b"p%d: python worker%d.py\n" % (i, i) for i in range(45000))[: 1 << 20]
write("dense_procfile.tgz", gzip.compress(tar_bytes(entries([("Procfile", dense, "file")]))))
deep = b"services: " + b"[" * 20000 + b"]" * 20000 + b"\n"
write("nested_yaml.tgz", gzip.compress(tar_bytes(entries([("Procfile", b"web: gunicorn app:app\n", "file"), ("render.yaml", deep, "file")]))))
write("duplicates.tgz", gzip.compress(tar_bytes(entries([("Procfile", b"web: gunicorn app:app\n", "file"), ("Procfile", b"web: gunicorn other:app\n", "file")]))))
write("symlink_then_file.tgz", gzip.compress(tar_bytes(entries([("Procfile", b"/etc/passwd", "sym"), ("Procfile", b"web: gunicorn app:app\n", "file")]))))
t = tar_bytes(entries([("Procfile", b"web: gunicorn app:app\n", "file")]))
write("gzip_members.tgz", gzip.compress(t[:1024]) + gzip.compress(t[1024:]))
many = [("f%d" % i, b"x", "file") for i in range(60000)]
write("many_entries.tgz", gzip.compress(tar_bytes(many)))
long_cmd = b"web: gunicorn app:app " + b"--log-level info " * 300 + b"\n"
write("long_command.tgz", gzip.compress(tar_bytes(entries([("Procfile", long_cmd, "file")]))))
EOF
mkdir -p "$work/sparse" "$work/zeros"
truncate -s 3G "$work/sparse/big.bin"
tar -S -czf "$work/in/sparse_3g.tgz" -C "$work/sparse" big.bin
truncate -s 300M "$work/zeros/zeros.bin"
tar -czf "$work/in/gzip_bomb_300m.tgz" -C "$work/zeros" zeros.bin
rm -rf "$work/sparse" "$work/zeros"
hostile=(sparse_3g gzip_bomb_300m dense_procfile nested_yaml duplicates symlink_then_file gzip_members many_entries long_command)

start_server() {
  port=$(free_port)
  REPO_SCANNER_LOG=warn "$BIN" serve --listen "127.0.0.1:$port" "$@" 2>>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server did not start" >&2
  cat "$work/server.log" >&2
  exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$server_pid/status"; }

# ---- phase 1 ---------------------------------------------------------------------------------
echo "phase 1: one hostile upload per fresh server (default limits)"
printf '%-20s %10s %6s %-28s %8s %14s\n' input bytes status code seconds peak_rss_MiB
for h in "${hostile[@]}"; do
  start_server
  base=$(hwm_kib)
  f="$work/in/$h.tgz"
  read -r status secs < <(curl -s -o "$work/resp.json" -w '%{http_code} %{time_total}\n' \
    -H 'content-type: application/gzip' --data-binary @"$f" "http://127.0.0.1:$port/v1/scans")
  code=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("error",{}).get("code") or d.get("status"))' "$work/resp.json" 2>/dev/null || echo '?')
  peak=$(hwm_kib)
  printf '%-20s %10s %6s %-28s %8.2f %8.1f (idle %.1f)\n' "$h" "$(stat -c %s "$f")" "$status" "$code" "$secs" \
    "$(echo "$peak / 1024" | bc -l)" "$(echo "$base / 1024" | bc -l)"
  stop_server
done

# ---- phase 2 ---------------------------------------------------------------------------------
echo
echo "phase 2: ${DURATION}s mix: 4 normal clients, 2 hostile clients, 50 half-open connections"
# Default limits except the request-rate limits, which would otherwise answer most of this
# traffic with 429 (every client here is one anonymous caller on one address): the phase
# measures the work the server does, not its limiter.
printf '[limits]\nrate_per_minute = 0\nip_rate_per_minute = 0\n' >"$work/soak.toml"
start_server --config "$work/soak.toml"
python3 - "$port" "$server_pid" "$DURATION" "$work/in" "${hostile[@]}" <<'EOF'
import http.client, socket, sys, threading, time
port, pid, duration, indir = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
hostile = sys.argv[5:]
normal = open(f"{indir}/normal.tgz", "rb").read()
bodies = {h: open(f"{indir}/{h}.tgz", "rb").read() for h in hostile}
end = time.time() + duration
lock = threading.Lock()
lat, errors, hostile_done, hostile_slowest, peak = [], [], 0, 0.0, 0

def request(method, path, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"content-type": "application/gzip"} if body is not None else {}
    t = time.time()
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse(); r.read(); c.close()
    return r.status, time.time() - t

def normal_client(i):
    n = 0
    while time.time() < end:
        path, body = ("/healthz", None) if n % 4 == 3 else ("/v1/scans", normal)
        try:
            status, took = request("GET" if body is None else "POST", path, body)
            with lock:
                lat.append(took)
                if status != 200:
                    errors.append(f"{path} {status}")
        except Exception as e:
            with lock:
                errors.append(f"{path} {e!r}")
        n += 1
        time.sleep(0.05)

def hostile_client(i):
    global hostile_done, hostile_slowest
    k = i
    while time.time() < end:
        h = hostile[k % len(hostile)]; k += 1
        try:
            status, took = request("POST", "/v1/scans", bodies[h])
        except Exception as e:
            status, took = repr(e), 0.0
        with lock:
            hostile_done += 1
            hostile_slowest = max(hostile_slowest, took)

def half_open():
    held = []
    while time.time() < end:
        held = [s for s in held if s.fileno() != -1]
        while len(held) < 50:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                s.sendall(b"POST /v1/scans HTTP/1.1\r\nHost: x\r\n")
                held.append(s)
            except OSError:
                break
        time.sleep(1)
        for s in list(held):  # drop the ones the server closed
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    s.close(); held.remove(s)
            except BlockingIOError:
                pass
            except OSError:
                s.close(); held.remove(s)
    for s in held:
        s.close()

def sampler():
    global peak
    while time.time() < end + 1:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS"):
                peak = max(peak, int(line.split()[1]))
        time.sleep(0.1)

threads = [threading.Thread(target=normal_client, args=(i,)) for i in range(4)]
threads += [threading.Thread(target=hostile_client, args=(i,)) for i in range(2)]
threads += [threading.Thread(target=half_open), threading.Thread(target=sampler)]
for t in threads: t.start()
for t in threads: t.join()
hwm = [int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0]
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
print(f"normal requests: {len(lat)}  p50 {q(0.50):.1f} ms  p99 {q(0.99):.1f} ms  errors {len(errors)}")
print(f"hostile uploads: {hostile_done}  slowest answer {hostile_slowest:.2f} s")
print(f"server peak RSS: {hwm / 1024:.1f} MiB (VmHWM; sampled VmRSS peak {peak / 1024:.1f} MiB)")
for e in errors[:10]:
    print("  error:", e)
EOF
