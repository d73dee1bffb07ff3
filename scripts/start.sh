#!/usr/bin/env bash
# Starts onebit: `bash scripts/start.sh [args]` (the README start command).
# Installs the pinned toolchain, builds libonebit for this CPU, then starts the daemon
# (`onebit serve` on configs/onebit.json, else the embedded defaults). With arguments it runs
# them as an onebit command instead: `bash scripts/start.sh selfcheck`, `... model inspect F`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$ONEBIT_ROOT"
bash scripts/build_kernels.sh
[ $# -gt 0 ] || set -- serve
# --allow-all: the daemon reads /proc (CPU flags, its own CPU time), which Deno grants only
# to --allow-all; plugin workers get narrow permissions of their own (daemon/host), which
# needs --unstable-worker-options (also set in deno.json).
exec deno run --allow-all --unstable-worker-options daemon/main.ts "$@"
