"""Writing onebit model files (DESIGN.md section 4; daemon/runtime/model_file.ts).

A model is a safetensors file whose ``__metadata__`` holds ``format`` = ``onebit``,
``format_version`` = ``1``, the graph JSON (schema in daemon/runtime/graph.ts) and a SHA-256
``checksum`` over the tensors and the onebit metadata, computed exactly as
``modelChecksum`` in model_file.ts. Tensors are laid out as the runtime's own writer does:
by element size (largest first), then by name, with the header padded to 8 bytes, so every
tensor is aligned.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: numpy dtype -> safetensors dtype name (the runtime's DType).
DTYPES = {
    np.dtype("uint64"): "U64",
    np.dtype("int32"): "I32",
    np.dtype("float32"): "F32",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("uint16"): "U16",
}

CHECKSUMMED_METADATA = ("format", "format_version", "graph", "name", "task", "producer")


def _item(h: "hashlib._Hash", b: bytes) -> None:
    h.update(struct.pack("<Q", len(b)))
    h.update(b)


def model_checksum(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> str:
    """``"sha256:<hex>"`` over tensors (sorted by UTF-8 name) and the onebit metadata."""
    h = hashlib.sha256()
    for name in sorted(tensors, key=lambda n: n.encode()):
        a = np.ascontiguousarray(tensors[name])
        _item(h, name.encode())
        _item(h, DTYPES[a.dtype].encode())
        _item(h, struct.pack(f"<{a.ndim}Q", *a.shape))
        _item(h, a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    for key in CHECKSUMMED_METADATA:
        _item(h, metadata.get(key, "").encode())
    return "sha256:" + h.hexdigest()


def serialize(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors bytes of ``tensors`` with ``metadata`` (strings only)."""
    order = sorted(tensors, key=lambda n: (-tensors[n].dtype.itemsize, n.encode()))
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in order:
        a = np.ascontiguousarray(tensors[name])
        if a.dtype not in DTYPES:
            raise ValueError(f"tensor '{name}' has dtype {a.dtype}, not a onebit dtype")
        data = a.tobytes()
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


@dataclass
class GraphWriter:
    """Collects graph inputs, ops and tensors, then writes a onebit model file."""

    inputs: list[dict] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    ops: list[dict] = field(default_factory=list)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)

    def input(self, name: str, dtype: str, shape: list[int]) -> str:
        self.inputs.append({"name": name, "dtype": dtype, "shape": [int(s) for s in shape]})
        return name

    def tensor(self, name: str, array: np.ndarray) -> str:
        assert name not in self.tensors, f"tensor '{name}' written twice"
        assert np.ascontiguousarray(array).dtype in DTYPES, (name, array.dtype)
        self.tensors[name] = np.ascontiguousarray(array)
        return name

    def op(self, op: str, name: str, inputs: list[str], attrs: dict, params: dict | None = None) -> str:
        self.ops.append({"op": op, "name": name, "inputs": list(inputs), "outputs": [name],
                         "attrs": attrs, "params": params or {}})
        return name

    def output(self, name: str) -> None:
        if name not in self.outputs:
            self.outputs.append(name)

    def graph(self) -> dict:
        return {"inputs": self.inputs, "outputs": self.outputs, "ops": self.ops}

    def to_bytes(self, name: str = "", task: str = "", producer: str = "onebit-train 0.1") -> bytes:
        metadata = {"format": "onebit", "format_version": "1",
                    "graph": json.dumps(self.graph(), separators=(",", ":")),
                    "name": name, "task": task, "producer": producer}
        metadata["checksum"] = model_checksum(self.tensors, metadata)
        return serialize(self.tensors, metadata)


def pack_bits_nhwc(values: np.ndarray) -> np.ndarray:
    """±1 values ``[..., C]`` -> u64 words ``[..., ceil(C/64)]`` (bit 1 = -1, tail bits 0)."""
    c = values.shape[-1]
    words = -(-c // 64)
    neg = np.zeros(values.shape[:-1] + (words * 64,), dtype=np.uint8)
    neg[..., :c] = values < 0
    bits = neg.reshape(values.shape[:-1] + (words, 64)).astype(np.uint64)
    shifts = np.arange(64, dtype=np.uint64)
    return np.bitwise_or.reduce(bits << shifts, axis=-1).astype(np.uint64)


def pack_indices(indices: np.ndarray, tau: int) -> np.ndarray:
    """tau-bit indices as a little-endian bit stream (daemon/runtime/codebook_indices.ts)."""
    idx = np.asarray(indices, dtype=np.int64).ravel()
    assert idx.size == 0 or (idx.min() >= 0 and idx.max() < 2 ** tau)
    bits = ((idx[:, None] >> np.arange(tau)) & 1).astype(np.uint8).ravel()
    bits = np.concatenate([bits, np.zeros(-len(bits) % 8, dtype=np.uint8)])
    return np.packbits(bits.reshape(-1, 8), axis=1, bitorder="little").ravel().astype(np.uint8)
