"""Segmentation family: an FCN-style BiNeal segmenter (daemon/runtime/zoo.ts ``buildFcn``,
small) on semi-real scenes (composite.py: Fashion-MNIST glyphs composited onto crops of real
photographs, with exact masks), and its 8-bit twin.

11 classes: 0 background, 1..10 the Fashion-MNIST classes (``LABELS``). The graph, at the
plugin's input size (``EXPORT_SIZE``, plugins/segment/plugin.json):

- BiNeal: u8 image -> 8-bit ``Stem`` (3x3, stride 2, binarized) -> stages of BiNeal blocks to
  strides 4, 8 and 16 -> FCN skip (``skip.up``: the stride-16 bits upsampled x2 nearest,
  ``skip.cat``: concatenated with the stride-8 bits, ``skip``: a BiNeal block) -> head
  (``head``: binary 3x3 conv to f32, quantized to u8; ``scores``: 8-bit 1x1 ``qconv2d`` to f32
  class scores at stride 8) -> ``scores.up`` (bilinear x8, half-pixel) -> ``mask`` (argmax,
  i32 ``[N, H, W, 1]``), what plugins/segment/mod.ts reads.
- int8 twin: the same widths and strides, every conv a ``QConvBNReLU`` (u8 -> u8); the two
  branches of the concat share one output scale (a concat moves bytes, so both must mean the
  same real values per level); head ``QConvBNReLU`` 3x3 + ``QOut`` 1x1 to the f32 ``scores``.

Training: cross entropy of the stride-8 scores upsampled bilinearly to the scene's size,
class-weighted (the background is ~92% of the pixels). Scenes are drawn on the fly from a
seeded generator, square ``crop`` x ``crop`` for training (the convs are size-agnostic), at
``EXPORT_SIZE`` for evaluation and the evalset.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..composite import SceneMaker
from ..heads import BinaryFeatures, QOut
from ..int8_twin import QConvBNReLU
from ..layers import BinealBlock, Stem, to_nhwc_bits
from ..modelfile import GraphWriter
from ..sks import Codebook

LABELS = ("background", "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
          "Sneaker", "Bag", "Ankle boot")
CLASSES = len(LABELS)
#: (H, W) of the exported graph: the plugin's input (plugins/segment/plugin.json).
EXPORT_SIZE = (128, 256)
#: Stride of the class scores (the FCN head reads the stride-8 features).
SCORE_STRIDE = 8
#: Cross-entropy weight of the background class (objects: 1). The background covers ~92% of
#: the pixels and each object class ~0.8%; 0.25 keeps the objects from being drowned without
#: making the model paint halos around them.
BACKGROUND_WEIGHT = 0.25
#: Scenes of the held-out sets (evaluate during training, the evalset of ``deno task eval``).
TEST_SCENES = 200
EVALSET_SCENES = 300
TEST_SEED = 20240611

RECIPES = {
    # BiNeal FCN segmenter on the composite scenes (Fashion-MNIST glyphs on real photos).
    # ~0.40 s/step on 1 thread (0.30 s forward/backward + 0.10 s drawing 16 scenes), ~7 s
    # per evaluation: 1200 steps and 3 evaluations fit the 10-minute budget.
    "segment": dict(model="segment", model_args=dict(m=1.0), steps=1200, epoch_steps=400,
                    batch=16, crop=128, lr=2e-3,
                    tiny=dict(stem=8, stages=[8, 16, 16], blocks=[1, 1, 1], skip=16, head=16)),
    # The 8-bit twin of "segment": same widths and strides, int8 QAT (int8_twin.py).
    # ~0.29 s/step, ~11 s per evaluation: 750 steps and 2 evaluations fit 5 minutes.
    "segment_int8": dict(model="segment_int8", model_args=dict(m=1.0), steps=750,
                         epoch_steps=400, batch=16, crop=128, lr=2e-3,
                         tiny=dict(stem=8, stages=[8, 16, 16], blocks=[1, 1, 1], skip=16, head=16)),
}


def _widths(m: float, stem: int, stages, skip: int, head: int) -> tuple[int, list[int], int, int]:
    def scaled(c: int) -> int:
        return max(1, round(c * m))
    return scaled(stem), [scaled(c) for c in stages], scaled(skip), scaled(head)


def _check_size(size) -> tuple[int, int]:
    h, w = (int(s) for s in size)
    assert h % 16 == 0 and w % 16 == 0 and h > 0 and w > 0, f"input {h}x{w}: multiples of 16 needed"
    return h, w


def upsample_bilinear(scores: torch.Tensor, scale: int) -> torch.Tensor:
    """``upsample_bilinear`` (half-pixel centres, align_corners false) as the runtime computes
    it (reference_interpreter.ts ``bilinearSource``): source coordinates and the two blends
    in float64, one rounding to f32. NCHW f32 -> NCHW f32 at ``scale`` x."""
    n, c, h, w = scores.shape

    def axis(size: int):
        o = torch.arange(size * scale, dtype=torch.float64)
        src = torch.clamp((o + 0.5) / scale - 0.5, min=0.0)
        lo = torch.floor(src).long()
        return lo, torch.clamp(lo + 1, max=size - 1), src - lo

    rlo, rhi, rf = axis(h)
    qlo, qhi, qf = axis(w)
    x = scores.double()
    # Blend along the rows first, once per input row: the runtime's "upper" and "lower"
    # terms are these rows' values (the same f64 operations), shared by 8 output rows.
    rows = (1 - qf) * x.index_select(3, qlo) + qf * x.index_select(3, qhi)
    rf = rf.view(-1, 1)
    return ((1 - rf) * rows.index_select(2, rlo) + rf * rows.index_select(2, rhi)).float()


def argmax_first(scores: torch.Tensor) -> torch.Tensor:
    """``argmax`` over channels with the runtime's tie rule (the first maximum): NCHW -> NHW."""
    best = torch.zeros(scores.shape[0], *scores.shape[2:], dtype=torch.int64)
    best_value = scores[:, 0].clone()
    for c in range(1, scores.shape[1]):
        better = scores[:, c] > best_value
        best = torch.where(better, c, best)
        best_value = torch.where(better, scores[:, c], best_value)
    return best


