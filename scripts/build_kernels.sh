#!/usr/bin/env bash
# Builds libonebit for this machine's CPU level into zig-out/lib/libonebit-<level>.so.
#
#   bash scripts/build_kernels.sh                 the level daemon/main.ts would load here
#   bash scripts/build_kernels.sh --level <name>  another level (e.g. x86_64_v3)
#   bash scripts/build_kernels.sh --dist          also every level (zig build dist)
#
# The level comes from `daemon/main.ts cpu-level`, so the build and the loader apply the
# same detection rules (and both honour ONEBIT_CPU_LEVEL). zig builds into new files and
# installs by replacing them, so a daemon that has the old library mapped keeps running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ONEBIT_ROOT"

level=""
dist=0
while [ $# -gt 0 ]; do
  case "$1" in
    --level) level="${2:?--level needs a CPU level}"; shift 2 ;;
    --dist) dist=1; shift ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build_kernels.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$level" ]; then
  # --allow-ffi: Deno lets only --allow-all read /proc/cpuinfo; cpu_level.ts reads it via libc.
  level="$(deno run --quiet --allow-env --allow-ffi daemon/main.ts cpu-level)"
fi

echo "onebit: building zig-out/lib/libonebit-$level.so" >&2
zig build -Dlevel="$level"
if [ "$dist" = 1 ]; then
  echo "onebit: building every CPU level (zig build dist)" >&2
  zig build dist
fi
