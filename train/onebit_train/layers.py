"""BiNeal building blocks (Nie et al., arXiv 2202.03716) in PyTorch, each with two forwards:

- training (``module.training``): float with straight-through estimators: ApproxSign for
  activations, clipped identity for weights, identity for INT4/INT8 rounding; batch norm and
  the training-only activation parameters (RSign/RPReLU-like offsets, slopes, shifts) live
  here and nowhere else;
- eval: *the exported semantics*, integer for integer as the onebit runtime computes them
  (daemon/runtime/reference_interpreter.ts): binary convs as exact ±1 accumulators with +1
  padding, per-channel integer thresholds, the f32 rounding order of the output transforms,
  round-half-even. Eval forward and the model file are derived from the same ``folded()``
  parameters, so "PyTorch eval == runtime" is a bit-exact check of the export.

Activations between modules are NCHW float tensors: u8 values for images, ±1 for bits.
Every module has ``export(g, x)`` writing its ops to a :class:`GraphWriter` and returning
the name of its output activation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .modelfile import GraphWriter, pack_bits_nhwc

INT4_MIN, INT4_MAX = -8, 7
THRESHOLD_F32_MAX = float(2 ** 24)


class ApproxSign(torch.autograd.Function):
    """Forward: +1 for x >= 0, else -1 (the runtime's ``acc >= t``). Backward: the ApproxSign
    derivative of Bi-Real Net, 2 - 2|x| on [-1, 1]."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.clamp(2 - 2 * x.abs(), min=0)


class WeightSign(torch.autograd.Function):
    """Binary weights: sign (w >= 0 -> +1) forward, clipped identity backward."""

    @staticmethod
    def forward(ctx, w):
        ctx.save_for_backward(w)
        return torch.where(w >= 0, 1.0, -1.0).to(w.dtype)

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype)


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half to even forward, identity backward."""
    return x + (torch.round(x) - x).detach()


def f32(x) -> np.float32:
    return np.float32(x)


def int8_weights(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-output-channel symmetric int8 fake quantization: (integer weights with STE, scale)."""
    scale = w.detach().abs().flatten(1).amax(1).clamp(min=1e-8) / 127
    shape = (-1,) + (1,) * (w.dim() - 1)
    q = torch.clamp(round_ste(w / scale.view(shape)), -127, 127)
    return q, scale