def mask_of(scores: torch.Tensor) -> torch.Tensor:
    """The exported ``mask`` of stride-8 ``scores``: bilinear x8 then argmax (NHW int64)."""
    return argmax_first(upsample_bilinear(scores, SCORE_STRIDE))


class Segmenter(nn.Module):
    """The BiNeal FCN segmenter. Widths before the multiplier ``m``: ``stem`` (stride 2),
    ``stages`` (strides 4, 8, 16; ``blocks`` BiNeal blocks each, the first with stride 2),
    ``skip`` (the FCN skip block at stride 8) and ``head`` (the binary 3x3 feature conv).
    ``tau`` makes every binary 3x3 conv of the trunk a codebook conv (sparse kernel
    selection). ``size`` (H, W) is the exported input. Forward returns the f32 class scores
    at stride 8 (NCHW); :func:`mask_of` turns them into the exported ``mask``."""

    task = "segment"

    def __init__(self, classes: int = CLASSES, m: float = 1.0, stem: int = 16, stages=(32, 64, 128),
                 blocks=(1, 2, 2), skip: int = 64, head: int = 64, tau: int | None = None,
                 size=EXPORT_SIZE):
        super().__init__()
        assert len(stages) == 3 and len(blocks) == 3 and min(blocks) >= 1, (stages, blocks)
        self.config = dict(classes=classes, m=m, stem=stem, stages=list(stages), blocks=list(blocks),
                           skip=skip, head=head, tau=tau, size=list(_check_size(size)))
        c0, widths, cskip, chead = _widths(m, stem, stages, skip, head)
        self.stem = Stem(3, c0, 3, stride=2)
        self.stages = nn.ModuleList()
        cin = c0
        for cout, count in zip(widths, blocks):
            stage = nn.ModuleList()
            for i in range(count):
                stage.append(BinealBlock(cin, cout, 2 if i == 0 else 1, sks=Codebook(tau) if tau else None))
                cin = cout
            self.stages.append(stage)
        self.skip = BinealBlock(widths[1] + widths[2], cskip, 1, sks=Codebook(tau) if tau else None)
        self.features = BinaryFeatures(cskip, chead, 3)
        self.scores = QOut(chead, classes, 1, in_scale=self.features.scale)

    def forward(self, x: torch.Tensor, trace: dict | None = None) -> torch.Tensor:
        x = self.stem(x)
        if trace is not None:
            trace["stem.bin"] = x
        outs = []
        for s, stage in enumerate(self.stages):
            for i, block in enumerate(stage):
                x = block(x)
                if trace is not None:
                    trace[f"s{s + 1}b{i + 1}"] = x
            outs.append(x)
        up = F.interpolate(outs[2], scale_factor=2, mode="nearest")
        x = self.skip(torch.cat([up, outs[1]], 1))
        if trace is not None:
            trace["skip"] = x
        levels = self.features(x)
        if trace is not None:
            trace["head.q"] = levels + BinaryFeatures.ZERO_POINT
        return self.scores(levels)

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        """The graph (``mask`` output); with ``trace`` every binary layer, the u8 head
        features and the f32 ``scores`` are outputs too."""
        g = GraphWriter()
        h, w = self.config["size"]
        x = self.stem.export(g, g.input("image", "u8", [batch, h, w, 3]), "stem")
        names = [x]
        outs = []
        for s, stage in enumerate(self.stages):
            for i, block in enumerate(stage):
                x = block.export(g, x, f"s{s + 1}b{i + 1}")
                names.append(x)
            outs.append(x)
        up = g.op("upsample_nearest", "skip.up", [outs[2]], {"scale": [2, 2]})
        cat = g.op("concat", "skip.cat", [up, outs[1]], {})
        x = self.skip.export(g, cat, "skip")
        names.append(x)
        features = self.features.export(g, x, "head")
        names.append(features)
        scores = self.scores.export(g, features, "scores", BinaryFeatures.ZERO_POINT)
        _mask_ops(g, scores)
        if trace:
            for name in names + [scores]:
                g.output(name)
        return g


