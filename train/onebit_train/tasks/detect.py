"""Detection family: a CenterNet-style BiNeal detector (Zhou et al., "Objects as Points"; Nie
et al., arXiv 2202.03716) on composite scenes (composite.py: Fashion-MNIST glyphs pasted onto
crops of real photographs, exact boxes), and its 8-bit twin.

Model (plugins/detect/mod.ts reads its outputs): an 8-bit stem (stride 2), BiNeal blocks down
to stride 16, a neck of (nearest x2 upsample, BiNeal block) steps back to stride 4, and three
heads, each a binary 3x3 conv to u8 features (heads.BinaryFeatures) and an 8-bit 1x1 conv to
f32 (heads.QOut): ``heatmap`` (one channel per class, after a ``sigmoid``), ``size`` (box width
and height in grid cells: the plugin's default ``sizeUnit: "grid"``) and ``offset`` (the
centre's sub-cell position, in cells). The twin has the same widths and strides with
int8_twin.QConvBNReLU layers (u8 activations; the upsample runs on u8) and 3x3 QConvBNReLU +
1x1 QOut heads.

Targets and loss are CenterNet's: a per-class Gaussian heatmap at stride 4 whose radius
follows the box size (``gaussian_radius``, minimum IoU 0.7), the penalty-reduced focal loss on
the heatmap logits, and L1 on size (weight 0.1) and offset (weight 1) at the object centres.

Evaluation: mAP@0.5 (VOC all-point AP, averaged over the classes that occur) with the exported
semantics and the plugin's decode (daemon/sdk/vision/centernet.ts: 3x3 max-pool NMS on the
sigmoid scores, top 100, here with a 0.05 score threshold). bench/eval/detect.ts computes the
same number in the runtime on the set ``write_evalset`` writes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..composite import SceneMaker
from ..heads import BinaryFeatures, QOut
from ..int8_twin import QConvBNReLU
from ..layers import BinealBlock, Stem, export_blocks, nhwc, sigmoid_f32, to_nhwc_bits
from ..modelfile import GraphWriter
from ..sks import Codebook

STRIDE = 4
#: Fashion-MNIST class names (plugins/detect/labels.txt).
LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
          "Bag", "Ankle boot")
OBJECTS_MAX = 8  # SceneMaker draws at most 4; room to spare for the padded target tensors
SIZE_WEIGHT, OFFSET_WEIGHT = 0.1, 1.0  # CenterNet's loss weights
HEATMAP_PRIOR = 0.1  # initial heatmap probability (focal loss initialisation)
#: Decode options of the evaluation: the plugin's (k 100, grid sizes) with mAP's low threshold.
EVAL_THRESHOLD, EVAL_K, IOU_MATCH = 0.05, 100, 0.5
EVAL_SEED = 20240  # the held-out scenes: SceneMaker("test") drawn from this seed
EVAL_COUNT = 500


# ``steps`` fit the budgets of tasks/__init__.py on 1 thread (measured CPU time: ~0.49 s per
# BiNeal step and ~0.40 s per twin step of 16 scenes, data included; ~14 s (BiNeal) and ~29 s
# (twin) per epoch-end recalibration and evaluation on 500 scenes). ``epoch``: batches between
# two evaluations. ``tiny`` (the CI parity run) keeps concats that straddle a 64-bit word.
RECIPES = {
    # BiNeal CenterNet on 128x128 composite scenes (10 Fashion-MNIST classes), width 1x.
    "detect": dict(model="detect", model_args=dict(), steps=3000, epoch=1000, batch=16, lr=5e-3,
                   tiny=dict(stem=8, stages=(8, 36, 40), neck=(30, 12), head=8)),
    # The 8-bit twin of "detect": same widths, strides and skips, int8 QAT (int8_twin.py).
    # 600 steps: the shipped twin's run (its 3000-step run did not fit the session that
    # trained the shipped models); at 600 steps it already matches the 3000-step BiNeal mAP.
    "detect_int8": dict(model="detect_int8", model_args=dict(), steps=600, epoch=600, batch=16,
                        lr=5e-3, tiny=dict(stem=8, stages=(8, 36, 40), neck=(30, 12), head=8)),
}


def _widths(m: float, channels) -> list[int]:
    return [max(1, round(c * m)) for c in channels]


def _check_size(size) -> tuple[int, int]:
    h, w = (int(s) for s in size)
    assert h % 16 == 0 and w % 16 == 0, f"input {h}x{w}: height and width must be multiples of 16"
    return h, w


class CenterNet(nn.Module):
    """BiNeal CenterNet: ``Stem`` (stride 2, ``stem`` channels), then per entry of ``stages``
    one stride-2 BiNeal block plus ``blocks[i] - 1`` stride-1 blocks (stride 16 after three
    stages), then per entry of ``neck`` a nearest x2 upsample and a BiNeal block (stride 4
    after two), then the three heads (``head`` hidden channels each). Channel counts are
    multiplied by ``m``. ``forward`` returns ``(heatmap logits, size, offset)`` NCHW."""

    task = "detect"

    def __init__(self, classes: int = 10, m: float = 1.0, stem: int = 16, stages=(32, 64, 96),
                 blocks=(1, 1, 2), neck=(64, 32), head: int = 16, skips: bool = True,
                 tau: int | None = None, size=(128, 128)):
        super().__init__()
        size = _check_size(size)
        assert len(stages) - len(neck) == 1 and len(blocks) == len(stages), (stages, blocks, neck)
        self.config = dict(classes=classes, m=m, stem=stem, stages=list(stages), blocks=list(blocks),
                           neck=list(neck), head=head, skips=skips, tau=tau, size=list(size))
        sks = (lambda: Codebook(tau)) if tau else (lambda: None)
        cin = _widths(m, [stem])[0]
        self.stem = Stem(3, cin, 3, 2)
        trunk = []
        for cout, count in zip(_widths(m, stages), blocks):
            for i in range(count):
                trunk.append(BinealBlock(cin, cout, 2 if i == 0 else 1, sks=sks()))
                cin = cout
        self.blocks = nn.ModuleList(trunk)
        self.skips = _skips(stages, blocks, skips)
        necks = []
        for i, cout in enumerate(_widths(m, neck)):
            cin += _widths(m, stages)[-2 - i] if skips else 0
            necks.append(BinealBlock(cin, cout, 1, sks=sks()))
            cin = cout
        self.neck = nn.ModuleList(necks)
        hidden = _widths(m, [head])[0]
        self.features = nn.ModuleDict({name: BinaryFeatures(cin, hidden, 3) for name in ("heatmap", "size", "offset")})
        self.outs = nn.ModuleDict({
            "heatmap": QOut(hidden, classes, 1, self.features["heatmap"].scale),
            "size": QOut(hidden, 2, 1, self.features["size"].scale),
            "offset": QOut(hidden, 2, 1, self.features["offset"].scale),
        })
        _init_outs(self.outs)

    def forward(self, x: torch.Tensor, trace: dict | None = None):
        x = self.stem(x)
        _record(trace, "stem.bin", x)
        trunk = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            trunk.append(x)
            _record(trace, f"b{i + 1}", x)
        for i, block in enumerate(self.neck):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            _record(trace, f"neck{i + 1}.up", x)
            if self.skips:
                x = torch.cat([x, trunk[self.skips[i]]], 1)
                _record(trace, f"neck{i + 1}.cat", x)
            x = block(x)
            _record(trace, f"neck{i + 1}", x)
        out = []
        for name in ("heatmap", "size", "offset"):
            levels = self.features[name](x)
            _record(trace, f"{name}.features.q", levels + BinaryFeatures.ZERO_POINT)
            out.append(self.outs[name](levels))
        return tuple(out)

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        """The graph: outputs ``heatmap`` (sigmoid), ``size``, ``offset`` f32 NHWC at stride 4;
        with ``trace`` every binary and u8 layer and the heatmap logits are outputs too."""
        g = GraphWriter()
        h, w = self.config["size"]
        x = self.stem.export(g, g.input("image", "u8", [batch, h, w, 3]), "stem")
        names = [x]
        x = export_blocks(g, self.blocks, x, names)
        for i, block in enumerate(self.neck):
            x = g.op("upsample_nearest", f"neck{i + 1}.up", [x], {"scale": [2, 2]})
            names.append(x)
            if self.skips:
                x = g.op("concat", f"neck{i + 1}.cat", [x, f"b{self.skips[i] + 1}"], {})
                names.append(x)
            x = block.export(g, x, f"neck{i + 1}")
            names.append(x)
        heads = {}
        for name in ("heatmap", "size", "offset"):
            features = self.features[name].export(g, x, f"{name}.features")
            names.append(features)
            heads[name] = self.outs[name].export(g, features, "heatmap.logits" if name == "heatmap" else name,
                                                 BinaryFeatures.ZERO_POINT)
        g.output(g.op("sigmoid", "heatmap", [heads["heatmap"]], {}))
        g.output(heads["size"])
        g.output(heads["offset"])
        if trace:
            for name in names + [heads["heatmap"]]:
                g.output(name)
        return g


class QConvConcat(QConvBNReLU):
    """``QConvBNReLU`` whose u8 input is a concat of tensors of different scales: ``in_scale``
    is per input channel (a ``[1, C, 1, 1]`` tensor). In real arithmetic the conv of channel
    c sees ``q_c * s_c``; folding ``s_c / s_max`` into the weights before their int8
    quantization leaves one input scale ``s_max``, so the export is a plain ``qconv2d``."""

    def folded(self, in_scale) -> dict:
        scales = torch.as_tensor(in_scale, dtype=torch.float64).reshape(-1)
        ref = float(scales.max())
        w, b = (t.detach().double() for t in self.folded_real())
        w = w * (scales / ref).view(1, -1, 1, 1)
        ws = w.abs().flatten(1).amax(1).clamp(min=1e-12) / 127
        wq = torch.clamp(torch.round(w / ws.view(-1, 1, 1, 1)), -127, 127)
        bq = torch.round(b / (ws * ref))
        scale = (ws * ref / self.out_scale()).numpy().astype(np.float32)
        return {"weights": wq.numpy().astype(np.int8), "bias": bq.numpy().astype(np.int32), "scale": scale}


def _channel_scales(parts: list[tuple[int, float]]) -> torch.Tensor:
    """Per-channel scales ``[1, C, 1, 1]`` of a concat of (channels, scale) parts."""
    return torch.cat([torch.full((c,), s, dtype=torch.float64) for c, s in parts]).view(1, -1, 1, 1)


class Int8CenterNet(nn.Module):
    """The int8 twin of :class:`CenterNet` (same widths, strides and skips): every BiNeal
    block is one int8 3x3 ``QConvBNReLU`` (u8 out), the upsample and the concat run on u8 (a
    neck conv after a concat is a :class:`QConvConcat`), and each head is a 3x3
    ``QConvBNReLU`` and a 1x1 ``QOut`` whose ``in_scale`` follows the features' scale."""

    task = "detect"
    trace_dtype = "u8"

    def __init__(self, classes: int = 10, m: float = 1.0, stem: int = 16, stages=(32, 64, 96),
                 blocks=(1, 1, 2), neck=(64, 32), head: int = 16, skips: bool = True,
                 tau: int | None = None, size=(128, 128)):
        super().__init__()
        size = _check_size(size)
        assert len(stages) - len(neck) == 1 and len(blocks) == len(stages), (stages, blocks, neck)
        self.config = dict(classes=classes, m=m, stem=stem, stages=list(stages), blocks=list(blocks),
                           neck=list(neck), head=head, skips=skips, tau=None, size=list(size))
        cin = _widths(m, [stem])[0]
        self.stem = QConvBNReLU(3, cin, 3, 2)
        trunk = []
        for cout, count in zip(_widths(m, stages), blocks):
            for i in range(count):
                trunk.append(QConvBNReLU(cin, cout, 3, 2 if i == 0 else 1))
                cin = cout
        self.blocks = nn.ModuleList(trunk)
        self.skips = _skips(stages, blocks, skips)
        necks = []
        for i, cout in enumerate(_widths(m, neck)):
            if skips:
                necks.append(QConvConcat(cin + _widths(m, stages)[-2 - i], cout, 3, 1))
            else:
                necks.append(QConvBNReLU(cin, cout, 3, 1))
            cin = cout
        self.neck = nn.ModuleList(necks)
        hidden = _widths(m, [head])[0]
        self.features = nn.ModuleDict({name: QConvBNReLU(cin, hidden, 3) for name in ("heatmap", "size", "offset")})
        self.outs = nn.ModuleDict({
            "heatmap": QOut(hidden, classes, 1), "size": QOut(hidden, 2, 1), "offset": QOut(hidden, 2, 1),
        })
        _init_outs(self.outs)

    def forward(self, x: torch.Tensor, trace: dict | None = None):
        # Activations are real values on the u8 grid of ``scale`` (int8_twin.QConvBNReLU).
        scale = 1 / 255
        x = self.stem(x * scale, scale)
        scale = self.stem.out_scale()
        _record(trace, "stem", torch.round(x / scale))
        trunk = []
        for i, block in enumerate(self.blocks):
            x = block(x, scale)
            scale = block.out_scale()
            trunk.append((x, scale))
            _record(trace, f"b{i + 1}", torch.round(x / scale))
        for i, block in enumerate(self.neck):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            _record(trace, f"neck{i + 1}.up", torch.round(x / scale))
            if self.skips:
                skip, skip_scale = trunk[self.skips[i]]
                scale = _channel_scales([(x.shape[1], scale), (skip.shape[1], skip_scale)])
                x = torch.cat([x, skip], 1)
                _record(trace, f"neck{i + 1}.cat", torch.round(x / scale))
            x = block(x, scale)
            scale = block.out_scale()
            _record(trace, f"neck{i + 1}", torch.round(x / scale))
        out = []
        for name in ("heatmap", "size", "offset"):
            f = self.features[name](x, scale)
            fscale = self.features[name].out_scale()
            levels = f / fscale if self.training else torch.round(f / fscale)
            _record(trace, f"{name}.features", levels)
            self.outs[name].in_scale = fscale
            out.append(self.outs[name](levels))
        return tuple(out)

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        """The all-8-bit graph with the outputs of :meth:`CenterNet.export`."""
        g = GraphWriter()
        h, w = self.config["size"]
        scale = 1 / 255
        x = self.stem.export(g, g.input("image", "u8", [batch, h, w, 3]), "stem", scale)
        scale = self.stem.out_scale()
        names, scales = [x], []
        for i, block in enumerate(self.blocks):
            x = block.export(g, x, f"b{i + 1}", scale)
            scale = block.out_scale()
            names.append(x)
            scales.append((block.weight.shape[0], scale))
        for i, block in enumerate(self.neck):
            x = g.op("upsample_nearest", f"neck{i + 1}.up", [x], {"scale": [2, 2]})
            names.append(x)
            if self.skips:
                j = self.skips[i]
                up = self.neck[i - 1].weight.shape[0] if i else self.blocks[-1].weight.shape[0]
                scale = _channel_scales([(up, scale), scales[j]])
                x = g.op("concat", f"neck{i + 1}.cat", [x, f"b{j + 1}"], {})
                names.append(x)
            x = block.export(g, x, f"neck{i + 1}", scale)
            scale = block.out_scale()
            names.append(x)
        heads = {}
        for name in ("heatmap", "size", "offset"):
            features = self.features[name].export(g, x, f"{name}.features", scale)
            names.append(features)
            self.outs[name].in_scale = self.features[name].out_scale()
            heads[name] = self.outs[name].export(g, features, "heatmap.logits" if name == "heatmap" else name, 0)
        g.output(g.op("sigmoid", "heatmap", [heads["heatmap"]], {}))
        g.output(heads["size"])
        g.output(heads["offset"])
        if trace:
            for name in names + [heads["heatmap"]]:
                g.output(name)
        return g


