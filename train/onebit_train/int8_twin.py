"""The 8-bit twin (issue 6): the same architecture as the BiNeal classifier trained in int8
QAT, exported as a onebit model made only of 8-bit ops (``qconv2d`` u8 -> u8), which the
runtime runs (so parity is checked the same way) and which daemon/runtime/int8_twin.ts turns
into ONNX ``QLinearConv`` unchanged (a ``qconv2d`` with u8 output keeps exactly its
requantization multiplier there). That is the simplest real path to an ONNX twin: one
converter, already tested against ONNX Runtime, instead of a second one in Python.

A BiNeal block (3x3 conv + 1x1 shortcut conv, same input and stride) is in the twin one 3x3
conv: in real arithmetic the sum of the two equals one 3x3 conv whose centre tap carries the
1x1 weights (RepVGG's re-parameterization), so the twin is trained directly as that conv,
with batch norm and ReLU. ReLU is the u8 requantization's clamp at zero point 0.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import int8_weights, round_ste
from .modelfile import GraphWriter


def fake_u8(x: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.clamp(round_ste(x / scale), 0, 255) * scale


class QConvBNReLU(nn.Module):
    """int8 conv + batch norm + ReLU with u8 output (QAT: fake-quantized folded weights and
    outputs; the output scale tracks the activations' running 99.9th-percentile-ish max)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1):
        super().__init__()
        self.kernel, self.stride, self.pad = kernel, stride, kernel // 2
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel) * math.sqrt(2 / (cin * kernel * kernel)))
        self.bn = nn.BatchNorm2d(cout)
        self.register_buffer("out_max", torch.tensor(4.0))

    def folded_real(self) -> tuple[torch.Tensor, torch.Tensor]:
        """BN folded into the conv (running statistics), as float weight and bias."""
        k = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        return self.weight * k.view(-1, 1, 1, 1), self.bn.bias - k * self.bn.running_mean

    def forward(self, x: torch.Tensor, in_scale: float) -> torch.Tensor:
        if self.training:
            y = F.relu(self.bn(F.conv2d(x, self.weight, stride=self.stride, padding=self.pad)))
            with torch.no_grad():
                self.out_max.mul_(0.99).add_(0.01 * y.detach().amax())
            return fake_u8(y, self.out_scale())
        return self.exact(x, in_scale)

    def out_scale(self) -> float:
        return float(self.out_max.clamp(min=1e-3)) / 255

    def folded(self, in_scale: float) -> dict:
        w, b = (t.detach().double() for t in self.folded_real())
        ws = w.abs().flatten(1).amax(1).clamp(min=1e-12) / 127
        wq = torch.clamp(torch.round(w / ws.view(-1, 1, 1, 1)), -127, 127)
        bq = torch.round(b / (ws * in_scale))
        scale = (ws * in_scale / self.out_scale()).numpy().astype(np.float32)
        return {"weights": wq.numpy().astype(np.int8), "bias": bq.numpy().astype(np.int32), "scale": scale}

    def exact(self, x: torch.Tensor, in_scale: float) -> torch.Tensor:
        """x: real values on the u8 grid of ``in_scale``; returns the same for the output."""
        p = self.folded(in_scale)
        xq = torch.round(x.double() / in_scale)
        acc = F.conv2d(xq, torch.from_numpy(p["weights"]).double(), stride=self.stride, padding=self.pad)
        acc = acc + torch.from_numpy(p["bias"]).double().view(1, -1, 1, 1)
        real = acc.float() * torch.from_numpy(p["scale"]).view(1, -1, 1, 1)
        return torch.round(torch.clamp(real, 0, 255)).double() * self.out_scale()

    def export(self, g: GraphWriter, x: str, name: str, in_scale: float) -> str:
        p = self.folded(in_scale)
        o = p["weights"].shape[0]
        return g.op("qconv2d", name, [x], {
            "kernel": [self.kernel] * 2, "stride": [self.stride] * 2, "pads": [self.pad] * 4,
            "out_channels": o, "output": "u8", "x_zero_point": 0, "y_zero_point": 0,
        }, {"weights": g.tensor(f"{name}.w", p["weights"].transpose(0, 2, 3, 1)),
            "bias": g.tensor(f"{name}.bias", p["bias"]), "scale": g.tensor(f"{name}.scale", p["scale"])})


def export_int8_blocks(g: GraphWriter, blocks, x: str, scale: float,
                       names: list[str]) -> tuple[str, float]:
    """Exports 8-bit ``blocks`` (each reading the previous one's u8 grid) as ``b1``, ``b2``,
    ... from ``x`` at ``scale``; appends each output to ``names``. Returns the last output
    and its scale."""
    for i, block in enumerate(blocks):
        x = block.export(g, x, f"b{i + 1}", scale)
        scale = block.out_scale()
        names.append(x)
    return x, scale


