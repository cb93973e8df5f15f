#!/usr/bin/env bash
# The binaries to ship: target/dist/repo-scanner and target/dist/repo-scanner-full, side by
# side, each with its debug information split off to a .debug file (named by .gnu_debuglink, so
# gdb and addr2line find it). Profile `ship`: fat LTO, one codegen unit.
#
# Why: a scan is about a millisecond, most of it start-up. On Linux/glibc both are linked
# static-pie (`crt-static`): no shared libraries to map or look symbols up in, and, unlike a
# non-PIE static binary, still loaded at a random address (ASLR). glibc >= 2.34 resolves names
# (files, dns) without loading NSS modules, so git URLs still resolve. What a static-pie still
# pays is its own relocation, whole, before `main`: libgit2, OpenSSL, tokio, hyper and the
# model clients were 46k relocated words over 225 pages. `repo-scanner` links none of them
# (src/main.rs), nor a regex engine with Unicode tables; the figures are in scripts/bench.sh's
# first section and the issue notes.
#
# Only the final link gets these flags (`cargo rustc`), so proc-macros, which `crt-static`
# cannot build, stay out.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=()
if [[ "$(uname -s)" == Linux && "$(ldd --version 2>&1 || true)" =~ GLIBC|"GNU libc" ]]; then
  flags=(-C target-feature=+crt-static)
fi
mkdir -p target/dist
for name in repo-scanner repo-scanner-full; do
  cargo rustc --profile ship --locked --quiet --bin "$name" -- "${flags[@]}"
  bin=target/dist/$name
  cp "target/ship/$name" "$bin.tmp"
  objcopy --only-keep-debug "$bin.tmp" "$bin.debug"
  objcopy --strip-debug --add-gnu-debuglink="$bin.debug" "$bin.tmp"
  mv "$bin.tmp" "$bin"
  echo "$bin: $(stat -c %s "$bin") bytes ($(file -b "$bin" | cut -d, -f1,4)); debug info in $bin.debug" >&2
done