def bn_affine(bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """Batch norm in eval as ``y = k*x + c`` per channel (float64)."""
    var = bn.running_var.detach().double().numpy()
    mean = bn.running_mean.detach().double().numpy()
    gamma = bn.weight.detach().double().numpy()
    beta = bn.bias.detach().double().numpy()
    k = gamma / np.sqrt(var + bn.eps)
    return k, beta - k * mean


def nhwc(t: torch.Tensor) -> np.ndarray:
    """An NCHW tensor as a contiguous NHWC numpy array (the runtime's layout)."""
    return t.detach().permute(0, 2, 3, 1).contiguous().numpy()


class Stem(nn.Module):
    """The 8-bit first layer: u8 image -> ``qconv2d`` (int8 weights, zero padding, the exact
    i32 accumulator as f32) -> ``binarize`` with per-channel thresholds. Training: fake-quant
    conv of the image / 255, batch norm, a learned per-channel offset (RSign) and ApproxSign.
    Export folds batch norm, the weight scale and the offset into one threshold per channel;
    a channel whose folded scale is negative gets negated weights (``binarize`` has no flip).
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1):
        super().__init__()
        self.kernel, self.stride, self.pad = kernel, stride, kernel // 2
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel) * math.sqrt(2 / (cin * kernel * kernel)))
        self.bn = nn.BatchNorm2d(cout)
        self.offset = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.exact(x)
        q, scale = int8_weights(self.weight)
        y = F.conv2d(x / 255, q * scale.view(-1, 1, 1, 1), stride=self.stride, padding=self.pad)
        return ApproxSign.apply(self.bn(y) - self.offset.view(1, -1, 1, 1))

    def folded(self) -> dict:
        q, scale = int8_weights(self.weight)
        q = q.detach().double().numpy()
        k, c = bn_affine(self.bn)
        c = c - self.offset.detach().double().numpy()
        a = k * scale.double().numpy() / 255  # bit = +1 iff a*acc + c >= 0
        sign = np.where(a < 0, -1.0, 1.0)
        t = np.where(a == 0, np.where(c >= 0, 0.0, 1.0), np.ceil(-c / np.where(a == 0, 1, np.abs(a))))
        q = q * sign.reshape(-1, 1, 1, 1)
        q[a == 0] = 0
        t = np.clip(t, -THRESHOLD_F32_MAX, THRESHOLD_F32_MAX)
        return {"weights": q.astype(np.int8), "thresholds": t.astype(np.float32)}

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        p = self.folded()
        acc = F.conv2d(x.double(), torch.from_numpy(p["weights"]).double(), stride=self.stride, padding=self.pad)
        t = torch.from_numpy(p["thresholds"]).double().view(1, -1, 1, 1)
        return torch.where(acc.float().double() < t, -1.0, 1.0).float()

    def export(self, g: GraphWriter, x: str, name: str) -> str:
        p = self.folded()
        o = p["weights"].shape[0]
        conv = g.op("qconv2d", name, [x], {
            "kernel": [self.kernel] * 2, "stride": [self.stride] * 2, "pads": [self.pad] * 4,
            "out_channels": o, "output": "f32", "x_zero_point": 0,
        }, {"weights": g.tensor(f"{name}.w", p["weights"].transpose(0, 2, 3, 1)),
            "scale": g.tensor(f"{name}.scale", np.ones(o, np.float32))})
        return g.op("binarize", f"{name}.bin", [conv], {},
                    {"thresholds": g.tensor(f"{name}.bin.t", p["thresholds"])})


class BinaryConv(nn.Module):
    """A binary conv: ±1 weights (latent float), ±1 inputs, +1 spatial padding (free in the
    runtime: pad bits are 0). Returns the exact integer accumulator (as float)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride, self.pad = kernel, stride, kernel // 2
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel) * 0.1)

    def binary_weight(self) -> torch.Tensor:
        return WeightSign.apply(self.weight)

    def forward(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        w = self.binary_weight() if weight is None else weight
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, value=1.0)
        return F.conv2d(x, w, stride=self.stride)

    def window(self) -> dict:
        return {"kernel": [self.kernel] * 2, "stride": [self.stride] * 2, "pads": [self.pad] * 4}

    def packed(self, weight: torch.Tensor | None = None) -> np.ndarray:
        w = (self.binary_weight() if weight is None else weight).detach().numpy()
        return pack_bits_nhwc(w.transpose(0, 2, 3, 1))  # [O, kh, kw, ceil(C/64)]


def int4(bn: nn.BatchNorm2d, acc: torch.Tensor) -> torch.Tensor:
    """Training INT4: batch norm in INT4 units, round (STE), clamp to -8..7."""
    return torch.clamp(round_ste(bn(acc)), INT4_MIN, INT4_MAX)


def int4_exact(acc: torch.Tensor, mul: np.ndarray, bias: np.ndarray) -> torch.Tensor:
    """The runtime's ``int8`` transform at -8..7: roundEven(clamp(f32(f32(acc*mul)+bias)))."""
    m = torch.from_numpy(mul).view(1, -1, 1, 1)
    b = torch.from_numpy(bias).view(1, -1, 1, 1)
    real = (acc.float() * m) + b  # two f32 ops, each rounded: no fused multiply-add on CPU eager
    return torch.round(torch.clamp(real, INT4_MIN, INT4_MAX))


def new_int4_bn(c: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c)
    nn.init.constant_(bn.weight, 2.5)  # about ±3 std of the accumulator onto -8..7
    return bn