class IntHead(nn.Module):
    """Classifier head on u8 features: ``global_avgpool`` (mean of the u8 integers),
    ``quantize`` to u8 at scale 1 (the mean rounded half to even), 8-bit 1x1 ``qconv2d`` to
    f32 logits; the feature scale is absorbed by the weights."""

    def __init__(self, cin: int, classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, cin) * math.sqrt(1 / cin) / 64)
        self.bias = nn.Parameter(torch.zeros(classes))

    def forward(self, xint: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.exact(xint)
        q = torch.clamp(round_ste(xint.mean((2, 3))), 0, 255)
        w, ws = int8_weights(self.weight)
        return F.linear(q, w) * ws + round_ste(self.bias / ws) * ws

    def folded(self) -> dict:
        w, ws = int8_weights(self.weight)
        bias = np.round(self.bias.detach().double().numpy() / ws.double().numpy())
        return {"weights": w.detach().numpy().astype(np.int8), "bias": bias.astype(np.int32),
                "scale": ws.numpy().astype(np.float32)}

    def exact(self, xint: torch.Tensor) -> torch.Tensor:
        p = self.folded()
        n, c, h, w = xint.shape
        m = (xint.double().sum((2, 3)) / (h * w)).float()
        q = torch.clamp(torch.round(m), 0, 255).double()
        acc = q @ torch.from_numpy(p["weights"]).double().T + torch.from_numpy(p["bias"]).double()
        return acc.float() * torch.from_numpy(p["scale"])

    def export(self, g: GraphWriter, x: str, name: str) -> str:
        p = self.folded()
        o, c = p["weights"].shape
        pool = g.op("global_avgpool", f"{name}.pool", [x], {})
        q = g.op("quantize", f"{name}.q", [pool], {"dtype": "u8", "scale": 1.0, "zero_point": 0})
        return g.op("qconv2d", name, [q], {
            "kernel": [1, 1], "stride": [1, 1], "pads": [0, 0, 0, 0], "out_channels": o,
            "output": "f32", "x_zero_point": 0,
        }, {"weights": g.tensor(f"{name}.w", p["weights"].reshape(o, 1, 1, c)),
            "bias": g.tensor(f"{name}.bias", p["bias"]),
            "scale": g.tensor(f"{name}.scale", p["scale"])})


class Int8Classifier(nn.Module):
    """The int8 twin of :class:`onebit_train.models.Classifier` (same widths, strides)."""

    task = "classify"
    trace_dtype = "u8"

    def __init__(self, in_channels: int = 1, classes: int = 10, m: float = 1.5,
                 stages=(16, 32, 64), blocks=(1, 2, 2), tau=None, size: int = 28):
        super().__init__()
        self.config = dict(in_channels=in_channels, classes=classes, m=m, stages=list(stages),
                           blocks=list(blocks), tau=None, size=size)
        widths = [max(1, round(c * m)) for c in stages]
        self.stem = QConvBNReLU(in_channels, widths[0])
        layers, cin = [], widths[0]
        for stage, (cout, count) in enumerate(zip(widths, blocks)):
            for i in range(count):
                layers.append(QConvBNReLU(cin, cout, 3, 2 if (stage > 0 and i == 0) else 1))
                cin = cout
        self.blocks = nn.ModuleList(layers)
        self.head = IntHead(cin, classes)

    def forward(self, x: torch.Tensor, trace: dict | None = None) -> torch.Tensor:
        scale = 1 / 255
        x = self.stem(x * scale, scale) if self.training else self.stem.exact(x * scale, scale)
        scale = self.stem.out_scale()
        if trace is not None:
            trace["stem"] = torch.round(x / scale)
        for i, block in enumerate(self.blocks):
            x = block(x, scale)
            scale = block.out_scale()
            if trace is not None:
                trace[f"b{i + 1}"] = torch.round(x / scale)
        return self.head(x / scale if self.training else torch.round(x / scale))  # u8 integers

    def export(self, batch: int = 1, trace: bool = False) -> GraphWriter:
        g = GraphWriter()
        c, s = self.config["in_channels"], self.config["size"]
        scale = 1 / 255
        x = self.stem.export(g, g.input("image", "u8", [batch, s, s, c]), "stem", scale)
        scale = self.stem.out_scale()
        names = [x]
        x, scale = export_int8_blocks(g, self.blocks, x, scale, names)
        g.output(self.head.export(g, x, "logits"))
        if trace:
            for name in names:
                g.output(name)
        return g
