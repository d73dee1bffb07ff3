"""The architectures of the recipes, built from the BiNeal blocks of layers.py, mapping onto
the runtime's ops as daemon/runtime/zoo.ts does (8-bit stem, BiNeal blocks, 8-bit head)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from .layers import BinealBlock, PoolHead, Stem, export_blocks, to_nhwc_bits
from .modelfile import GraphWriter
from .sks import Codebook


class Classifier(nn.Module):
    """BiNeal ResNet-style classifier for 28x28 glyphs: stem, stages of BiNeal blocks
    (``stages`` channels before the width multiplier ``m``; the first block of every stage
    after the first has stride 2), pooled 8-bit head."""

    task = "classify"

    def __init__(self, in_channels: int = 1, classes: int = 10, m: float = 1.5,
                 stages=(16, 32, 64), blocks=(1, 2, 2), tau: int | None = None, size: int = 28):
        super().__init__()
        self.config = dict(in_channels=in_channels, classes=classes, m=m, stages=list(stages),
                           blocks=list(blocks), tau=tau, size=size)
        widths = [max(1, round(c * m)) for c in stages]
        self.stem = Stem(in_channels, widths[0])
        layers, cin = [], widths[0]
        for stage, (cout, count) in enumerate(zip(widths, blocks)):
            for i in range(count):
                stride = 2 if (stage > 0 and i == 0) else 1
                layers.append(BinealBlock(cin, cout, stride, sks=Codebook(tau) if tau else None))
                cin = cout
        self.blocks = nn.ModuleList(layers)
        self.head = PoolHead(cin, classes)

    def forward(self, x: torch.Tensor, trace: dict | None = None) -> torch.Tensor:
        x = self.stem(x)
        if trace is not None:
            trace["stem.bin"] = x
        for i, block in enumerate(self.blocks):
            x = block(x)
            if trace is not None:
                trace[f"b{i + 1}"] = x
        return self.head(x)

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        """The graph; with ``trace`` every binary layer's output is a graph output too."""
        g = GraphWriter()
        c, s = self.config["in_channels"], self.config["size"]
        x = self.stem.export(g, g.input("image", "u8", [batch, s, s, c]), "stem")
        names = [x]
        x = export_blocks(g, self.blocks, x, names)
        g.output(self.head.export(g, x, "logits"))
        if trace:
            for name in names:
                g.output(name)
        return g


def reference_outputs(model: Classifier, x: torch.Tensor) -> dict:
    """Eval-mode (exported semantics) outputs by graph name, as the runtime returns them:
    bits packed to u64 words, f32 logits NHWC."""
    trace: dict = {}
    with torch.no_grad():
        logits = model(x, trace)
    if getattr(model, "trace_dtype", "bits") == "u8":
        out = {name: t.permute(0, 2, 3, 1).contiguous().numpy().astype(np.uint8).ravel()
               for name, t in trace.items()}
    else:
        out = {name: to_nhwc_bits(t) for name, t in trace.items()}
    out["logits"] = logits.float().numpy().ravel()
    return out





