#!/usr/bin/env bash
# Creates (once) the project-local Python environment of train/ (issue 6) in
# tools/train-venv with the pinned packages of train/requirements.txt, from PyPI, and prints
# the path of its python. Idempotent: a venv whose stamp matches the requirements is reused.
#
# Why the odd torch install: PyPI's Linux x86_64 torch wheel is a CUDA build whose
# dependencies pull ~3 GB of nvidia-* packages plus triton. `--no-deps` alone does not work:
# libtorch links libcudart, cublas, cudnn, ... at load time, so `import torch` fails without
# them. We install torch --no-deps plus only those load-time libraries (no cusolver, nvrtc,
# nvtx, triton: loaded lazily, never on a CPU-only machine).
#
# The wheels are downloaded once into the user's cache (~/.cache/onebit/wheels, beside the
# data cache of fetch_data.sh; ONEBIT_WHEELS overrides it) and installed from there with
# --no-index, so a fresh clone on the same machine (CI's) does not download ~2.5 GB again.
# pip's own HTTP cache does not help: the registry's responses are not cacheable.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
venv="$root/tools/train-venv"
req="$root/train/requirements.txt"
wheels="${ONEBIT_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/onebit/wheels}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The CUDA libraries libtorch 2.5.1 needs to load (exact pins of its wheel metadata).
TORCH_CUDA_LOAD_DEPS=(
  nvidia-cuda-runtime-cu12==12.4.127
  nvidia-cuda-cupti-cu12==12.4.127
  nvidia-cudnn-cu12==9.1.0.70
  nvidia-cublas-cu12==12.4.5.8
  nvidia-cufft-cu12==11.2.1.3
  nvidia-curand-cu12==10.3.5.147
  nvidia-cusparse-cu12==12.3.1.170
  nvidia-nccl-cu12==2.21.5
  nvidia-nvjitlink-cu12==12.4.127
)
stamp="$venv/.onebit-stamp"
want="$( (cat "$req"; printf '%s\n' "${TORCH_CUDA_LOAD_DEPS[@]}") | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi
python=""
for candidate in python3.11 python3.12 python3 ; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; assert (3,9) <= sys.version_info[:2] <= (3,12)' 2>/dev/null; then
    python="$(command -v "$candidate")"; break
  fi
done
[ -n "$python" ] || { echo "train_env: need Python 3.9..3.12 for torch 2.5.1" >&2; exit 1; }
start=$(date +%s)
rm -rf "$venv"
"$python" -m venv "$venv" >&2
# --no-deps everywhere: requirements.txt lists every package, so nothing unpinned sneaks in.
# `pip download` skips the files it already has.
mkdir -p "$wheels"
"$venv/bin/pip" download -q --no-deps -d "$wheels" -r "$req" "${TORCH_CUDA_LOAD_DEPS[@]}" >&2
"$venv/bin/pip" install -q --no-deps --no-index --find-links "$wheels" -r "$req" \
  "${TORCH_CUDA_LOAD_DEPS[@]}" >&2
"$venv/bin/python" -c 'import torch, safetensors, numpy, tqdm; torch.ones(2).sum()' >&2
echo "$want" > "$stamp"
echo "train_env: installed in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)" >&2
echo "$venv/bin/python"