def _skips(stages, blocks, enabled: bool) -> list[int]:
    """For each neck step, the trunk block whose output has the upsampled resolution (the
    last block of the stage one stride finer), concatenated to it when ``enabled``."""
    ends = list(np.cumsum(blocks) - 1)
    return [int(ends[-2 - i]) for i in range(len(stages) - 1)] if enabled else []


def _init_outs(outs: nn.ModuleDict) -> None:
    """CenterNet's initialisation: heatmap bias at the prior, sizes near the mean box."""
    with torch.no_grad():
        outs["heatmap"].bias.fill_(-math.log((1 - HEATMAP_PRIOR) / HEATMAP_PRIOR))
        outs["size"].bias.fill_(38 / STRIDE)  # the mean glyph side of SceneMaker's 20..56 px
        outs["offset"].bias.fill_(0.5)


def _record(trace: dict | None, name: str, value: torch.Tensor) -> None:
    if trace is not None:
        trace[name] = value


MODELS = {"detect": CenterNet, "detect_int8": Int8CenterNet}


# --- targets -------------------------------------------------------------------------------


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius (in the units of ``height``/``width``) within which a shifted box of
    this size still overlaps the true box by ``min_overlap`` IoU (the three cases of
    CornerNet, with the reference implementation's constants)."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2 ** 2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def draw_gaussian(heatmap: np.ndarray, cx: int, cy: int, radius: int) -> None:
    """Writes the max of ``heatmap`` and a Gaussian peak of 1 at (cx, cy), sigma = d/6."""
    d = 2 * radius + 1
    sigma = d / 6
    ys, xs = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    g = np.exp(-(xs * xs + ys * ys) / (2 * sigma * sigma))
    g[g < np.finfo(g.dtype).eps * g.max()] = 0
    h, w = heatmap.shape
    left, right = min(cx, radius), min(w - cx, radius + 1)
    top, bottom = min(cy, radius), min(h - cy, radius + 1)
    window = heatmap[cy - top:cy + bottom, cx - left:cx + right]
    np.maximum(window, g[radius - top:radius + bottom, radius - left:radius + right], out=window)


def targets(boxes: np.ndarray, labels: np.ndarray, classes: int, grid: tuple[int, int]) -> dict:
    """CenterNet targets of one scene at ``STRIDE``: heatmap [classes, gh, gw], and per object
    (padded to ``OBJECTS_MAX``) the flat centre cell index, size and offset in cells, mask."""
    gh, gw = grid
    heat = np.zeros((classes, gh, gw), np.float32)
    index = np.zeros(OBJECTS_MAX, np.int64)
    size = np.zeros((OBJECTS_MAX, 2), np.float32)
    offset = np.zeros((OBJECTS_MAX, 2), np.float32)
    mask = np.zeros(OBJECTS_MAX, np.float32)
    assert len(boxes) <= OBJECTS_MAX, len(boxes)
    for k, (box, label) in enumerate(zip(boxes, labels)):
        x1, y1, x2, y2 = (float(v) / STRIDE for v in box)
        bw, bh = x2 - x1, y2 - y1
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ix, iy = min(int(cx), gw - 1), min(int(cy), gh - 1)
        radius = max(0, int(gaussian_radius(math.ceil(bh), math.ceil(bw))))
        draw_gaussian(heat[label], ix, iy, radius)
        index[k], size[k], offset[k], mask[k] = iy * gw + ix, (bw, bh), (cx - ix, cy - iy), 1
    return {"heatmap": heat, "index": index, "size": size, "offset": offset, "mask": mask}


class SceneBatches:
    """Batches of composite scenes (NCHW float tensors of u8 values) and their CenterNet
    targets. ``train``: fresh scenes on every epoch from a seeded generator; ``test``: the
    same ``count`` scenes every epoch (drawn once from ``EVAL_SEED``, kept in memory). The
    SceneMaker (photo cache, glyphs) is built on first use, so construction is free."""

    def __init__(self, split: str, batch: int, size, classes: int = 10, batches: int = 500,
                 seed: int = 0, count: int | None = None):
        self.split, self.batch, self.size, self.classes = split, batch, tuple(size), classes
        self.batches = batches if split == "train" else -(-count // batch)
        self.count = count
        self.rng = np.random.default_rng(seed)
        self._maker: SceneMaker | None = None
        self._fixed: list | None = None

    def maker(self) -> SceneMaker:
        if self._maker is None:
            self._maker = SceneMaker(self.split, "fashion", size=self.size)
        return self._maker

    def scenes(self) -> list:
        """The fixed scenes of a test set (deterministic)."""
        if self._fixed is None:
            rng = np.random.default_rng(EVAL_SEED)
            self._fixed = [self.maker().scene(rng) for _ in range(self.count)]
        return self._fixed

    def __len__(self) -> int:
        return self.batches

    def collate(self, scenes: list) -> tuple[torch.Tensor, dict]:
        grid = (self.size[0] // STRIDE, self.size[1] // STRIDE)
        x = torch.from_numpy(np.stack([s.image for s in scenes]).astype(np.float32)).permute(0, 3, 1, 2)
        per = [targets(s.boxes, s.labels, self.classes, grid) for s in scenes]
        target = {key: torch.from_numpy(np.stack([t[key] for t in per])) for key in per[0]}
        target["boxes"] = [s.boxes for s in scenes]
        target["labels"] = [s.labels for s in scenes]
        return x.contiguous(), target

    def epoch(self, shuffle: bool = True):
        if self.split == "test":
            scenes = self.scenes()
            for i in range(0, len(scenes), self.batch):
                yield self.collate(scenes[i:i + self.batch])
            return
        for _ in range(self.batches):
            yield self.collate([self.maker().scene(self.rng) for _ in range(self.batch)])


def _size(recipe: dict) -> tuple[int, int]:
    return tuple(recipe["model_args"].get("size", (128, 128)))


def train_data(recipe: dict, seed: int, limit: int | None = None) -> SceneBatches:
    return SceneBatches("train", recipe["batch"], _size(recipe), batches=recipe.get("epoch", 500), seed=seed)


def test_data(recipe: dict, limit: int | None = None) -> SceneBatches:
    return SceneBatches("test", 50, _size(recipe), count=min(limit or EVAL_COUNT, EVAL_COUNT))


# --- loss ----------------------------------------------------------------------------------


def focal_loss(logits: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, int]:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4) on heatmap logits, summed and
    divided by the number of object centres (cells where the target is exactly 1)."""
    pos = gt.eq(1).float()
    p = torch.sigmoid(logits)
    pos_loss = -F.logsigmoid(logits) * (1 - p) ** 2 * pos
    neg_loss = -F.logsigmoid(-logits) * p ** 2 * (1 - gt) ** 4 * (1 - pos)
    count = int(pos.sum())
    return (pos_loss.sum() + neg_loss.sum()) / max(count, 1), count


def _gather(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] at flat cell ``index`` [N, K] -> [N, K, C]."""
    n, c = t.shape[:2]
    return t.reshape(n, c, -1).gather(2, index.unsqueeze(1).expand(n, c, index.shape[1])).permute(0, 2, 1)


def masked_l1(pred: torch.Tensor, index: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(2).expand_as(target)
    return (torch.abs(_gather(pred, index) - target) * m).sum() / (m.sum() + 1e-4)


def loss(model, x: torch.Tensor, target: dict) -> tuple[torch.Tensor, dict]:
    logits, size, offset = model(x)
    heat, _ = focal_loss(logits, target["heatmap"])
    l_size = masked_l1(size, target["index"], target["size"], target["mask"])
    l_off = masked_l1(offset, target["index"], target["offset"], target["mask"])
    total = heat + SIZE_WEIGHT * l_size + OFFSET_WEIGHT * l_off
    return total, {"heat": float(heat), "size": float(l_size), "off": float(l_off)}


# --- decode and mAP ------------------------------------------------------------------------


def decode(heat: np.ndarray, size: np.ndarray, offset: np.ndarray, width: float, height: float,
           stride: float = STRIDE, threshold: float = EVAL_THRESHOLD, k: int = EVAL_K) -> list:
    """daemon/sdk/vision/centernet.ts ``decodeCenterNet`` (grid sizes, identity map, clamped to
    the image) on one image's NHWC outputs: ``heat`` [h, w, C] scores, ``size``/``offset``
    [h, w, 2]. Returns (class, score, x1, y1, x2, y2) tuples, best first."""
    h, w, c = heat.shape
    padded = np.pad(heat, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    neighbourhood = np.max([padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)], axis=0)
    keep = (heat >= neighbourhood) & (heat.astype(np.float64) >= threshold)
    flat = np.flatnonzero(keep.ravel())  # i = (y*w + x)*C + c, ascending
    scores = heat.ravel()[flat]
    order = np.lexsort((flat, -scores.astype(np.float64)))[:k]
    out = []
    for i in flat[order]:
        cell, cls = divmod(int(i), c)
        y, x = divmod(cell, w)
        cx = (x + float(offset[y, x, 0])) * stride
        cy = (y + float(offset[y, x, 1])) * stride
        bw = abs(float(size[y, x, 0])) * stride
        bh = abs(float(size[y, x, 1])) * stride
        box = [min(max(v, 0.0), lim) for v, lim in
               ((cx - bw / 2, width), (cy - bh / 2, height), (cx + bw / 2, width), (cy + bh / 2, height))]
        out.append((cls, float(heat[y, x, cls]), *box))
    return out


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def mean_average_precision(detections: list, boxes: list, labels: list, classes: int) -> dict:
    """VOC all-point AP at IoU >= ``IOU_MATCH`` per class, and their mean over the classes with
    ground truth. ``detections[i]``: image i's (class, score, x1, y1, x2, y2), best first;
    ``boxes[i]``/``labels[i]``: its ground truth. Detections of a class are ranked by score,
    then image, then rank in the image; each is a true positive when its best-overlapping
    ground-truth box of the class reaches the IoU and is not matched yet."""
    aps = {}
    for cls in range(classes):
        truth = [[b for b, l in zip(bs, ls) if l == cls] for bs, ls in zip(boxes, labels)]
        total = sum(len(t) for t in truth)
        if total == 0:
            continue
        ranked = sorted(((-d[1], i, r, d) for i, ds in enumerate(detections) for r, d in enumerate(ds)
                         if d[0] == cls), key=lambda e: e[:3])
        matched = [[False] * len(t) for t in truth]
        tp = np.zeros(len(ranked))
        for j, (_, i, _, d) in enumerate(ranked):
            overlaps = [iou(d[2:], b) for b in truth[i]]
            if overlaps:
                best = int(np.argmax(overlaps))
                if overlaps[best] >= IOU_MATCH and not matched[i][best]:
                    matched[i][best] = True
                    tp[j] = 1
        aps[cls] = voc_ap(tp, total)
    return {"map50": float(np.mean(list(aps.values()))) if aps else 0.0,
            **{f"ap50_{cls}": ap for cls, ap in aps.items()}}


def voc_ap(tp: np.ndarray, total: int) -> float:
    """All-point interpolated AP of ranked hits ``tp`` (1/0) against ``total`` ground truths."""
    hits = np.cumsum(tp)
    recall = hits / total
    precision = hits / np.arange(1, len(tp) + 1)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    steps = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


@torch.no_grad()
def evaluate(model, test: SceneBatches) -> dict:
    model.eval()
    detections, boxes, labels = [], [], []
    h, w = test.size
    for x, target in test.epoch(shuffle=False):
        logits, size, offset = (t.permute(0, 2, 3, 1).float().numpy() for t in model(x))
        heat = sigmoid_f32(logits)
        stride = w / heat.shape[2]
        for i in range(len(x)):
            detections.append(decode(heat[i], size[i], offset[i], w, h, stride))
        boxes += [b.tolist() for b in target["boxes"]]
        labels += [l.tolist() for l in target["labels"]]
    result = mean_average_precision(detections, boxes, labels, model.config["classes"])
    return {"map50": result["map50"]}


# --- parity and evalset --------------------------------------------------------------------


def parity_inputs(recipe: dict, model, batch: int) -> dict[str, np.ndarray]:
    h, w = model.config["size"]
    rng = np.random.default_rng(7)
    test = SceneBatches("test", batch, (h, w), count=batch)
    return {
        "random": rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8),
        "real": np.stack([s.image for s in test.scenes()]),
    }


#: The sigmoid differs from PyTorch's in the last ulp; its exact f32 input is traced.
PARITY_TOLERANCE = {"heatmap": {"abs": 1e-6}}


def reference_outputs(model, x: torch.Tensor) -> dict:
    """Every graph output of ``export(trace=True)`` as the runtime returns it: bits packed,
    u8 layers as bytes, f32 heads NHWC, the heatmap as the runtime's sigmoid of its logits."""
    trace: dict = {}
    model.eval()
    with torch.no_grad():
        logits, size, offset = model(x, trace)
    out = {}
    for name, t in trace.items():
        if getattr(model, "trace_dtype", "bits") == "u8" or name.endswith(".q"):
            out[name] = nhwc(t).astype(np.uint8).ravel()
        else:
            out[name] = to_nhwc_bits(t)
    out["heatmap.logits"] = nhwc(logits).astype(np.float32).ravel()
    out["heatmap"] = sigmoid_f32(nhwc(logits)).ravel()
    out["size"] = nhwc(size).astype(np.float32).ravel()
    out["offset"] = nhwc(offset).astype(np.float32).ravel()
    return out


def write_evalset(out: Path, limit: int | None = None) -> dict:
    """The held-out scenes of the evaluation (``EVAL_COUNT``, or ``limit``): ``images.u8``
    (u8 [N, H, W, 3], 128x128), ``boxes.json`` ([{boxes: [[x1, y1, x2, y2]...], labels}]
    in pixels, x2/y2 exclusive) and ``manifest.json``. Deterministic (``EVAL_SEED``), and the
    same scenes as ``test_data``."""
    size = _size(RECIPES["detect"])
    count = min(limit or EVAL_COUNT, EVAL_COUNT)
    scenes = SceneBatches("test", 1, size, count=count).scenes()
    out.mkdir(parents=True, exist_ok=True)
    (out / "images.u8").write_bytes(np.stack([s.image for s in scenes]).tobytes())
    annotations = [{"boxes": s.boxes.tolist(), "labels": s.labels.tolist()} for s in scenes]
    (out / "boxes.json").write_text(json.dumps(annotations))
    manifest = {"family": "detect", "count": count, "height": size[0], "width": size[1], "channels": 3,
                "images": "images.u8", "annotations": "boxes.json", "classes": len(LABELS),
                "labels": list(LABELS), "source": f"composite test scenes, seed {EVAL_SEED}"}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest
