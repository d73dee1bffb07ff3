#!/usr/bin/env bash
# Runs the aarch64 tests on an x86_64 machine under qemu-user (DESIGN.md section 7).
#
#   bash scripts/aarch64.sh [step]
#
#   setup            qemu-user-static, libc6-arm64-cross, libgcc-s1-arm64-cross (apt-get, as
#                    root) and Deno linux-arm64 (npm) into tools/deno-arm64-<version>
#   zig-test LEVEL   the kernel tests of LEVEL (aarch64_generic, aarch64_cortex_a76)
#   build            both aarch64 libraries into zig-out/aarch64/lib
#   deno-test CPU    the kernel binding tests (daemon/kernels/*_test.ts) run by Deno
#                    linux-arm64 under qemu; CPU is the emulated CPU:
#                      max         every feature: loads aarch64_cortex_a76
#                      generic     the same CPU with ONEBIT_CPU_LEVEL=aarch64_generic
#                      cortex-a53  no dot product or LSE atomics: loads aarch64_generic and
#                                  must refuse aarch64_cortex_a76 (loader tests only)
#   all              every step above (the default)
#
# Only node, npm and apt-get (as root) are needed; scripts/test.sh runs each step as a suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ONEBIT_ROOT"

SYSROOT=/usr/aarch64-linux-gnu
QEMU=/usr/bin/qemu-aarch64-static
DENO_ARM64_HOME="$TOOLS/deno-arm64-$DENO_VERSION"
DENO_ARM64="$DENO_ARM64_HOME/package/deno"
AARCH64_PREFIX="$ONEBIT_ROOT/zig-out/aarch64"
APT_PACKAGES=(qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross)

missing_system_files() {
  local file
  for file in "$QEMU" "$SYSROOT/lib/ld-linux-aarch64.so.1" "$SYSROOT/lib/libc.so.6" \
    "$SYSROOT/lib/libgcc_s.so.1"; do
    [ -e "$file" ] || echo "$file"
  done
}

setup() {
  if [ -n "$(missing_system_files)" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      echo "aarch64.sh: missing $(missing_system_files | tr '\n' ' ')" >&2
      echo "aarch64.sh: install ${APT_PACKAGES[*]} as root (apt-get install), or set" \
        "ONEBIT_SKIP_AARCH64=1 to skip the aarch64 tests" >&2
      return 1
    fi
    echo "aarch64.sh: apt-get install ${APT_PACKAGES[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}" >&2 ||
      { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}" >&2; }
  fi
  # zig build -fqemu looks for `qemu-aarch64` on PATH.
  ln -sf "$QEMU" "$TOOLS/bin/qemu-aarch64"
  if [ ! -x "$DENO_ARM64" ]; then
    echo "aarch64.sh: installing Deno $DENO_VERSION linux-arm64 (npm) into $DENO_ARM64_HOME" >&2
    rm -rf "$DENO_ARM64_HOME.partial"
    mkdir -p "$DENO_ARM64_HOME.partial"
    local tarball
    tarball="$(cd "$DENO_ARM64_HOME.partial" &&
      npm pack --silent "@deno/linux-arm64-glibc@$DENO_VERSION")"
    tar -xzf "$DENO_ARM64_HOME.partial/$tarball" -C "$DENO_ARM64_HOME.partial"
    rm -rf "$DENO_ARM64_HOME"
    mv "$DENO_ARM64_HOME.partial" "$DENO_ARM64_HOME"
  fi
  "$QEMU" -L "$SYSROOT" "$DENO_ARM64" --version | head -1
}

zig_test() {
  local level="${1:?zig-test needs a level}"
  zig build test -Dlevel="$level" -fqemu --libc-runtimes /usr
}

build() {
  local level
  for level in aarch64_generic aarch64_cortex_a76; do
    zig build -Dlevel="$level" --prefix "$AARCH64_PREFIX"
  done
  ls "$AARCH64_PREFIX/lib"
}

deno_test() {
  local cpu="${1:?deno-test needs an emulated CPU: max, generic or cortex-a53}"
  local qemu_cpu=max
  # ONEBIT_TEST_EMULATED=1 tells tests they run under qemu, where JavaScript is ~100x slower
  # than native: a test whose TypeScript reference sweeps many shapes can sweep fewer.
  local -a env=(ONEBIT_LIB_DIR="$AARCH64_PREFIX/lib" ONEBIT_CPU_LEVEL= ONEBIT_TEST_UNSUPPORTED_LEVELS=
    ONEBIT_TEST_EMULATED=1)
  local -a tests=(daemon/kernels/)
  case "$cpu" in
    max) ;;
    generic) env+=(ONEBIT_CPU_LEVEL=aarch64_generic) ;;
    cortex-a53)
      # This CPU checks how the level is chosen and refused; the kernels of the generic
      # library it loads already ran in the `generic` run, with the same instructions.
      qemu_cpu=cortex-a53
      env+=(ONEBIT_TEST_UNSUPPORTED_LEVELS=aarch64_cortex_a76)
      tests=(daemon/kernels/library_test.ts daemon/kernels/cpu_level_test.ts)
      ;;
    *) echo "aarch64.sh: unknown emulated CPU '$cpu' (max, generic, cortex-a53)" >&2; return 2 ;;
  esac
  # Types were checked natively; checking again under emulation only costs minutes. The
  # arm64 Deno keeps its own cache: compiled code caches are per architecture.
  env "${env[@]}" DENO_DIR="$DENO_ARM64_HOME/cache" \
    "$QEMU" -L "$SYSROOT" -cpu "$qemu_cpu" "$DENO_ARM64" test -A --no-check "${tests[@]}"
}

step="${1:-all}"
case "$step" in
  setup) setup ;;
  zig-test) zig_test "${2:-}" ;;
  build) build ;;
  deno-test) deno_test "${2:-}" ;;
  all)
    setup
    zig_test aarch64_generic
    zig_test aarch64_cortex_a76
    build
    deno_test max
    deno_test generic
    deno_test cortex-a53
    ;;
  -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
  *) echo "aarch64.sh: unknown step '$step' (try --help)" >&2; exit 2 ;;
esac
