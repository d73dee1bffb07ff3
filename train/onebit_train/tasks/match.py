"""Matching family: an R2D2-style BiNeal keypoint and descriptor network (Revaud et al., "R2D2:
Repeatable and Reliable Detector and Descriptor", NeurIPS 2019, simplified; Nie et al., arXiv
2202.03716) with binary descriptors, and its 8-bit twin.

Model (plugins/match/mod.ts reads its outputs): an 8-bit stem (3x3, stride ``stride``,
binarized), BiNeal blocks at that resolution (R2D2 keeps one resolution throughout), and three
outputs on the same grid: ``descriptors``, a binary conv with the ``binary`` transform
(batch norm folded into one integer threshold per bit, with a flip for negative scales) giving
``bits`` bits per cell, 3x3 by default (``descriptor_kernel``: a 1x1 conv as in the zoo's
R2D2 reached a third of the 3x3's rank-1 rate after the same 100 training steps, the bits of
one cell being too unstable under small warps); ``reliability`` and ``repeatability``, each an
8-bit 1x1 conv
(heads.QOut) to one f32 logit and a ``sigmoid``, reading one shared binary 1x1 conv to u8
features (heads.BinaryFeatures). Grid cell (i, j) is centred on input pixel
(``stride * j``, ``stride * i``). The twin has the same widths and strides with
int8_twin.QConvBNReLU layers; its descriptors are an 8-bit conv (same kernel) to f32 followed
by ``binarize`` (the sign bit), so it gives bit descriptors that are matched the same way.

Data: real photographs (composite.load_photos; ``graf*`` never trained on). A training pair
is a random crop of a photo at a random zoom and a random homographic warp of the photo around
it (rotation, scale, perspective, shift), both with photometric jitter; the homography gives
the exact dense correspondence, masked where it leaves the second image.

Loss (simplified R2D2): descriptors by InfoNCE over the dense grid in both directions on
tanh-relaxed descriptors (their signs are the bits; training on straight-through signs from
the start does not learn), the cells near the true match excluded from the negatives;
repeatability by R2D2's cosine similarity of local patches of the first map and the warped
second map plus its peakiness term; reliability by a class-balanced binary cross-entropy
against whether the correspondence's *bits* rank first in Hamming distance, both ways (so a
reliability above 0.5 means better odds than the average cell, whatever the model's
strength).

Evaluation (the exported semantics, the plugin's defaults): keypoints are local maxima of the
repeatability (3x3) with repeatability >= 0.5 and reliability >= 0.3 (lower than R2D2's 0.7:
this reliability is relative, 0.5 being the odds of an average cell, and the cap of 500 best by
the product does the selecting), the best 500 by their product
(daemon/sdk/vision/keypoints.ts); descriptors are matched by Hamming distance with Lowe's ratio
0.9 and a cross check (kernels/src/hamming/contract.zig); a RANSAC homography (3 px) is fitted
on the matches. Metrics on held-out photo warps: the mean matching accuracy at 3 px (the
fraction of matches whose reprojection error under the true homography is below 3 px, averaged
over pairs) and the homography accuracy (fraction of pairs whose estimate moves the image
corners by less than 5 px on average); and the same on OpenCV's graf1/graf3 pair.
bench/eval/match.ts computes them in the runtime on the set ``write_evalset`` writes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from ..composite import load_photos
from ..data import cache_root
from ..heads import BinaryFeatures, QOut
from ..int8_twin import QConvBNReLU, export_int8_blocks
from ..layers import (BinaryConv, BinealBlock, Stem, bn_affine, export_blocks, nhwc, sigmoid_f32,
                      to_nhwc_bits)
from ..modelfile import GraphWriter
from ..sks import Codebook

#: The plugin's input (plugins/match/plugin.json), height x width.
SIZE = (240, 320)
#: Keypoint and matching options of the evaluation: the plugin's defaults.
REPEATABILITY_MIN, RELIABILITY_MIN, KEYPOINTS_MAX, NMS_RADIUS = 0.5, 0.3, 500, 1
RATIO, RANSAC_THRESHOLD_PX = 0.9, 3.0
#: A match is correct within this reprojection error; a homography within this corner error.
MMA_PX, CORNER_PX = 3.0, 5.0
#: Random homographies (see :func:`random_homography`): training covers evaluation's range.
TRAIN_WARP = dict(rotation_deg=20.0, scale=1.25, perspective=0.15, shift=0.12)
EVAL_WARP = dict(rotation_deg=20.0, scale=1.25, perspective=0.15, shift=0.08)
#: Zoom of the training crops relative to the cached photos (short side 384).
TRAIN_ZOOM = (0.35, 1.0)
EVAL_SEED = 31337  # the held-out warps: drawn from this seed, round-robin over the test photos
EVAL_COUNT = 30
#: Mean absolute gray gradient (levels per pixel) below which an image has too little texture
#: to match (blank, dark or smooth photos): such crops are redrawn in training, and such test
#: photos are left out of the evaluation.
TEXTURE_MIN = 1.5
#: Tries to draw a textured training crop before taking the last one anyway.
TEXTURE_TRIES = 4
#: Loss constants: anchors per pair, InfoNCE temperature, radius (cells) of the excluded
#: near-positives, R2D2 patch size (cells) of the repeatability terms.
ANCHORS, TEMPERATURE, NEAR_CELLS, PATCH_CELLS = 256, 0.05, 1.5, 8
GRAF = "usr/share/doc/opencv-doc/examples/data"


RECIPES = {
    # BiNeal R2D2-style matcher, 128-bit descriptors, stride 2, trained on 64x96 photo pairs.
    "match": dict(model="match", model_args=dict(), steps=1700, batch=2, lr=6e-3, crop=(64, 96),
                  tiny=dict(stem=8, widths=(8, 16), maps=8, size=(48, 64))),
    # The 8-bit twin of "match": same widths and strides, int8 QAT (int8_twin.py).
    "match_int8": dict(model="match_int8", model_args=dict(), steps=800, batch=2, lr=2e-3,
                       crop=(64, 96), tiny=dict(stem=8, widths=(8, 16), maps=8, size=(48, 64))),
}


def _widths(m: float, channels) -> list[int]:
    return [max(1, round(c * m)) for c in channels]


def _record(trace: dict | None, name: str, value: torch.Tensor) -> None:
    if trace is not None:
        trace[name] = value


class BinaryDescriptors(nn.Module):
    """Binary conv (``kernel``, +1 padding) to ``bits`` descriptor bits. Training returns
    ``tanh(bn(acc))``, whose signs are the bits (the relaxation the descriptor loss trains: a
    straight-through sign from the start does not learn). Export: ``bconv2d`` with the
    ``binary`` transform, batch norm folded into one integer threshold per bit: +1 iff
    ``k*acc + c >= 0``, i.e. ``acc >= ceil(-c/k)`` for k > 0 (bit -1 iff ``acc < t``) and
    ``acc <= floor(-c/k)`` for k < 0 (a flipped channel: bit -1 iff ``acc > t``)."""

    def __init__(self, cin: int, bits: int, kernel: int = 3):
        super().__init__()
        self.conv = BinaryConv(cin, bits, kernel, 1)
        self.bn = nn.BatchNorm2d(bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.exact(x)
        return torch.tanh(self.bn(self.conv(x)))

    def folded(self) -> dict:
        k, c = bn_affine(self.bn)
        limit = self.conv.weight[0].numel() + 1  # |acc| <= cin * kh * kw
        safe = np.where(k == 0, 1.0, k)
        t = np.where(k > 0, np.ceil(-c / safe), np.floor(-c / safe))
        # k == 0: a constant bit, +1 iff c >= 0 (acc < -limit never holds, acc < limit always).
        t = np.where(k == 0, np.where(c >= 0, -limit, limit), t)
        t = np.clip(t, -limit, limit)
        return {"thresholds": t.astype(np.int32), "flips": (k < 0).astype(np.int32)}

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        p = self.folded()
        acc = self.conv(x)
        t = torch.from_numpy(p["thresholds"]).float().view(1, -1, 1, 1)
        flip = torch.from_numpy(p["flips"]).bool().view(1, -1, 1, 1)
        negative = torch.where(flip, acc > t, acc < t)
        return torch.where(negative, -1.0, 1.0)

    def export(self, g: GraphWriter, x: str, name: str) -> str:
        p = self.folded()
        return g.op("bconv2d", name, [x], {
            **self.conv.window(), "pad_value": "plus_one", "out_channels": len(p["thresholds"]),
            "transform": "binary",
        }, {"weights": g.tensor(f"{name}.w", self.conv.packed()),
            "thresholds": g.tensor(f"{name}.t", p["thresholds"]),
            "flips": g.tensor(f"{name}.flips", p["flips"])})


class Matcher(nn.Module):
    """BiNeal R2D2-style matcher: ``Stem`` (3x3, stride ``stride``, ``stem`` channels), one
    stride-1 BiNeal block per entry of ``widths`` (channels before the multiplier ``m``),
    :class:`BinaryDescriptors` (``bits``, ``descriptor_kernel``), and a shared
    ``BinaryFeatures`` (1x1, ``maps``
    channels) read by two ``QOut`` 1x1 heads. ``forward`` returns ``(descriptors ±1,
    reliability logits, repeatability logits)`` NCHW on the grid of the stem's stride."""

    task = "match"

    def __init__(self, m: float = 1.0, stem: int = 48, widths=(32, 32, 48, 64, 64),
                 bits: int = 128, descriptor_kernel: int = 3, maps: int = 32, stride: int = 2,
                 tau: int | None = None, size=SIZE):
        super().__init__()
        assert bits % 64 == 0 and stride in (1, 2), (bits, stride)
        self.config = dict(m=m, stem=stem, widths=list(widths), bits=bits,
                           descriptor_kernel=descriptor_kernel, maps=maps, stride=stride, tau=tau,
                           size=[int(s) for s in size])
        self.stride = stride
        cin = _widths(m, [stem])[0]
        self.stem = Stem(3, cin, 3, stride)
        blocks = []
        for cout in _widths(m, widths):
            blocks.append(BinealBlock(cin, cout, 1, sks=Codebook(tau) if tau else None))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.descriptors = BinaryDescriptors(cin, bits, descriptor_kernel)
        self.features = BinaryFeatures(cin, maps, 1)
        self.reliability = QOut(maps, 1, 1, self.features.scale)
        self.repeatability = QOut(maps, 1, 1, self.features.scale)

    def forward(self, x: torch.Tensor, trace: dict | None = None):
        x = self.stem(x)
        _record(trace, "stem.bin", x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            _record(trace, f"b{i + 1}", x)
        desc = self.descriptors(x)
        _record(trace, "descriptors", desc)
        levels = self.features(x)
        _record(trace, "maps.q", levels + BinaryFeatures.ZERO_POINT)
        rel, rep = self.reliability(levels), self.repeatability(levels)
        _record(trace, "reliability.logits", rel)
        _record(trace, "repeatability.logits", rep)
        return desc, rel, rep

    @staticmethod
    def trace_kind(name: str) -> str:
        """How the runtime returns a traced output: ``bits``, ``u8`` or ``f32``."""
        return "f32" if name.endswith(".logits") else "u8" if name == "maps.q" else "bits"

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        """The graph: ``descriptors`` bits, ``reliability`` and ``repeatability`` f32 (after
        a sigmoid), all on the output grid; with ``trace`` every binary and u8 layer and the
        two logits maps are outputs too."""
        g = GraphWriter()
        h, w = self.config["size"]
        x = self.stem.export(g, g.input("image", "u8", [batch, h, w, 3]), "stem")
        names = [x]
        x = export_blocks(g, self.blocks, x, names)
        desc = self.descriptors.export(g, x, "descriptors")
        q = self.features.export(g, x, "maps")
        rel = self.reliability.export(g, q, "reliability.logits", BinaryFeatures.ZERO_POINT)
        rep = self.repeatability.export(g, q, "repeatability.logits", BinaryFeatures.ZERO_POINT)
        g.output(desc)
        g.output(g.op("sigmoid", "reliability", [rel], {}))
        g.output(g.op("sigmoid", "repeatability", [rep], {}))
        if trace:
            for name in names + [q, rel, rep]:
                g.output(name)
        return g


class Int8Matcher(nn.Module):
    """The int8 twin of :class:`Matcher` (same widths and strides): the stem and every BiNeal
    block are int8 3x3 ``QConvBNReLU`` layers (u8 out), the descriptors a ``QOut`` (kernel
    ``descriptor_kernel``) to f32 and ``binarize`` (the sign), the maps a 1x1 ``QConvBNReLU``
    read by two 1x1 ``QOut``."""

    task = "match"

    def __init__(self, m: float = 1.0, stem: int = 48, widths=(32, 32, 48, 64, 64),
                 bits: int = 128, descriptor_kernel: int = 3, maps: int = 32, stride: int = 2,
                 tau: int | None = None, size=SIZE):
        super().__init__()
        assert bits % 64 == 0 and stride in (1, 2), (bits, stride)
        self.config = dict(m=m, stem=stem, widths=list(widths), bits=bits,
                           descriptor_kernel=descriptor_kernel, maps=maps, stride=stride, tau=None,
                           size=[int(s) for s in size])
        self.stride = stride
        cin = _widths(m, [stem])[0]
        self.stem = QConvBNReLU(3, cin, 3, stride)
        blocks = []
        for cout in _widths(m, widths):
            blocks.append(QConvBNReLU(cin, cout, 3, 1))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.descriptors = QOut(cin, bits, descriptor_kernel)
        self.features = QConvBNReLU(cin, maps, 1, 1)
        self.reliability = QOut(maps, 1, 1)
        self.repeatability = QOut(maps, 1, 1)

    def forward(self, x: torch.Tensor, trace: dict | None = None):
        # Activations are real values on the u8 grid of ``scale`` (int8_twin.QConvBNReLU).
        scale = 1 / 255
        x = self.stem(x * scale, scale)
        scale = self.stem.out_scale()
        _record(trace, "stem", torch.round(x / scale))
        for i, block in enumerate(self.blocks):
            x = block(x, scale)
            scale = block.out_scale()
            _record(trace, f"b{i + 1}", torch.round(x / scale))
        self.descriptors.in_scale = scale
        real = self.descriptors(x / scale if self.training else torch.round(x / scale))
        _record(trace, "descriptors.logits", real)
        if self.training:
            # The relaxation of the sign (see BinaryDescriptors); the sign is scale-free, tanh
            # needs values of order one.
            spread = real.detach().std((0, 2, 3), keepdim=True).clamp(min=1e-6)
            desc = torch.tanh(real / spread)
        else:
            desc = torch.where(real < 0, -1.0, 1.0)  # binarize: the f32 sign bit
        _record(trace, "descriptors", desc)
        f = self.features(x, scale)
        fscale = self.features.out_scale()
        levels = f / fscale if self.training else torch.round(f / fscale)
        _record(trace, "maps", levels)
        self.reliability.in_scale = self.repeatability.in_scale = fscale
        rel, rep = self.reliability(levels), self.repeatability(levels)
        _record(trace, "reliability.logits", rel)
        _record(trace, "repeatability.logits", rep)
        return desc, rel, rep

    @staticmethod
    def trace_kind(name: str) -> str:
        """How the runtime returns a traced output: ``bits``, ``u8`` or ``f32``."""
        return "f32" if name.endswith(".logits") else "bits" if name == "descriptors" else "u8"

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        """The all-8-bit graph with the outputs of :meth:`Matcher.export` (and with ``trace``
        the descriptors' f32 input as well)."""
        g = GraphWriter()
        h, w = self.config["size"]
        scale = 1 / 255
        x = self.stem.export(g, g.input("image", "u8", [batch, h, w, 3]), "stem", scale)
        scale = self.stem.out_scale()
        names = [x]
        x, scale = export_int8_blocks(g, self.blocks, x, scale, names)
        self.descriptors.in_scale = scale
        real = self.descriptors.export(g, x, "descriptors.logits", 0)
        desc = g.op("binarize", "descriptors", [real], {})
        q = self.features.export(g, x, "maps", scale)
        self.reliability.in_scale = self.repeatability.in_scale = self.features.out_scale()
        rel = self.reliability.export(g, q, "reliability.logits", 0)
        rep = self.repeatability.export(g, q, "repeatability.logits", 0)
        g.output(desc)
        g.output(g.op("sigmoid", "reliability", [rel], {}))
        g.output(g.op("sigmoid", "repeatability", [rep], {}))
        if trace:
            for name in names + [real, q, rel, rep]:
                g.output(name)
        return g


MODELS = {"match": Matcher, "match_int8": Int8Matcher}


# --- pairs ---------------------------------------------------------------------------------


def random_homography(rng: np.random.Generator, height: int, width: int, rotation_deg: float,
                      scale: float, perspective: float, shift: float) -> np.ndarray:
    """A homography of an ``height`` x ``width`` image about its centre: a rotation within
    ±``rotation_deg``, an isotropic scale in [1/``scale``, ``scale``] (log-uniform), a
    perspective that scales the homogeneous coordinate by up to 1 ± ``perspective`` at the
    borders, and a shift of up to ``shift`` of the image size. Pixel-index coordinates."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    theta = math.radians(rng.uniform(-rotation_deg, rotation_deg))
    s = math.exp(rng.uniform(-math.log(scale), math.log(scale)))
    rot = np.array([[s * math.cos(theta), -s * math.sin(theta), 0],
                    [s * math.sin(theta), s * math.cos(theta), 0], [0, 0, 1]])
    px = rng.uniform(-perspective, perspective) / (width / 2)
    py = rng.uniform(-perspective, perspective) / (height / 2)
    persp = np.array([[1, 0, 0], [0, 1, 0], [px, py, 1]])
    tx, ty = rng.uniform(-shift, shift) * width, rng.uniform(-shift, shift) * height
    centre = np.array([[1, 0, cx + tx], [0, 1, cy + ty], [0, 0, 1]])
    uncentre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    h = centre @ rot @ persp @ uncentre
    return h / h[2, 2]


def warp_image(image: np.ndarray, inverse: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` (u8 HWC) sampled bilinearly at ``inverse @ (x, y, 1)`` for every pixel (x, y)
    of a ``height`` x ``width`` output (pixel centres at integer coordinates); outside: 0."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    src = inverse @ np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    sx, sy = src[0] / src[2], src[1] / src[2]
    h, w = image.shape[:2]
    grid = np.stack([sx / (w - 1) * 2 - 1, sy / (h - 1) * 2 - 1], -1).reshape(1, height, width, 2)
    t = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float()
    out = F.grid_sample(t, torch.from_numpy(grid).float(), mode="bilinear", padding_mode="zeros",
                        align_corners=True)
    return out[0].permute(1, 2, 0).numpy()


def photometric(rng: np.random.Generator, image: np.ndarray, strength: float) -> np.ndarray:
    """Random brightness, contrast, per-channel gain, gamma and noise (``strength`` scales
    every range; 0 leaves the image as is), rounded to u8."""
    x = image.astype(np.float32) / 255
    gamma = math.exp(rng.uniform(-0.25, 0.25) * strength)
    x = np.clip(x, 0, 1) ** gamma
    contrast = 1 + rng.uniform(-0.3, 0.3) * strength
    gains = 1 + rng.uniform(-0.1, 0.1, 3).astype(np.float32) * strength
    bright = rng.uniform(-0.1, 0.1) * strength
    x = (x - 0.5) * contrast + 0.5 + bright
    x = x * gains
    x = x + rng.normal(0, 0.015 * strength, x.shape).astype(np.float32)
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def texture(image: np.ndarray) -> float:
    """Mean absolute difference of neighbouring gray levels (both directions) of a u8 image."""
    gray = image.astype(np.float32).mean(2)
    return float((np.abs(np.diff(gray, axis=1)).mean() + np.abs(np.diff(gray, axis=0)).mean()) / 2)


def make_pair(rng: np.random.Generator, photo: np.ndarray, size, zoom, warp: dict,
              jitter: float = 1.0, tries: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pair of ``size`` (H, W) from a photo: ``a`` a crop of the photo resized by a zoom
    drawn from ``zoom`` (low, high) (redrawn up to ``tries`` times while its
    :func:`texture` is below ``TEXTURE_MIN``), ``b`` the photo seen through ``H @ crop``
    with ``H`` a :func:`random_homography`; both photometrically jittered (``b`` fully, ``a``
    by half). Returns (a, b, H) with H mapping pixels of ``a`` to pixels of ``b``."""
    h, w = size
    ph, pw = photo.shape[:2]
    for _ in range(tries):
        z = max(rng.uniform(*zoom), h / ph, w / pw)
        zh, zw = max(h, round(ph * z)), max(w, round(pw * z))
        scaled = np.asarray(Image.fromarray(photo).resize((zw, zh), Image.BILINEAR))
        oy, ox = int(rng.integers(0, zh - h + 1)), int(rng.integers(0, zw - w + 1))
        a = scaled[oy:oy + h, ox:ox + w]
        if texture(a) >= TEXTURE_MIN:
            break
    hom = random_homography(rng, h, w, **warp)
    crop = np.array([[1.0, 0, -ox], [0, 1, -oy], [0, 0, 1]])  # scaled photo -> a
    b = warp_image(scaled, np.linalg.inv(hom @ crop), h, w)
    return photometric(rng, a, jitter / 2), photometric(rng, b, jitter), hom


class PairBatches:
    """Training batches: ``x`` the first images of ``batch`` pairs then their second images
    (NCHW float tensors of u8 values, ``2*batch`` images), ``target`` their homographies
    [batch, 3, 3] (float64). Fresh pairs every batch from a seeded generator; the photos are
    loaded on first use, so construction is free."""

    def __init__(self, batch: int, crop, batches: int, seed: int = 0):
        self.batch, self.crop, self.batches = batch, tuple(crop), batches
        self.rng = np.random.default_rng(seed)
        self._photos: list | None = None

    def photos(self) -> list:
        if self._photos is None:
            self._photos = load_photos("train")
        return self._photos

    def __len__(self) -> int:
        return self.batches

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        photos = self.photos()
        pairs = [make_pair(self.rng, photos[self.rng.integers(len(photos))], self.crop, TRAIN_ZOOM,
                           TRAIN_WARP, tries=TEXTURE_TRIES) for _ in range(self.batch)]
        images = np.stack([p[0] for p in pairs] + [p[1] for p in pairs])
        x = torch.from_numpy(images.astype(np.float32)).permute(0, 3, 1, 2).contiguous()
        return x, torch.from_numpy(np.stack([p[2] for p in pairs]))

    def epoch(self, shuffle: bool = True):
        for _ in range(self.batches):
            yield self.sample()


def eval_pairs(size=SIZE, count: int = EVAL_COUNT) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The held-out warps: ``count`` pairs of ``size`` (zoom 0.7..0.9, ``EVAL_WARP``, half the
    training jitter) drawn from ``EVAL_SEED``, round-robin over the test photos that have
    texture (:func:`texture` of the photo at the pair's scale >= ``TEXTURE_MIN``)."""
    rng = np.random.default_rng(EVAL_SEED)
    h, w = size
    photos = []
    for photo in load_photos("test"):
        scale = max(h, w) / max(photo.shape[:2]) * 0.8
        small = Image.fromarray(photo).resize((round(photo.shape[1] * scale), round(photo.shape[0] * scale)),
                                              Image.BILINEAR)
        if texture(np.asarray(small)) >= TEXTURE_MIN:
            photos.append(photo)
    assert photos, "no textured test photo in the data cache"
    return [make_pair(rng, photos[i % len(photos)], size, (0.7, 0.9), EVAL_WARP, jitter=0.5)
            for i in range(count)]


def read_opencv_matrix(path: Path) -> np.ndarray:
    """The first ``opencv-matrix`` of an OpenCV XML storage file (e.g. H1to3p.xml)."""
    import xml.etree.ElementTree as ET

    node = next(n for n in ET.parse(path).getroot() if n.get("type_id") == "opencv-matrix")
    rows, cols = int(node.findtext("rows")), int(node.findtext("cols"))
    values = np.array(node.findtext("data").split(), np.float64)
    assert values.size == rows * cols, f"{path}: {values.size} values, expected {rows}x{cols}"
    return values.reshape(rows, cols)


def graf_pair(size=SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's graf1.png / graf3.png (a viewpoint change of a planar scene), each resized
    (stretched) to ``size``, and the ground-truth homography H1to3p adjusted for the resize
    (pixel centres: ``x' = (x + 0.5) * s - 0.5``)."""
    folder = cache_root() / GRAF
    h, w = size
    images = []
    for name in ("graf1.png", "graf3.png"):
        with Image.open(folder / name) as im:
            im = im.convert("RGB")
            sx, sy = w / im.width, h / im.height
            images.append(np.asarray(im.resize((w, h), Image.BILINEAR), np.uint8))
    s = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
    hom = s @ read_opencv_matrix(folder / "H1to3p.xml") @ np.linalg.inv(s)
    return images[0], images[1], hom / hom[2, 2]


class EvalPairs:
    """The held-out pairs (:func:`eval_pairs`, built on first use) and the graf pair."""

    def __init__(self, size=SIZE, count: int = EVAL_COUNT):
        self.size, self.count = tuple(size), count
        self._pairs: list | None = None

    def pairs(self) -> list:
        if self._pairs is None:
            self._pairs = eval_pairs(self.size, self.count)
        return self._pairs

    def __len__(self) -> int:
        return self.count

    def epoch(self, shuffle: bool = False):
        for a, b, hom in self.pairs():
            yield _to_x(a, b), torch.from_numpy(hom)


def _to_x(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack([a, b]).astype(np.float32)).permute(0, 3, 1, 2).contiguous()


def _size(recipe: dict) -> tuple[int, int]:
    return tuple(recipe["model_args"].get("size", SIZE))


def train_data(recipe: dict, seed: int, limit: int | None = None) -> PairBatches:
    return PairBatches(recipe["batch"], recipe.get("crop", (96, 128)), recipe.get("steps", 1000), seed=seed)


def test_data(recipe: dict, limit: int | None = None) -> EvalPairs:
    return EvalPairs(_size(recipe), min(limit or EVAL_COUNT, EVAL_COUNT))


# --- loss ----------------------------------------------------------------------------------


def correspondences(hom: torch.Tensor, h: int, w: int, stride: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Where every cell of the first image's ``h`` x ``w`` grid lands on the second's: grid
    coordinates [B, h*w, 2] (x, y; cell (i, j) is centred on pixel (stride*j, stride*i)) and
    whether they fall inside the grid [B, h*w]."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                            indexing="ij")
    p = torch.stack([xs.ravel() * stride, ys.ravel() * stride, torch.ones(h * w, dtype=torch.float64)])
    q = hom.double() @ p  # [B, 3, hw]
    z = q[:, 2]
    q2 = torch.stack([q[:, 0] / z, q[:, 1] / z], -1) / stride
    valid = (z > 0) & (q2[..., 0] >= 0) & (q2[..., 0] <= w - 1) & (q2[..., 1] >= 0) & (q2[..., 1] <= h - 1)
    return q2.float(), valid


def descriptor_loss(d1: torch.Tensor, d2: torch.Tensor, q2: torch.Tensor, valid: torch.Tensor,
                    h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """InfoNCE of one pair in both directions. ``d1``, ``d2``: [bits, h, w] relaxed
    descriptors in (-1, 1) whose signs are the bits; ``q2`` [hw, 2], ``valid`` [hw] from
    :func:`correspondences`. Samples up to ``ANCHORS`` valid cells of the first image; the
    positive of an anchor is the cell nearest its correspondence, the negatives are every cell
    farther than ``NEAR_CELLS`` from it (and the reverse for the positive against the first
    image). Returns the loss, the anchor cells, their positive cells and whether each ranks
    first (strictly) in both directions in Hamming distance of the bits (the targets of the
    reliability)."""
    bits = d1.shape[0]
    cells = torch.nonzero(valid).ravel()
    anchors = cells[torch.randperm(len(cells))[:ANCHORS]]
    f1, f2 = d1.reshape(bits, -1).T, d2.reshape(bits, -1).T  # [hw, bits]
    target = q2[anchors]  # [N, 2]
    pos = (target[:, 1].round().long().clamp(0, h - 1) * w + target[:, 0].round().long().clamp(0, w - 1))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    grid = torch.stack([xs.ravel(), ys.ravel()], -1)  # [hw, 2]
    rows = torch.arange(len(anchors))
    losses, firsts = [], []
    for query, keys, positive, centre in ((f1[anchors], f2, pos, target), (f2[pos], f1, anchors, grid[anchors])):
        near = torch.cdist(centre, grid) <= NEAR_CELLS
        near[rows, positive] = False
        sim = query @ keys.T / bits  # [N, hw]
        losses.append(F.cross_entropy((sim / TEMPERATURE).masked_fill(near, float("-inf")), positive))
        with torch.no_grad():
            hard = _signs(query) @ _signs(keys).T  # bits - 2 * Hamming distance
            best = hard[rows, positive].clone()
            hard[near] = float("-inf")
            hard[rows, positive] = float("-inf")
            firsts.append(best > hard.max(1).values)
    return (losses[0] + losses[1]) / 2, anchors, pos, firsts[0] & firsts[1]


def _signs(d: torch.Tensor) -> torch.Tensor:
    return torch.where(d >= 0, 1.0, -1.0)


def repeatability_loss(r1: torch.Tensor, r2: torch.Tensor, q2: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """R2D2's repeatability loss on a batch: 1 - the mean cosine similarity of the
    ``PATCH_CELLS``-square patches (stride half a patch) of the first maps and the second
    maps warped onto the first grid (patches at least half valid, invalid cells zeroed),
    plus half the peakiness loss ``1 - mean(max - mean)`` over ``PATCH_CELLS + 1`` windows
    of each map. ``r1``, ``r2``: [B, 1, h, w] probabilities."""
    b, _, h, w = r1.shape
    norm = torch.stack([q2[..., 0] / (w - 1) * 2 - 1, q2[..., 1] / (h - 1) * 2 - 1], -1)
    warped = F.grid_sample(r2, norm.view(b, h, w, 2), mode="bilinear", align_corners=True)
    mask = valid.view(b, 1, h, w).float()
    n = PATCH_CELLS
    p1 = F.unfold(r1 * mask, n, stride=n // 2)  # [B, n*n, L]
    p2 = F.unfold(warped * mask, n, stride=n // 2)
    coverage = F.unfold(mask, n, stride=n // 2).mean(1)  # [B, L]
    cos = F.cosine_similarity(p1, p2, dim=1, eps=1e-6)
    keep = (coverage >= 0.5).float()
    cosim = 1 - (cos * keep).sum() / keep.sum().clamp(min=1)
    peaky = 0.0
    for r in (r1, r2):
        peak = F.max_pool2d(r, n + 1, 1, n // 2) - F.avg_pool2d(r, n + 1, 1, n // 2)
        peaky = peaky + (1 - peak.mean())
    return cosim + 0.5 * peaky / 2


def loss(model, x: torch.Tensor, hom: torch.Tensor) -> tuple[torch.Tensor, dict]:
    desc, rel, rep = model(x)
    b = hom.shape[0]
    _, _, h, w = desc.shape
    stride = x.shape[2] / h
    q2, valid = correspondences(hom, h, w, stride)
    d_losses, r_logits, r_targets = [], [], []
    for i in range(b):
        if int(valid[i].sum()) < 2:
            continue
        d_loss, anchors, pos, first = descriptor_loss(desc[i], desc[b + i], q2[i], valid[i], h, w)
        d_losses.append(d_loss)
        r_logits += [rel[i].ravel()[anchors], rel[b + i].ravel()[pos]]
        r_targets += [first.float(), first.float()]
    if d_losses:
        l_desc = torch.stack(d_losses).mean()
        logits, targets = torch.cat(r_logits), torch.cat(r_targets)
        # Class-balanced: positives weigh as much as negatives together (the odds of the batch).
        rate = targets.mean().clamp(1 / len(targets), 1 - 1 / len(targets))
        l_rel = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=(1 - rate) / rate)
    else:  # no pair keeps two cells in view (not drawn by TRAIN_WARP, but possible in principle)
        l_desc = l_rel = desc.sum() * 0
        targets = torch.zeros(1)
    l_rep = repeatability_loss(torch.sigmoid(rep[:b]), torch.sigmoid(rep[b:]), q2, valid)
    total = l_desc + l_rep + l_rel
    return total, {"desc": float(l_desc), "rep": float(l_rep), "rel": float(l_rel),
                   "first": float(targets.mean())}


# --- keypoints, matching, homography (the plugin's pipeline) -------------------------------


def select_keypoints(rep: np.ndarray, rel: np.ndarray, radius: int = NMS_RADIUS,
                     rep_min: float = REPEATABILITY_MIN, rel_min: float = RELIABILITY_MIN,
                     limit: int = KEYPOINTS_MAX) -> np.ndarray:
    """daemon/sdk/vision/keypoints.ts ``selectKeypoints`` on [h, w] f32 maps: the maxima of
    their (2r+1)² window (plateaus keep their first pixel in row-major order) where both maps
    pass their minimum, best ``limit`` by ``rep * rel`` (ties: row-major). Returns [K, 2]
    (x, y) grid cells."""
    h, w = rep.shape
    rep, rel = rep.astype(np.float64), rel.astype(np.float64)  # f32 values compared in double
    padded = np.pad(rep, radius, constant_values=-np.inf)
    peak = (rep >= rep_min) & (rel >= rel_min)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx == 0 and dy == 0:
                continue
            u = padded[radius + dy:radius + dy + h, radius + dx:radius + dx + w]
            earlier = dy < 0 or (dy == 0 and dx < 0)
            peak &= ~((u > rep) | ((u == rep) & earlier))
    ys, xs = np.nonzero(peak)  # row-major
    score = rep[ys, xs] * rel[ys, xs]
    order = np.argsort(-score, kind="stable")[:limit]
    return np.stack([xs[order], ys[order]], -1)


def match_descriptors(q: np.ndarray, t: np.ndarray, ratio: float = RATIO) -> np.ndarray:
    """The kernel library's Hamming matcher (kernels/src/hamming/contract.zig) with the cross
    check on: ``q`` [Nq, bits], ``t`` [Nt, bits] as ±1. Returns [M, 3] (query, train,
    distance), closest first (ties: query index), as daemon/sdk/vision/matching.ts."""
    if len(q) == 0 or len(t) == 0:
        return np.zeros((0, 3), np.int64)
    bits = q.shape[1]
    dist = np.rint((bits - q.astype(np.float64) @ t.astype(np.float64).T) / 2).astype(np.int64)
    best = dist.argmin(1)  # argmin: the lowest index on ties
    best_d = dist[np.arange(len(q)), best]
    second = np.sort(dist, 1)[:, 1] if dist.shape[1] > 1 else np.full(len(q), np.iinfo(np.int64).max)
    ok = (np.float32(ratio) >= 1) | (best_d.astype(np.float32) < np.float32(ratio) * second.astype(np.float32))
    ok &= dist.argmin(0)[best] == np.arange(len(q))
    out = np.stack([np.flatnonzero(ok), best[ok], best_d[ok]], -1)
    return out[np.lexsort((out[:, 0], out[:, 2]))]


def apply_h(hom: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = np.concatenate([pts, np.ones((len(pts), 1))], 1) @ hom.T
    return p[:, :2] / p[:, 2:3]


def fit_homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """The normalised DLT (Hartley & Zisserman, algorithm 4.2) of >= 4 point pairs."""
    def normaliser(p):
        c = p.mean(0)
        d = np.linalg.norm(p - c, axis=1).mean()
        s = math.sqrt(2) / d if d > 1e-12 else 1.0
        return np.array([[s, 0, -s * c[0]], [0, s, -s * c[1]], [0, 0, 1]])
    t1, t2 = normaliser(src), normaliser(dst)
    a, b = apply_h(t1, src), apply_h(t2, dst)
    rows = []
    for (x, y), (u, v) in zip(a, b):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, _, vt = np.linalg.svd(np.array(rows))
    hom = np.linalg.inv(t2) @ vt[-1].reshape(3, 3) @ t1
    if abs(hom[2, 2]) < 1e-12 or not np.isfinite(hom).all():
        return None
    return hom / hom[2, 2]


def find_homography(src: np.ndarray, dst: np.ndarray, threshold: float = RANSAC_THRESHOLD_PX,
                    iterations: int = 2000, seed: int = 1) -> tuple[np.ndarray | None, int]:
    """RANSAC over 4-pair samples with an adaptive stop (confidence 0.999) and a refit on the
    inliers, as daemon/sdk/vision/homography.ts (its own seeded sampler). Returns (H or
    None, inlier count)."""
    n = len(src)
    if n < 4:
        return None, 0
    rng = np.random.default_rng(seed)
    best, best_count, best_mask, needed, i = None, -1, None, iterations, 0
    while i < min(needed, iterations):
        i += 1
        sample = rng.choice(n, 4, replace=False)
        hom = fit_homography(src[sample], dst[sample])
        if hom is None:
            continue
        with np.errstate(all="ignore"):
            mask = np.sum((apply_h(hom, src) - dst) ** 2, 1) <= threshold ** 2
        if mask.sum() > best_count:
            best, best_count, best_mask = hom, int(mask.sum()), mask
            fail = 1 - (best_count / n) ** 4
            needed = 0 if fail <= 1e-12 else math.ceil(math.log(1 - 0.999) / math.log(max(fail, 1e-12)))
    if best is None:
        return None, 0
    refit = fit_homography(src[best_mask], dst[best_mask]) if best_mask.sum() >= 4 else None
    if refit is not None:
        with np.errstate(all="ignore"):
            mask = np.sum((apply_h(refit, src) - dst) ** 2, 1) <= threshold ** 2
        if mask.sum() >= best_count:
            best, best_count = refit, int(mask.sum())
    return best, best_count


def corner_error(estimate: np.ndarray | None, truth: np.ndarray, height: int, width: int) -> float:
    """Mean distance of the image corners mapped by ``estimate`` and by ``truth`` (inf when
    there is no estimate)."""
    if estimate is None:
        return math.inf
    corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float64)
    with np.errstate(all="ignore"):
        err = np.linalg.norm(apply_h(estimate, corners) - apply_h(truth, corners), axis=1).mean()
    return float(err) if np.isfinite(err) else math.inf


@torch.no_grad()
def match_pair(model, x: torch.Tensor, hom: np.ndarray) -> dict:
    """The plugin's pipeline on one pair ``x`` [2, 3, H, W] in eval mode: keypoints, matches,
    RANSAC homography; their scores under the true ``hom``."""
    model.eval()
    desc, rel, rep = model(x)
    height, width = x.shape[2:]
    stride = width / desc.shape[3]
    found = []
    for k in range(2):
        cells = select_keypoints(sigmoid_f32(rep[k, 0].numpy()), sigmoid_f32(rel[k, 0].numpy()))
        found.append((cells * stride, desc[k][:, cells[:, 1], cells[:, 0]].T.numpy()))
    (p1, f1), (p2, f2) = found
    matches = match_descriptors(f1, f2)
    src, dst = p1[matches[:, 0]].astype(np.float64), p2[matches[:, 1]].astype(np.float64)
    correct = np.linalg.norm(apply_h(hom, src) - dst, axis=1) < MMA_PX if len(matches) else np.zeros(0, bool)
    estimate, inliers = find_homography(src, dst)
    error = corner_error(estimate, hom, height, width)
    return {"keypoints": (len(p1) + len(p2)) / 2, "matches": len(matches),
            "mma": float(correct.mean()) if len(matches) else 0.0, "inliers": inliers,
            "corner_error": error, "ok": float(error < CORNER_PX)}


def evaluate(model, test: EvalPairs) -> dict:
    """Mean matching accuracy at 3 px and homography accuracy at 5 px on the held-out warps
    (plus mean keypoints and matches per image pair), and the graf pair's corner error."""
    rows = [match_pair(model, x, hom.numpy()) for x, hom in test.epoch(shuffle=False)]
    a, b, hom = graf_pair(test.size)
    graf = match_pair(model, _to_x(a, b), hom)
    mean = lambda key: float(np.mean([r[key] for r in rows]))  # noqa: E731
    return {"homography_accuracy_5px": mean("ok"), "mma_3px": mean("mma"),
            "keypoints": mean("keypoints"), "matches": mean("matches"),
            "graf_corner_error_px": min(graf["corner_error"], 1e6), "graf_inliers": float(graf["inliers"]),
            "graf_mma_3px": graf["mma"]}


# --- parity and evalset --------------------------------------------------------------------


def parity_inputs(recipe: dict, model, batch: int) -> dict[str, np.ndarray]:
    h, w = model.config["size"]
    rng = np.random.default_rng(7)
    pairs = eval_pairs((h, w), max(1, (batch + 1) // 2))
    real = [image for a, b, _ in pairs for image in (a, b)][:batch]
    return {"random": rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8), "real": np.stack(real)}


#: The sigmoid differs from PyTorch's in the last ulp; its exact f32 input is traced.
PARITY_TOLERANCE = {"reliability": {"abs": 1e-6}, "repeatability": {"abs": 1e-6}}


def reference_outputs(model, x: torch.Tensor) -> dict:
    """Every graph output of ``export(trace=True)`` as the runtime returns it: bits packed,
    u8 layers as bytes, f32 logits NHWC, the maps as the runtime's sigmoid of the logits."""
    trace: dict = {}
    model.eval()
    with torch.no_grad():
        model(x, trace)
    out = {}
    for name, t in trace.items():
        kind = model.trace_kind(name)
        if kind == "bits":
            out[name] = to_nhwc_bits(t)
        elif kind == "u8":
            out[name] = nhwc(t).astype(np.uint8).ravel()
        else:
            out[name] = nhwc(t).astype(np.float32).ravel()
    for name in ("reliability", "repeatability"):
        out[name] = sigmoid_f32(nhwc(trace[f"{name}.logits"])).ravel()
    return out


def write_evalset(out: Path, limit: int | None = None) -> dict:
    """The held-out pairs of the evaluation at the plugin's input size: the graf pair and the
    first ``limit`` (default ``EVAL_COUNT``) warps of :func:`eval_pairs`, each image raw u8
    RGB ``H x W x 3`` (``<name>.a.rgb``, ``<name>.b.rgb``), and ``manifest.json`` listing them
    with their homographies (row-major, mapping pixels of ``a`` to pixels of ``b``, pixel
    centres at integer coordinates). Deterministic (``EVAL_SEED``), the same warps as
    ``test_data``."""
    h, w = SIZE
    count = min(limit or EVAL_COUNT, EVAL_COUNT)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    pairs = [("graf", "graf", graf_pair(SIZE))]
    pairs += [(f"warp{i:03d}", "warp", p) for i, p in enumerate(eval_pairs(SIZE, count))]
    for name, kind, (a, b, hom) in pairs:
        (out / f"{name}.a.rgb").write_bytes(np.ascontiguousarray(a).tobytes())
        (out / f"{name}.b.rgb").write_bytes(np.ascontiguousarray(b).tobytes())
        entries.append({"name": name, "kind": kind, "a": f"{name}.a.rgb", "b": f"{name}.b.rgb",
                        "homography": [float(v) for v in hom.ravel()]})
    manifest = {"family": "match", "height": h, "width": w, "channels": 3, "pairs": entries,
                "mma_px": MMA_PX, "corner_px": CORNER_PX,
                "source": f"graf1/graf3 (opencv-doc, H1to3p) and held-out photo warps, seed {EVAL_SEED}"}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return {"family": "match", "pairs": len(entries), "out": str(out)}
