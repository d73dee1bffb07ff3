#!/usr/bin/env bash
# Runs every test of onebit: `bash scripts/test.sh` (the README test command, and CI's).
#
#   1. toolchain (scripts/tools.sh) and libonebit for this CPU (scripts/build_kernels.sh)
#   2. the Zig kernel tests for every CPU level this machine runs (x86_64: baseline, v3,
#      and v4 when the CPU has it; a level it cannot run is compiled and reported skipped)
#   3. zig fmt --check, deno fmt --check, deno lint, deno check over daemon/ test/ bench/ plugins/
#   4. the Debian packages the daemon tests drive (scripts/system_packages.sh) and the Python
#      environment of train/ (scripts/train_env.sh, exported as ONEBIT_PYTHON), then
#      deno test -A (every *_test.ts, the spawned-daemon integration tests included)
#   5. aarch64 under qemu-user (scripts/aarch64.sh): the Zig kernel tests of both aarch64
#      levels and the kernel binding tests run by Deno linux-arm64 on emulated CPUs. Needs
#      root for apt-get when qemu is missing; ONEBIT_SKIP_AARCH64=1 skips it outside CI.
#
# Step 5 runs beside steps 1-4 (compiles and emulation each keep one core busy; CI has two)
# and its log is printed after theirs; ONEBIT_TEST_SERIAL=1 runs everything in order.
# A failing suite does not stop the others. The last line is the summary,
# "N passed, N failed" (suites), and the exit code is 1 when any suite failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh" || exit 1
# tools.sh sets -e for the scripts that source it; here failures are counted, not fatal.
set +e
cd "$ONEBIT_ROOT" || exit 1

started=$SECONDS
results_dir="$(mktemp -d)"
trap 'rm -rf "$results_dir"' EXIT
# Each suite appends "<ok|FAILED|skipped> <name>" to the results file of its lane.
results="$results_dir/main.results"

section() {
  printf '\n==== %s\n' "$1"
}

# suite NAME COMMAND...: runs COMMAND as one counted suite; returns its success.
suite() {
  local name="$1"
  shift
  section "$name"
  local start=$SECONDS
  if "$@"; then
    echo "ok $name" >>"$results"
    printf -- '---- ok: %s (%ds)\n' "$name" $((SECONDS - start))
  else
    echo "FAILED $name" >>"$results"
    printf -- '---- FAILED: %s (%ds)\n' "$name" $((SECONDS - start))
    return 1
  fi
}

# not_run NAME REASON: counts a suite that could not run as failed.
not_run() {
  section "$1"
  echo "FAILED $1" >>"$results"
  printf -- '---- FAILED: %s (not run: %s)\n' "$1" "$2"
}

skip() {
  section "$1"
  echo "skipped $1" >>"$results"
  printf -- '---- skipped: %s (%s)\n' "$1" "$2"
}

aarch64_lane() {
  if ! suite "aarch64: setup (qemu-user, Deno linux-arm64)" bash scripts/aarch64.sh setup; then
    not_run "aarch64: tests" "aarch64 setup failed"
    return
  fi
  suite "aarch64: zig-test aarch64_generic" bash scripts/aarch64.sh zig-test aarch64_generic
  suite "aarch64: zig-test aarch64_cortex_a76" bash scripts/aarch64.sh zig-test aarch64_cortex_a76
  if ! suite "aarch64: build" bash scripts/aarch64.sh build; then
    not_run "aarch64: deno-test" "the aarch64 libraries did not build"
    return
  fi
  # The emulated Deno runs are the longest suites and each keeps one core busy: by now the
  # other steps are usually done, so two of them share the machine.
  (results="$results_dir/aarch64_max.results" \
    suite "aarch64: deno-test max" bash scripts/aarch64.sh deno-test max) \
    >"$results_dir/aarch64_max.log" 2>&1 &
  local max_pid=$!
  suite "aarch64: deno-test generic" bash scripts/aarch64.sh deno-test generic
  suite "aarch64: deno-test cortex-a53" bash scripts/aarch64.sh deno-test cortex-a53
  wait "$max_pid"
  cat "$results_dir/aarch64_max.log"
}

# --- 5 (started first, runs beside 1-4) -------------------------------------------------
aarch64_pid=""
if [ "$(uname -m)" = aarch64 ]; then
  skip "aarch64 under qemu" "this machine is aarch64: step 2 runs the aarch64 tests natively"
elif [ "${ONEBIT_SKIP_AARCH64:-}" = 1 ] && [ "${CI:-}" != true ]; then
  skip "aarch64 under qemu" "ONEBIT_SKIP_AARCH64=1"
