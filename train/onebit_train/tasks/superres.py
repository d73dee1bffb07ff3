"""Super-resolution family (DESIGN.md task ``super_resolve``): an EDSR-style BiNeal 2x
super-resolver of real photographs and its 8-bit twin.

Data: the cached photographs (:func:`onebit_train.composite.load_photos`, short side 384,
a deterministic held-out split). Training pairs are random HR patches of the training photos
(random flips) and their 2x bicubic downscale (PIL ``BICUBIC``, antialiased); the test set
is two fixed crops of every held-out photo, LR at the plugin's input size and HR twice that.

Model (BiNeal: 8-bit first and last layers): ``Stem`` (8-bit 3x3 to ``width`` bits), BiNeal
blocks at full LR resolution, ``BinaryFeatures`` (binary 3x3 to ``features`` u8, zero point
128), the u8 input image concatenated with them, then the 8-bit last conv (:class:`SkipOut`,
a ``QOut``: 3x3, u8 pixels) to ``3*2*2`` channels and ``depth_to_space`` (block 2, mode
``dcr``): ``upscaled`` u8 ``[N, 2H, 2W, 3]``. The twin has the same shape with int8
``QConvBNReLU`` layers in place of the stem, the blocks and the binary tail conv.

The runtime has no add op, so the body cannot add its correction to an upscaled image, and
a pure binary body has to carry the colours through bits: measured at 200 steps, that model
reached 18.3 dB against 37.5 dB with the skip below (first 20 test crops, bicubic 39.0 dB).
So the u8 input image is concatenated (``concat``) with the u8 features before the last conv: at
``x_zero_point`` 128 the image enters as ``image - 128``, exactly as in training, and the last
conv (:class:`SkipOut`) is a learned 3x3 2x interpolation of the image (initialised to
bicubic) plus a correction from the binary features. The conv's zero padding makes the
image's border pixels see mid-grey (128) neighbours, which the features learn to correct.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from ..composite import load_photos
from ..heads import BinaryFeatures, QOut
from ..int8_twin import QConvBNReLU
from ..layers import BinealBlock, Stem, export_blocks, to_nhwc_bits
from ..modelfile import GraphWriter

SCALE = 2
LR_SIZE = (128, 128)  # plugins/superres/plugin.json "input" (height, width)
CROPS_PER_PHOTO = 2
MIN_DETAIL = 1.0  # test crops with less (blank, near-flat) are left out, see test_crops()

RECIPES = {
    # BiNeal 2x super-resolver on photo patches (HR 64x64, LR 32x32): width 32, 4 blocks.
    # 0.4-0.55 s/step on one shared thread, an evaluation 15-20 s: 900 steps in two epochs
    # (``epoch_steps``: batches between evaluations) fit 10 minutes.
    "superres": dict(model="superres", model_args=dict(width=32, blocks=4, features=32),
                     steps=900, epoch_steps=450, batch=16, patch=64, lr=1e-2,
                     tiny=dict(width=8, blocks=1, features=8)),
    # Its 8-bit twin: the same widths, int8 QAT (int8_twin.py), the same last layer.
    # 0.2-0.3 s/step, an evaluation 40-45 s (float64 convs): 700 steps in one epoch fit 5 minutes.
    "superres_int8": dict(model="superres_int8", model_args=dict(width=32, blocks=4, features=32),
                          steps=700, epoch_steps=700, batch=16, patch=64, lr=5e-3,
                          tiny=dict(width=8, blocks=1, features=8)),
}


def depth_to_space(x: torch.Tensor, block: int = SCALE) -> torch.Tensor:
    """The runtime's ``depth_to_space`` in ``dcr`` mode on NCHW: output channel ``c`` of
    pixel ``(y, x)`` is input channel ``(y % b * b + x % b) * C + c`` of ``(y / b, x / b)``."""
    n, c4, h, w = x.shape
    c = c4 // (block * block)
    x = x.view(n, block, block, c, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c, h * block, w * block)


def _cubic(d: float, a: float = -0.5) -> float:
    """The bicubic convolution kernel (Keys, a = -0.5 as PIL) at distance ``d``."""
    d = abs(d)
    if d <= 1:
        return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
    return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a if d < 2 else 0.0


def upscale_taps() -> np.ndarray:
    """Weights [2, 3] of the LR rows y-1, y, y+1 for HR rows 2y and 2y+1: bicubic 2x
    upscaling (half-pixel centres: HR row 2y+b sits at LR y + (2b-1)/4) cut to three taps
    and renormalised to sum 1."""
    taps = np.array([[_cubic(t - (2 * b - 1) / 4) for t in (-1, 0, 1)] for b in range(SCALE)])
    return taps / taps.sum(1, keepdims=True)


class SkipOut(QOut):
    """The last 8-bit layer over ``concat(image, features)``: :class:`QOut` (3x3, u8 pixels)
    whose weight is ``cat(image_weight * image_gain, feature_weight * feature_gain)``.

    The gains only reparameterize training: Adam moves every latent weight by about ``lr``
    per step, while one u8 level of a feature is worth a hundredth of a pixel level or less,
    so unscaled weights would jitter by several pixel levels from step to step. The image
    part starts as 2x upscaling (:func:`upscale_taps`) plus ``bias`` (128 when the image
    enters at zero point 128), the feature part at 0 (it learns the correction)."""

    def __init__(self, features: int, bias: float, kernel: int = 3,
                 image_gain: float = 1 / 8, feature_gain: float = 1 / 32):
        nn.Module.__init__(self)  # QOut's attributes, without its single weight parameter
        self.kernel, self.pad, self.output = kernel, kernel // 2, "u8"
        self.in_scale, self.out_scale = 1.0, 1.0
        self.image_gain, self.feature_gain = image_gain, feature_gain
        cout = 3 * SCALE * SCALE
        taps = upscale_taps()
        image = torch.zeros(cout, 3, kernel, kernel)
        for by in range(SCALE):
            for bx in range(SCALE):
                for c in range(3):
                    image[(by * SCALE + bx) * 3 + c, c] = torch.from_numpy(np.outer(taps[by], taps[bx]))
        self.image_weight = nn.Parameter(image / image_gain)
        self.feature_weight = nn.Parameter(torch.zeros(cout, features, kernel, kernel))
        self.bias = nn.Parameter(torch.full((cout,), float(bias)))

    @property
    def weight(self) -> torch.Tensor:
        return torch.cat([self.image_weight * self.image_gain, self.feature_weight * self.feature_gain], 1)


class SuperResolver(nn.Module):
    """EDSR-style BiNeal 2x super-resolver (see the module doc). Input: u8 image values
    NCHW; output: u8 pixel values NCHW at twice the size (u8 levels with STE in training)."""

    task = "super_resolve"

    def __init__(self, width: int = 32, blocks: int = 4, features: int = 32, size=LR_SIZE):
        super().__init__()
        self.config = dict(width=width, blocks=blocks, features=features, size=list(size))
        self.stem = Stem(3, width)
        self.blocks = nn.ModuleList(BinealBlock(width, width) for _ in range(blocks))
        self.tail = BinaryFeatures(width, features, kernel=3)
        self.out = SkipOut(features, bias=BinaryFeatures.ZERO_POINT)

    def forward(self, x: torch.Tensor, trace: dict | None = None) -> torch.Tensor:
        image = x
        x = self.stem(x)
        if trace is not None:
            trace["stem.bin"] = x
        for i, block in enumerate(self.blocks):
            x = block(x)
            if trace is not None:
                trace[f"b{i + 1}"] = x
        levels = self.tail(x)  # u8 - 128
        if trace is not None:
            trace["tail.q"] = levels + BinaryFeatures.ZERO_POINT
        levels = torch.cat([image - BinaryFeatures.ZERO_POINT, levels], 1)
        pixels = self.out(levels)
        if trace is not None:
            trace["tail"] = pixels
        return depth_to_space(pixels)

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        """The graph; with ``trace`` every binary and u8 layer is a graph output too."""
        g = GraphWriter()
        h, w = self.config["size"]
        image = g.input("image", "u8", [batch, h, w, 3])
        x = self.stem.export(g, image, "stem")
        names = [x]
        x = export_blocks(g, self.blocks, x, names)
        q = self.tail.export(g, x, "tail")
        names.append(q)
        q = g.op("concat", "cat", [image, q], {})
        pixels = self.out.export(g, q, "tail", x_zero_point=BinaryFeatures.ZERO_POINT)
        names.append(pixels)
        g.output(g.op("depth_to_space", "upscaled", [pixels], {"block": SCALE, "mode": "dcr"}))
        if trace:
            for name in names:
                g.output(name)
        return g


class Int8SuperResolver(nn.Module):
    """The 8-bit twin of :class:`SuperResolver`: the same widths, every binary layer an int8
    ``QConvBNReLU`` with u8 output (zero point 0), the image concatenated at zero point 0 and
    the same last layer."""

    task = "super_resolve"

    def __init__(self, width: int = 32, blocks: int = 4, features: int = 32, size=LR_SIZE):
        super().__init__()
        self.config = dict(width=width, blocks=blocks, features=features, size=list(size))
        self.stem = QConvBNReLU(3, width)
        self.blocks = nn.ModuleList(QConvBNReLU(width, width) for _ in range(blocks))
        self.tail = QConvBNReLU(width, features)
        self.out = SkipOut(features, bias=0.0)

    def layers(self) -> list[tuple[str, QConvBNReLU]]:
        return [("stem", self.stem), *((f"b{i + 1}", b) for i, b in enumerate(self.blocks)),
                ("tail.features", self.tail)]

    def forward(self, x: torch.Tensor, trace: dict | None = None) -> torch.Tensor:
        image = x
        scale = 1 / 255
        x = x * scale
        for name, layer in self.layers():
            x = layer(x, scale)
            scale = layer.out_scale()
            if trace is not None:
                trace[name] = torch.round(x / scale)
        levels = x / scale if self.training else torch.round(x / scale)  # u8 integers
        levels = torch.cat([image, levels], 1)
        pixels = self.out(levels)
        if trace is not None:
            trace["tail"] = pixels
        return depth_to_space(pixels)

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        g = GraphWriter()
        h, w = self.config["size"]
        image = g.input("image", "u8", [batch, h, w, 3])
        x, scale, names = image, 1 / 255, []
        for name, layer in self.layers():
            x = layer.export(g, x, name, scale)
            scale = layer.out_scale()
            names.append(x)
        x = g.op("concat", "cat", [image, x], {})
        pixels = self.out.export(g, x, "tail", x_zero_point=0)
        names.append(pixels)
        g.output(g.op("depth_to_space", "upscaled", [pixels], {"block": SCALE, "mode": "dcr"}))
        if trace:
            for name in names:
                g.output(name)
        return g


MODELS = {"superres": SuperResolver, "superres_int8": Int8SuperResolver}


def _to_nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images).astype(np.float32)).permute(0, 3, 1, 2).contiguous()


def downscale(hr: np.ndarray) -> np.ndarray:
    """The 2x bicubic downscale (PIL, antialiased) of one u8 HWC image."""
    h, w = hr.shape[:2]
    return np.asarray(Image.fromarray(hr).resize((w // SCALE, h // SCALE), Image.BICUBIC), np.uint8)


def upscale_bicubic(lr: np.ndarray) -> np.ndarray:
    """The baseline: 2x bicubic upscaling (PIL) of one u8 HWC image."""
    h, w = lr.shape[:2]
    return np.asarray(Image.fromarray(lr).resize((w * SCALE, h * SCALE), Image.BICUBIC), np.uint8)


class PatchBatches:
    """Random training pairs: HR patches of ``patch`` pixels from random training photos
    (random horizontal and vertical flips) and their bicubic 2x downscale, as NCHW float
    tensors of u8 values ``(lr, hr)``. An epoch is ``epoch_steps`` fresh batches."""

    def __init__(self, batch: int, patch: int, seed: int = 0, epoch_steps: int = 500):
        assert patch % SCALE == 0, patch
        self.photos = load_photos("train")
        self.batch, self.patch, self.epoch_steps = batch, patch, epoch_steps
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.epoch_steps

    def pair(self) -> tuple[np.ndarray, np.ndarray]:
        photo = self.photos[self.rng.integers(len(self.photos))]
        y = self.rng.integers(photo.shape[0] - self.patch + 1)
        x = self.rng.integers(photo.shape[1] - self.patch + 1)
        hr = photo[y:y + self.patch, x:x + self.patch]
        if self.rng.random() < 0.5:
            hr = hr[:, ::-1]
        if self.rng.random() < 0.5:
            hr = hr[::-1]
        hr = np.ascontiguousarray(hr)
        return downscale(hr), hr

    def epoch(self, shuffle: bool = True):
        """``epoch_steps`` batches; every patch is random (``shuffle`` changes nothing)."""
        for _ in range(len(self)):
            lr, hr = zip(*(self.pair() for _ in range(self.batch)))
            yield _to_nchw(np.stack(lr)), _to_nchw(np.stack(hr))


def detail(image: np.ndarray) -> float:
    """Mean absolute difference of vertical plus horizontal neighbours (u8 levels)."""
    f = image.astype(np.float64)
    return float(np.abs(np.diff(f, axis=0)).mean() + np.abs(np.diff(f, axis=1)).mean())


def test_crops(size=LR_SIZE, limit: int | None = None) -> dict[str, np.ndarray]:
    """The fixed test pairs: ``CROPS_PER_PHOTO`` HR crops (2x ``size``) of every held-out
    photo, at 1/4 and 3/4 of the free space, their bicubic downscale and its bicubic upscale
    (the baseline): ``lr``, ``hr``, ``bicubic`` u8 NHWC. Crops without detail (``detail``
    under ``MIN_DETAIL``: a blank or near-flat wallpaper) are left out: any upscaler is
    near-perfect there (up to 148 dB) and they would dominate the mean PSNR."""
    h, w = size[0] * SCALE, size[1] * SCALE
    lr, hr = [], []
    for photo in load_photos("test"):
        assert photo.shape[0] >= h and photo.shape[1] >= w, photo.shape
        for k in range(CROPS_PER_PHOTO):
            f = (2 * k + 1) / (2 * CROPS_PER_PHOTO)
            y, x = round((photo.shape[0] - h) * f), round((photo.shape[1] - w) * f)
            crop = np.ascontiguousarray(photo[y:y + h, x:x + w])
            if detail(crop) < MIN_DETAIL:
                continue
            hr.append(crop)
            lr.append(downscale(crop))
    if limit is not None:
        lr, hr = lr[:limit], hr[:limit]
    return {"lr": np.stack(lr), "hr": np.stack(hr), "bicubic": np.stack([upscale_bicubic(i) for i in lr])}


class TestCrops:
    """The test pairs of :func:`test_crops` in batches of NCHW float tensors ``(lr, hr)``."""

    def __init__(self, size=LR_SIZE, limit: int | None = None, batch: int = 10):
        self.crops = test_crops(size, limit)
        self.batch = batch

    def __len__(self) -> int:
        return -(-len(self.crops["lr"]) // self.batch)

    def epoch(self, shuffle: bool = False):
        """The crops in their fixed order (``shuffle`` changes nothing)."""
        for i in range(0, len(self.crops["lr"]), self.batch):
            yield _to_nchw(self.crops["lr"][i:i + self.batch]), _to_nchw(self.crops["hr"][i:i + self.batch])


def train_data(recipe: dict, seed: int) -> PatchBatches:
    return PatchBatches(recipe["batch"], recipe["patch"], seed, recipe.get("epoch_steps", 500))


def test_data(recipe: dict, limit: int | None = None) -> TestCrops:
    return TestCrops(recipe["model_args"].get("size", LR_SIZE), limit)


def loss(model, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """L1 on pixel values (the u8 output levels, rounded with an STE)."""
    out = model(x)
    with torch.no_grad():
        mse = float(((out - target) ** 2).mean())
    return F.l1_loss(out, target), {"psnr": psnr_of_mse(mse)}


def psnr_of_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error of 8-bit values (at least 1e-10: 148 dB)."""
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two u8 images (all pixels and channels)."""
    return psnr_of_mse(float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


@torch.no_grad()
def evaluate(model, test: TestCrops) -> dict:
    """Mean PSNR (dB, RGB, 8-bit, whole crop) of the exported semantics and of bicubic
    upscaling on the test crops; ``*_inner`` without the ``SCALE`` outer pixels (the outputs
    whose 3x3 LR window reaches into the last conv's zero padding)."""
    model.eval()
    values = []
    for x, _ in test.epoch(shuffle=False):
        values.extend(model(x).permute(0, 2, 3, 1).numpy().astype(np.uint8))
    inner = (slice(SCALE, -SCALE), slice(SCALE, -SCALE))
    hr, bicubic = test.crops["hr"], test.crops["bicubic"]
    return {"psnr": float(np.mean([psnr(o, h) for o, h in zip(values, hr)])),
            "psnr_bicubic": float(np.mean([psnr(b, h) for b, h in zip(bicubic, hr)])),
            "psnr_inner": float(np.mean([psnr(o[inner], h[inner]) for o, h in zip(values, hr)])),
            "psnr_bicubic_inner": float(np.mean([psnr(b[inner], h[inner]) for b, h in zip(bicubic, hr)]))}


def parity_inputs(recipe: dict, model, batch: int) -> dict[str, np.ndarray]:
    h, w = model.config["size"]
    rng = np.random.default_rng(7)
    return {
        "random": rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8),
        "real": test_crops((h, w), batch)["lr"],
    }