class BinealBlock(nn.Module):
    """The BiNeal block: binary 3x3 conv and binary 1x1 shortcut conv (same stride), each
    batch-normed into INT4, added with saturation (-8..7) and binarized by a learned
    RPReLU-like activation (shift, positive slope on the negative side, shift) and sign.
    ``sks`` (a :class:`onebit_train.sks.Codebook`) makes the 3x3 conv a codebook conv.

    Export: ``<name>.short`` bconv2d 1x1 ``int8`` -8..7, ``<name>`` bconv2d/codebook_conv2d
    3x3 ``join`` with the shortcut as residual; the activation folds into one integer
    threshold per channel, found by evaluating it on all 16 INT4 sums (it is monotone)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, sks=None):
        super().__init__()
        self.conv = BinaryConv(cin, cout, 3, stride)
        self.short = BinaryConv(cin, cout, 1, stride)
        self.bn_conv, self.bn_short = new_int4_bn(cout), new_int4_bn(cout)
        self.shift_in = nn.Parameter(torch.full((cout,), -0.5))
        self.slope = nn.Parameter(torch.full((cout,), 0.25))
        self.shift_out = nn.Parameter(torch.zeros(cout))
        self.sks = sks

    def conv_weight(self) -> torch.Tensor:
        return self.sks(self.conv.weight) if self.sks is not None else self.conv.binary_weight()

    def activation(self, s: torch.Tensor) -> torch.Tensor:
        """Training-only real activation before the sign; monotone in s (slope >= 0.01)."""
        shape = (1, -1) + (1,) * (s.dim() - 2)
        u = s - self.shift_in.view(shape)
        slope = self.slope.clamp(min=0.01).view(shape)
        return torch.where(u >= 0, u, slope * u) + self.shift_out.view(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.exact(x)
        qa = int4(self.bn_conv, self.conv(x, self.conv_weight()))
        qb = int4(self.bn_short, self.short(x))
        s = torch.clamp(qa + qb, INT4_MIN, INT4_MAX)
        return ApproxSign.apply(self.activation(s))

    def folded(self) -> dict:
        out = {}
        for key, bn in (("conv", self.bn_conv), ("short", self.bn_short)):
            k, c = bn_affine(bn)
            out[f"{key}.mul"], out[f"{key}.bias"] = k.astype(np.float32), c.astype(np.float32)
        with torch.no_grad():
            s = torch.arange(INT4_MIN, INT4_MAX + 1, dtype=torch.float32).view(-1, 1).expand(-1, len(self.slope))
            plus = (self.activation(s) >= 0).numpy()  # [16, C]
        assert (np.diff(plus.astype(np.int8), axis=0) >= 0).all(), "activation is not monotone"
        # bit = +1 iff s >= T: T = the first s that gives +1, or 8 when none does.
        first = np.where(plus.any(0), plus.argmax(0) + INT4_MIN, INT4_MAX + 1)
        out["thresholds"] = first.astype(np.int32)
        return out

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        p = self.folded()
        qa = int4_exact(self.conv(x, self.conv_weight()), p["conv.mul"], p["conv.bias"])
        qb = int4_exact(self.short(x), p["short.mul"], p["short.bias"])
        s = torch.clamp(qa + qb, INT4_MIN, INT4_MAX)
        t = torch.from_numpy(p["thresholds"]).float().view(1, -1, 1, 1)
        return torch.where(s < t, -1.0, 1.0)

    def export(self, g: GraphWriter, x: str, name: str) -> str:
        p = self.folded()
        o = len(p["thresholds"])
        short = g.op("bconv2d", f"{name}.short", [x], {
            **self.short.window(), "pad_value": "plus_one", "out_channels": o,
            "transform": "int8", "qmin": INT4_MIN, "qmax": INT4_MAX,
        }, {"weights": g.tensor(f"{name}.short.w", self.short.packed()),
            "mul": g.tensor(f"{name}.short.mul", p["short.mul"]),
            "bias": g.tensor(f"{name}.short.bias", p["short.bias"])})
        attrs = {**self.conv.window(), "pad_value": "plus_one", "out_channels": o,
                 "transform": "join", "qmin": INT4_MIN, "qmax": INT4_MAX}
        params = {"mul": g.tensor(f"{name}.mul", p["conv.mul"]),
                  "bias": g.tensor(f"{name}.bias", p["conv.bias"]),
                  "thresholds": g.tensor(f"{name}.t", p["thresholds"])}
        if self.sks is not None:
            codebook, indices = self.sks.export(self.conv.weight)
            attrs["tau"] = self.sks.tau
            params["codebook"] = g.tensor(f"{name}.codebook", codebook)
            params["indices"] = g.tensor(f"{name}.indices", indices)
            return g.op("codebook_conv2d", name, [x, short], attrs, params)
        params["weights"] = g.tensor(f"{name}.w", self.conv.packed())
        return g.op("bconv2d", name, [x, short], attrs, params)


class PoolHead(nn.Module):
    """Classifier head: ``global_avgpool`` of the bits (mean of ±1), ``quantize`` to u8
    (scale 1/127, zero point 128) and an 8-bit 1x1 ``qconv2d`` to f32 logits, with int8
    per-channel weights and an i32 bias. Training fake-quantizes the same steps."""

    SCALE = 1 / 127

    def __init__(self, cin: int, classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, cin) * math.sqrt(1 / cin))
        self.bias = nn.Parameter(torch.zeros(classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.exact(x)
        m = x.mean((2, 3))
        q = torch.clamp(round_ste(m / self.SCALE) + 128, 0, 255) - 128
        w, ws = int8_weights(self.weight)
        step = ws * self.SCALE
        return F.linear(q, w) * step + round_ste(self.bias / step) * step

    def folded(self) -> dict:
        w, ws = int8_weights(self.weight)
        step = ws.double().numpy() * np.float64(f32(self.SCALE))
        bias = np.round(self.bias.detach().double().numpy() / step)
        return {"weights": w.detach().numpy().astype(np.int8), "bias": bias.astype(np.int32),
                "scale": step.astype(np.float32)}

    def exact(self, x: torch.Tensor) -> torch.Tensor:
        p = self.folded()
        n, c, h, w = x.shape
        m = (x.double().sum((2, 3)) / (h * w)).float()  # exact sum, one rounding to f32
        q = torch.round((m.double() / float(f32(self.SCALE))).float()) + 128
        q = torch.clamp(q, 0, 255).double() - 128
        acc = q @ torch.from_numpy(p["weights"]).double().T + torch.from_numpy(p["bias"]).double()
        return acc.float() * torch.from_numpy(p["scale"])

    def export(self, g: GraphWriter, x: str, name: str) -> str:
        p = self.folded()
        o, c = p["weights"].shape
        pool = g.op("global_avgpool", f"{name}.pool", [x], {})
        q = g.op("quantize", f"{name}.q", [pool], {"dtype": "u8", "scale": self.SCALE, "zero_point": 128})
        return g.op("qconv2d", name, [q], {
            "kernel": [1, 1], "stride": [1, 1], "pads": [0, 0, 0, 0], "out_channels": o,
            "output": "f32", "x_zero_point": 128,
        }, {"weights": g.tensor(f"{name}.w", p["weights"].reshape(o, 1, 1, c)),
            "bias": g.tensor(f"{name}.bias", p["bias"]),
            "scale": g.tensor(f"{name}.scale", p["scale"])})


def to_nhwc_bits(t: torch.Tensor) -> np.ndarray:
    """A ±1 NCHW activation as the runtime's packed u64 words (flat)."""
    return pack_bits_nhwc(nhwc(t)).ravel()


def sigmoid_f32(logits: np.ndarray) -> np.ndarray:
    """The runtime's ``sigmoid``: computed in double, rounded once to f32."""
    return (1 / (1 + np.exp(-logits.astype(np.float64)))).astype(np.float32)


def export_blocks(g: GraphWriter, blocks, x: str, names: list[str]) -> str:
    """Exports ``blocks`` in order as ``b1``, ``b2``, ... from ``x``; appends each block's
    output to ``names`` (the traced layers) and returns the last one."""
    for i, block in enumerate(blocks):
        x = block.export(g, x, f"b{i + 1}")
        names.append(x)
    return x