def _mask_ops(g: GraphWriter, scores: str) -> None:
    full = g.op("upsample_bilinear", "scores.up", [scores],
                {"scale": [SCORE_STRIDE, SCORE_STRIDE], "align_corners": False})
    g.output(g.op("argmax", "mask", [full], {}))


class SharedScaleQConv(QConvBNReLU):
    """A :class:`QConvBNReLU` whose u8 output scale is shared with its ``partner``s (the
    largest of their running maxima), so that two branches can be concatenated as bytes."""

    def share(self, *partners: "SharedScaleQConv") -> None:
        # A plain attribute, not a submodule: the partners are registered where they live.
        object.__setattr__(self, "_group", (self, *partners))

    def out_scale(self) -> float:
        group = getattr(self, "_group", (self,))
        return max(float(m.out_max.clamp(min=1e-3)) for m in group) / 255


class Int8Segmenter(nn.Module):
    """The int8 twin of :class:`Segmenter`: the same widths and strides, every BiNeal block a
    :class:`QConvBNReLU` 3x3 (u8 -> u8), the FCN skip's two branches at one shared scale, head
    ``QConvBNReLU`` 3x3 + ``QOut`` 1x1 to f32 ``scores``; same ``mask`` ops."""

    task = "segment"
    trace_dtype = "u8"

    def __init__(self, classes: int = CLASSES, m: float = 1.0, stem: int = 16, stages=(32, 64, 128),
                 blocks=(1, 2, 2), skip: int = 64, head: int = 64, tau=None, size=EXPORT_SIZE):
        super().__init__()
        assert len(stages) == 3 and len(blocks) == 3 and min(blocks) >= 1, (stages, blocks)
        self.config = dict(classes=classes, m=m, stem=stem, stages=list(stages), blocks=list(blocks),
                           skip=skip, head=head, tau=None, size=list(_check_size(size)))
        c0, widths, cskip, chead = _widths(m, stem, stages, skip, head)
        self.stem = QConvBNReLU(3, c0, 3, stride=2)
        self.stages = nn.ModuleList()
        cin = c0
        for s, (cout, count) in enumerate(zip(widths, blocks)):
            stage = nn.ModuleList()
            for i in range(count):
                last = s >= 1 and i == count - 1  # the two inputs of the skip concat
                conv = SharedScaleQConv if last else QConvBNReLU
                stage.append(conv(cin, cout, 3, 2 if i == 0 else 1))
                cin = cout
            self.stages.append(stage)
        a, b = self.stages[1][-1], self.stages[2][-1]
        a.share(b)
        b.share(a)
        self.skip = QConvBNReLU(widths[1] + widths[2], cskip, 3)
        self.features = QConvBNReLU(cskip, chead, 3)
        self.scores = QOut(chead, classes, 1)

    def forward(self, x: torch.Tensor, trace: dict | None = None) -> torch.Tensor:
        scale = 1 / 255
        x = x * scale
        outs = []
        for name, layer in self._layers():
            if name == "skip":
                x = torch.cat([F.interpolate(outs[2], scale_factor=2, mode="nearest"), outs[1]], 1)
            x = layer(x, scale)
            scale = layer.out_scale()
            if trace is not None:
                trace[name] = torch.round(x / scale)
            if name in self._stage_ends():
                outs.append(x)
        self.scores.in_scale = scale
        return self.scores(x / scale if self.training else torch.round(x / scale))

    def _layers(self) -> list[tuple[str, QConvBNReLU]]:
        """Every u8 layer in order, by graph name."""
        out = [("stem", self.stem)]
        for s, stage in enumerate(self.stages):
            out += [(f"s{s + 1}b{i + 1}", block) for i, block in enumerate(stage)]
        return out + [("skip", self.skip), ("head", self.features)]

    def _stage_ends(self) -> set[str]:
        return {f"s{s + 1}b{len(stage)}" for s, stage in enumerate(self.stages)}

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        """The all-8-bit graph (``mask`` output); with ``trace`` every u8 layer and the f32
        ``scores`` are outputs too."""
        g = GraphWriter()
        h, w = self.config["size"]
        x = g.input("image", "u8", [batch, h, w, 3])
        scale = 1 / 255
        names, outs = [], []
        for name, layer in self._layers():
            if name == "skip":
                assert self.stages[1][-1].out_scale() == self.stages[2][-1].out_scale()
                up = g.op("upsample_nearest", "skip.up", [outs[2]], {"scale": [2, 2]})
                x = g.op("concat", "skip.cat", [up, outs[1]], {})
            x = layer.export(g, x, name, scale)
            scale = layer.out_scale()
            names.append(x)
            if name in self._stage_ends():
                outs.append(x)
        self.scores.in_scale = scale
        scores = self.scores.export(g, x, "scores", 0)
        _mask_ops(g, scores)
        if trace:
            for name in names + [scores]:
                g.output(name)
        return g


