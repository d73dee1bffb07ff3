#!/usr/bin/env bash
# Installs the pinned toolchain into ./tools when missing and puts it on PATH.
# Sourced by scripts/start.sh and scripts/test.sh; needs only node, npm and python3.
set -euo pipefail

ONEBIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ZIG_VERSION="0.15.2"
DENO_VERSION="2.9.6"
TOOLS="$ONEBIT_ROOT/tools"
ZIG_HOME="$TOOLS/zig-$ZIG_VERSION"
DENO_HOME="$TOOLS/deno-$DENO_VERSION"

mkdir -p "$TOOLS/bin"

if [ ! -x "$ZIG_HOME/ziglang/zig" ]; then
  echo "onebit: installing zig $ZIG_VERSION (PyPI ziglang) into $ZIG_HOME" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$ZIG_HOME" "ziglang==$ZIG_VERSION" >&2
fi
if [ ! -x "$DENO_HOME/node_modules/.bin/deno" ]; then
  echo "onebit: installing deno $DENO_VERSION (npm deno) into $DENO_HOME" >&2
  mkdir -p "$DENO_HOME"
  npm install --silent --no-save --no-audit --no-fund --prefix "$DENO_HOME" "deno@$DENO_VERSION" >&2
fi
ln -sf "$ZIG_HOME/ziglang/zig" "$TOOLS/bin/zig"
ln -sf "$(readlink -f "$DENO_HOME/node_modules/.bin/deno")" "$TOOLS/bin/deno"
# `zig build test -fqemu` runs aarch64 tests with `qemu-aarch64` from PATH (scripts/aarch64.sh
# installs qemu-user-static when it is missing).
if [ -x /usr/bin/qemu-aarch64-static ]; then
  ln -sf /usr/bin/qemu-aarch64-static "$TOOLS/bin/qemu-aarch64"
fi
export PATH="$TOOLS/bin:$PATH"
export DENO_NO_UPDATE_CHECK=1
