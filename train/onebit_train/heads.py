"""8-bit heads shared by the dense-prediction families (detect, segment, superres, match), in
the two-forward style of layers.py (training with fake quantization and STEs; eval = the
exported integer semantics, as daemon/runtime/reference_interpreter.ts computes them).

- :class:`BinaryFeatures`: ±1 bits -> binary ``bconv2d`` with the ``float`` transform
  (batch norm folded into ``f32(f32(acc*mul)+bias)``) -> ``quantize`` to u8 (zero point 128).
- :class:`QOut`: u8 features (any zero point) -> ``qconv2d`` with int8 weights, an i32 bias and
  a per-channel scale to f32 (logits, regressions) or to u8 (pixels).

A BiNeal head is ``QOut(BinaryFeatures(bits))``; the int8 twin's head is
``QOut(QConvBNReLU(u8))`` (int8_twin.py), so both end in the same 8-bit layer.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import BinaryConv, bn_affine, f32, int8_weights, round_ste
from .modelfile import GraphWriter


class BinaryFeatures(nn.Module):
    """Binary conv to real features, batch-normed, quantized to u8 at ``scale`` with zero
    point 128 (so ±``127*scale`` is covered). Returns u8 *integers* minus 128 in eval and
    their fake-quantized counterpart in training (both as float tensors)."""

    ZERO_POINT = 128

    def __init__(self, cin: int, cout: int, kernel: int = 3, scale: float = 4 / 127):
        super().__init__()
        self.conv = BinaryConv(cin, cout, kernel, 1)
        self.bn = nn.BatchNorm2d(cout)
        self.scale = float(f32(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Signed u8 levels (q - 128), as float."""
        if not self.training:
            return self.exact(x)
        y = self.bn(self.conv(x)) / self.scale
        return torch.clamp(round_ste(y), -self.ZERO_POINT, 255 - self.ZERO_POINT)

    def folded(self) -> dict:
        k, c = bn_affine(self.bn)
        return {"mul": k.astype(np.float32), "bias": c.astype(np.float32)}

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        p = self.folded()
        acc = self.conv(x).float()
        y = acc * torch.from_numpy(p["mul"]).view(1, -1, 1, 1) + torch.from_numpy(p["bias"]).view(1, -1, 1, 1)
        q = torch.round((y.double() / self.scale).float()) + self.ZERO_POINT
        return torch.clamp(q, 0, 255) - self.ZERO_POINT

    def export(self, g: GraphWriter, x: str, name: str) -> str:
        p = self.folded()
        o = len(p["mul"])
        features = g.op("bconv2d", f"{name}.conv", [x], {
            **self.conv.window(), "pad_value": "plus_one", "out_channels": o, "transform": "float",
        }, {"weights": g.tensor(f"{name}.conv.w", self.conv.packed()),
            "mul": g.tensor(f"{name}.conv.mul", p["mul"]),
            "bias": g.tensor(f"{name}.conv.bias", p["bias"])})
        return g.op("quantize", f"{name}.q", [features],
                    {"dtype": "u8", "scale": self.scale, "zero_point": self.ZERO_POINT})


class QOut(nn.Module):
    """The last 8-bit layer: ``qconv2d`` (int8 per-channel weights, zero padding, an i32 bias)
    on u8 features given as *levels minus the zero point* (float tensors of integers in
    eval), with ``in_scale`` real units per level (an attribute: the int8 twin sets it to its
    learned feature scale before each forward and export). ``output="f32"``: real values
    ``f32(f32(acc) * scale)``; ``output="u8"``: levels of ``out_scale`` (pixels: 1.0)."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, in_scale: float = 4 / 127,
                 output: str = "f32", out_scale: float = 1.0):
        super().__init__()
        assert output in ("f32", "u8"), output
        self.kernel, self.pad, self.output = kernel, kernel // 2, output
        self.in_scale, self.out_scale = float(in_scale), float(out_scale)
        fan_in = cin * kernel * kernel
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel) * math.sqrt(1 / fan_in))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, levels: torch.Tensor) -> torch.Tensor:
        """Real outputs (f32) or u8 levels (as float) of ``levels`` (u8 minus zero point)."""
        if not self.training:
            return self.exact(levels)
        w, ws = int8_weights(self.weight)
        step = ws * self.in_scale  # real units of one accumulator step, per channel
        bias = round_ste(self.bias / step) * step
        real = F.conv2d(levels, w * step.view(-1, 1, 1, 1), bias, padding=self.pad)
        if self.output == "f32":
            return real
        return torch.clamp(round_ste(real / self.out_scale), 0, 255)

    def folded(self) -> dict:
        w, ws = int8_weights(self.weight)
        step = ws.double().numpy() * self.in_scale
        bias = np.round(self.bias.detach().double().numpy() / step)
        scale = step if self.output == "f32" else step / self.out_scale
        return {"weights": w.detach().numpy().astype(np.int8), "bias": bias.astype(np.int32),
                "scale": scale.astype(np.float32)}

    def exact(self, levels: torch.Tensor) -> torch.Tensor:
        p = self.folded()
        acc = F.conv2d(levels.double(), torch.from_numpy(p["weights"]).double(), padding=self.pad)
        acc = acc + torch.from_numpy(p["bias"]).double().view(1, -1, 1, 1)
        real = acc.float() * torch.from_numpy(p["scale"]).view(1, -1, 1, 1)
        if self.output == "f32":
            return real
        return torch.round(torch.clamp(real, 0, 255))

    def export(self, g: GraphWriter, x: str, name: str, x_zero_point: int) -> str:
        p = self.folded()
        o = p["weights"].shape[0]
        attrs = {"kernel": [self.kernel] * 2, "stride": [1, 1], "pads": [self.pad] * 4,
                 "out_channels": o, "output": self.output, "x_zero_point": x_zero_point}
        if self.output == "u8":
            attrs["y_zero_point"] = 0
        return g.op("qconv2d", name, [x], attrs, {
            "weights": g.tensor(f"{name}.w", p["weights"].transpose(0, 2, 3, 1)),
            "bias": g.tensor(f"{name}.bias", p["bias"]),
            "scale": g.tensor(f"{name}.scale", p["scale"])})