MODELS = {"segment": Segmenter, "segment_int8": Int8Segmenter}


#: Objects per 128x128 of scene (composite.py's default); larger scenes get proportionally
#: more (2..8 at 128x256), so training crops and evaluation scenes have the same object
#: density and the same background prior.
OBJECTS_PER_128X128 = (1, 4)


def objects_for(size) -> tuple[int, int]:
    """The (min, max) objects of a scene of ``size`` (H, W) at the training density."""
    area = size[0] * size[1] / (128 * 128)
    lo = max(1, round(OBJECTS_PER_128X128[0] * area))
    return lo, max(lo, round(OBJECTS_PER_128X128[1] * area))


def scene_maker(split: str, size) -> SceneMaker:
    return SceneMaker(split, "fashion", size=tuple(size), objects=objects_for(size))


class SceneBatches:
    """Batches of composite scenes as (NCHW float tensor of u8 values, NHW int64 masks).

    ``count`` batches per epoch. Training batches are drawn on the fly from one seeded
    generator (every epoch new scenes); held-out batches are drawn once, deterministically,
    and kept."""

    def __init__(self, split: str, size, batch: int, count: int, seed: int, fixed: bool = False):
        self.maker = scene_maker(split, size)
        self.batch, self.count, self.seed = batch, count, seed
        self.rng = np.random.default_rng(seed)
        self.fixed: list | None = None
        if fixed:
            self.fixed = [self._draw(self.rng) for _ in range(count)]

    def _draw(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        scenes = [self.maker.scene(rng) for _ in range(self.batch)]
        x = torch.from_numpy(np.stack([s.image for s in scenes]).astype(np.float32)).permute(0, 3, 1, 2)
        y = torch.from_numpy(np.stack([s.mask for s in scenes]).astype(np.int64))
        return x.contiguous(), y

    def __len__(self) -> int:
        return self.count

    def epoch(self, shuffle: bool = True):
        if self.fixed is not None:
            yield from self.fixed
            return
        for _ in range(self.count):
            yield self._draw(self.rng)


def train_data(recipe: dict, seed: int) -> SceneBatches:
    """Fresh ``crop`` x ``crop`` training scenes, ``epoch_steps`` batches per epoch."""
    crop = recipe.get("crop", 128)
    return SceneBatches("train", (crop, crop), recipe["batch"], recipe.get("epoch_steps", 500), seed)


def test_data(recipe: dict, limit: int | None = None) -> SceneBatches:
    """``TEST_SCENES`` held-out scenes (or ``limit``, rounded up to whole batches of 20) at
    ``EXPORT_SIZE``, the same on every call."""
    scenes = TEST_SCENES if limit is None else max(1, min(limit, TEST_SCENES))
    batch = 20
    return SceneBatches("test", EXPORT_SIZE, min(batch, scenes), -(-scenes // batch), TEST_SEED,
                        fixed=True)


def class_weights() -> torch.Tensor:
    w = torch.ones(CLASSES)
    w[0] = BACKGROUND_WEIGHT
    return w


def bilinear_rows(size: int, scale: int, positions: torch.Tensor) -> torch.Tensor:
    """The ``upsample_bilinear`` weights of the output ``positions`` along one axis of
    ``size`` inputs at ``scale`` x (half-pixel centres): a ``[len(positions), size]`` matrix,
    so a subgrid of the upsampled scores is two small matmuls."""
    src = torch.clamp((positions.double() + 0.5) / scale - 0.5, min=0.0)
    lo = torch.floor(src).long()
    hi = torch.clamp(lo + 1, max=size - 1)
    frac = (src - lo).float()
    rows = torch.zeros(len(positions), size)
    rows[torch.arange(len(positions)), lo] += 1 - frac
    rows[torch.arange(len(positions)), hi] += frac
    return rows


#: The loss reads the upsampled scores at every LOSS_STEP-th pixel (a random phase per
#: batch): the same function as the full-size loss in expectation, at 1/4 of its cost.
LOSS_STEP = 2


def loss(model, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Class-weighted cross entropy of the scores upsampled bilinearly x8 (as exported),
    on a random-phase subgrid of the pixels."""
    scores = model(x)
    _, _, h, w = scores.shape
    oy, ox = (int(v) for v in torch.randint(LOSS_STEP, (2,)))
    ys = torch.arange(oy, target.shape[1], LOSS_STEP)
    xs = torch.arange(ox, target.shape[2], LOSS_STEP)
    rows, cols = bilinear_rows(h, SCORE_STRIDE, ys), bilinear_rows(w, SCORE_STRIDE, xs)
    sampled = torch.einsum("yh,nchw,xw->ncyx", rows, scores, cols)
    truth = target[:, ys][:, :, xs]
    value = F.cross_entropy(sampled, truth, weight=class_weights())
    with torch.no_grad():
        # Progress-bar statistics at stride 8 (an argmax at full size costs as much as the
        # loss): pixel accuracy and accuracy on object pixels.
        half = SCORE_STRIDE // 2
        pred, grid = scores.argmax(1), target[:, half::SCORE_STRIDE, half::SCORE_STRIDE]
        objects = grid > 0
        stats = {"acc": float((pred == grid).float().mean()),
                 "obj_acc": float((pred[objects] == grid[objects]).float().mean()) if objects.any() else 0.0}
    return value, stats


def miou(confusion: np.ndarray) -> float:
    """Mean IoU over the classes present in the truth or the prediction (confusion: truth x
    prediction pixel counts); classes absent from both are skipped."""
    inter = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - inter
    present = union > 0
    return float((inter[present] / union[present]).mean()) if present.any() else 0.0


@torch.no_grad()
def evaluate(model, test: SceneBatches) -> dict:
    """mIoU and pixel accuracy of the exported ``mask`` (bilinear x8 and argmax as the
    runtime computes them) over the held-out scenes."""
    model.eval()
    classes = model.config["classes"]
    confusion = np.zeros((classes, classes), np.int64)
    for x, y in test.epoch(shuffle=False):
        pred = mask_of(model(x))
        confusion += np.bincount((y * classes + pred).numpy().ravel(),
                                 minlength=classes * classes).reshape(classes, classes)
    return {"miou": miou(confusion),
            "pixel_acc": float(np.diag(confusion).sum() / max(confusion.sum(), 1))}


def parity_inputs(recipe: dict, model, batch: int) -> dict[str, np.ndarray]:
    h, w = model.config["size"]
    rng = np.random.default_rng(7)
    maker = scene_maker("test", (h, w))
    real = np.stack([maker.scene(np.random.default_rng(TEST_SEED + i)).image for i in range(batch)])
    return {"random": rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8), "real": real}


def reference_outputs(model, x: torch.Tensor) -> dict:
    """Eval-mode outputs by graph name, as the runtime returns them: bits packed to u64
    words, u8 NHWC, f32 ``scores`` NHWC, i32 ``mask`` NHWC."""
    model.eval()
    trace: dict = {}
    with torch.no_grad():
        scores = model(x, trace)
    out = {}
    for name, t in trace.items():
        if getattr(model, "trace_dtype", "bits") == "u8" or name == "head.q":
            out[name] = t.permute(0, 2, 3, 1).contiguous().numpy().astype(np.uint8).ravel()
        else:
            out[name] = to_nhwc_bits(t)
    out["scores"] = scores.float().permute(0, 2, 3, 1).contiguous().numpy().ravel()
    out["mask"] = mask_of(scores).numpy().astype(np.int32).ravel()
    return out


# The mask is an argmax behind a float op (bilinear blend): near-ties may flip between
# PyTorch and the runtime. Every layer before it, the f32 scores included, must be exact.
PARITY_TOLERANCE = {"mask": {"mismatch": 0.002}}


def write_evalset(out: Path, limit: int | None = None) -> dict:
    """``EVALSET_SCENES`` (or ``limit``) held-out scenes at ``EXPORT_SIZE``, one seed each:
    ``images.u8`` (u8 [N, H, W, 3]), ``masks.u8`` (u8 [N, H, W], 0 background, class + 1)
    and ``manifest.json``."""
    count = EVALSET_SCENES if limit is None else min(limit, EVALSET_SCENES)
    h, w = EXPORT_SIZE
    maker = scene_maker("test", (h, w))
    out.mkdir(parents=True, exist_ok=True)
    images = np.zeros((count, h, w, 3), np.uint8)
    masks = np.zeros((count, h, w), np.uint8)
    for i in range(count):
        scene = maker.scene(np.random.default_rng(TEST_SEED + 1000 + i))
        images[i], masks[i] = scene.image, scene.mask
    (out / "images.u8").write_bytes(images.tobytes())
    (out / "masks.u8").write_bytes(masks.tobytes())
    manifest = {"family": "segment", "count": count, "height": h, "width": w, "channels": 3,
                "objects": list(objects_for((h, w))),
                "classes": CLASSES, "labels": list(LABELS), "images": "images.u8", "masks": "masks.u8",
                "split": "test", "seed": TEST_SEED + 1000}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest
