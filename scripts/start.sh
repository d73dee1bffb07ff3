#!/usr/bin/env bash
# Starts onebit: `bash scripts/start.sh [args]` (the README start command).
# Installs the pinned toolchain, builds libonebit for this CPU, then runs daemon/main.ts;
# today that is the kernel self-check (see `bash scripts/start.sh --help`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ONEBIT_ROOT"
bash scripts/build_kernels.sh
# --allow-ffi loads the kernels (and reads /proc/cpuinfo through libc: Deno grants /proc
# only to --allow-all); read and env for the library directory and ONEBIT_* settings.
exec deno run --allow-read --allow-env --allow-ffi daemon/main.ts "$@"