else
  if [ "${ONEBIT_SKIP_AARCH64:-}" = 1 ]; then
    echo "test.sh: ONEBIT_SKIP_AARCH64 is ignored in CI: CI runs the aarch64 tests" >&2
  fi
  if [ "${ONEBIT_TEST_SERIAL:-}" = 1 ]; then
    aarch64_deferred=1
  else
    echo "test.sh: aarch64 tests run in the background; their log follows the other steps"
    (results="$results_dir/aarch64.results" aarch64_lane) >"$results_dir/aarch64.log" 2>&1 &
    aarch64_pid=$!
  fi
fi

# --- 1. build ---------------------------------------------------------------------------
native_level="$(deno run --quiet --allow-env --allow-ffi daemon/main.ts cpu-level)"
levels="$(deno run --quiet --allow-env --allow-ffi daemon/main.ts cpu-level --all)"
if [ -z "$native_level" ] || [ -z "$levels" ]; then
  not_run "build libonebit" "daemon/main.ts cpu-level could not name this CPU's level"
else
  suite "build libonebit-$native_level.so" bash scripts/build_kernels.sh --level "$native_level"
fi

# --- 2. Zig kernel tests ----------------------------------------------------------------
for level in $levels; do
  suite "zig build test -Dlevel=$level" zig build test -Dlevel="$level"
done
# x86 levels this CPU cannot execute (x86_64_v4 on an AVX2-only machine; qemu-user does not
# emulate AVX-512): their library and tests are compiled, and the run is counted as skipped.
if [ "$(uname -m)" = x86_64 ] && [ -n "$levels" ]; then
  for level in x86_64_baseline x86_64_v3 x86_64_v4; do
    if ! grep -qw "$level" <<<"$levels"; then
      if suite "zig build test-build -Dlevel=$level (compile only)" zig build test-build -Dlevel="$level"; then
        skip "zig build test -Dlevel=$level" "this CPU cannot run $level (daemon/main.ts cpu-level --all: $(tr '\n' ' ' <<<"$levels"))"
      fi
    fi
  done
fi

# --- 3. static checks -------------------------------------------------------------------
# Only directories holding TypeScript, so no tool sees an empty target.
ts_dirs=()
for dir in daemon test bench plugins; do
  if [ -n "$(find "$dir" -name '*.ts' -print -quit 2>/dev/null)" ]; then ts_dirs+=("$dir"); fi
done
suite "zig fmt --check" zig fmt --check build.zig kernels
suite "deno fmt --check ${ts_dirs[*]}" deno fmt --check "${ts_dirs[@]}"
suite "deno lint ${ts_dirs[*]}" deno lint "${ts_dirs[@]}"
suite "deno check ${ts_dirs[*]}" deno check "${ts_dirs[@]}"

# --- 4. Deno tests ----------------------------------------------------------------------
# The daemon's tests drive real programs: ffmpeg (frame sources), promtool and prometheus
# (metrics), mosquitto (MQTT) and chromium (dashboard). Installed when missing.
suite "system packages" bash scripts/system_packages.sh
# The Python environment of train/ (torch, safetensors; scripts/train_env.sh, idempotent): the
# training parity tests run in it, and the model file's interop test finds Python's
# safetensors through ONEBIT_PYTHON instead of being ignored.
if suite "python environment (train/)" bash scripts/train_env.sh; then
  export ONEBIT_PYTHON="$ONEBIT_ROOT/tools/train-venv/bin/python"
fi
suite "deno test -A" deno test -A

# --- 5. aarch64 under qemu --------------------------------------------------------------
if [ -n "$aarch64_pid" ]; then
  section "aarch64 under qemu: log of the background run"
  wait "$aarch64_pid"
  cat "$results_dir/aarch64.log"
elif [ -n "${aarch64_deferred:-}" ]; then
  results="$results_dir/aarch64.results" aarch64_lane
fi

# --- summary ----------------------------------------------------------------------------
section "summary"
all_results="$(cat "$results_dir"/*.results 2>/dev/null)"
passed="$(grep -c '^ok ' <<<"$all_results")"
failed="$(grep -c '^FAILED ' <<<"$all_results")"
skipped="$(grep -c '^skipped ' <<<"$all_results")"
grep '^FAILED ' <<<"$all_results" | sed 's/^FAILED /failed: /'
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "test.sh took $((SECONDS - started))s; suites:"
# Alone on the last line, as test runners end: "N passed, N failed[, N skipped]".
echo "$summary"
[ "$failed" -eq 0 ]