def reference_outputs(model, x: torch.Tensor) -> dict:
    """Every traced layer as the runtime returns it (bits packed, u8 NHWC) and ``upscaled``."""
    trace: dict = {}
    with torch.no_grad():
        upscaled = model(x, trace)
    out = {}
    for name, t in trace.items():
        if isinstance(model, SuperResolver) and name not in ("tail.q", "tail"):
            out[name] = to_nhwc_bits(t)  # the stem's and the blocks' bits
        else:
            out[name] = t.permute(0, 2, 3, 1).contiguous().numpy().astype(np.uint8).ravel()
    out["upscaled"] = upscaled.permute(0, 2, 3, 1).contiguous().numpy().astype(np.uint8).ravel()
    return out


def write_evalset(out: Path, limit: int | None = None) -> dict:
    """The held-out pairs for ``deno task eval``: ``lr_<i>.u8`` (LR u8 HWC), ``hr_<i>.u8``
    (HR) and ``bicubic_<i>.u8`` (PIL bicubic 2x upscale of the LR, the baseline), plus
    ``manifest.json`` with the sizes and the file names."""
    crops = test_crops(LR_SIZE, limit)
    out.mkdir(parents=True, exist_ok=True)
    pairs = []
    for i in range(len(crops["lr"])):
        entry = {}
        for key in ("lr", "hr", "bicubic"):
            entry[key] = f"{key}_{i:03d}.u8"
            (out / entry[key]).write_bytes(np.ascontiguousarray(crops[key][i]).tobytes())
        pairs.append(entry)
    manifest = {"task": "super_resolve", "scale": SCALE, "channels": 3,
                "lr": {"height": LR_SIZE[0], "width": LR_SIZE[1]},
                "hr": {"height": LR_SIZE[0] * SCALE, "width": LR_SIZE[1] * SCALE},
                "layout": "u8 HWC RGB, row-major", "pairs": pairs}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return {"evalset": str(out), "pairs": len(pairs)}
