//! Elementwise kernels of the graph executor's non-conv ops, bit-exact with the TypeScript ops
//! they replace (daemon/runtime/ops/{quantize,sigmoid,argmax,upsample}.ts) and so with the
//! executor's reference interpreter.
//!
//! Quantize, f32 -> u8 or i8 (ONNX Runtime's QuantizeLinear, MLAS):
//!   `v = x / scale` in f32 (IEEE division, round to nearest even); NaN gives `v = 0`;
//!   `v = clamp(v, lo - zero_point, hi - zero_point)` with `lo..hi` = 0..255 (u8) or
//!   -128..127 (i8); `q = round_half_even(v) + zero_point` (an integer in `lo..hi`).
//!   `scale` must be finite and > 0; `zero_point` in `lo..hi`. i8 results are written as their
//!   two's complement bytes.
//!
//! Bilinear upsample, f32 NHWC `[N][H][W][C]` -> `[N][H*sh][W*sw][C]`, PyTorch's
//! `interpolate(mode="bilinear", scale_factor)`, everything in f64 and rounded to f32 once:
//!   per output row `y` (likewise per column `x`, with `W`, `sw`):
//!     align_corners = 0: `src = max((y + 0.5) / sh - 0.5, 0)`;
//!     align_corners = 1: `src = y * (H - 1) / (outH - 1)` (product first; 0 when outH is 1);
//!     `y0 = min(floor(src), H - 1)`, `y1 = min(y0 + 1, H - 1)`, `ly = src - y0`;
//!   `upper = (1 - lx) * a + lx * b`, `lower = (1 - lx) * c + lx * d` (two products and one
//!   sum each, no fused multiply-add), `out = f32((1 - ly) * upper + ly * lower)` with
//!   `a, b, c, d` the inputs at (y0, x0), (y0, x1), (y1, x0), (y1, x1).
//!
//! Sigmoid, f32 -> f32: `y = f32(1 / (1 + exp(-x)))` in f64, where `exp` is fdlibm 5.3's
//! `e_exp.c` exactly as V8 ships it (`src/base/ieee754.cc`, what JavaScript's `Math.exp`
//! calls; including its `exp(1) = e` special case), so the result has the bits of the
//! TypeScript op on every machine.
//!
//! Argmax, f32 `[pixels][channels]` -> i32 `[pixels]`: the first channel holding the maximum;
//! a later value replaces the best only when it is greater (`>`), so a NaN is never chosen
//! after channel 0 (and a NaN in channel 0 keeps index 0).
//!
//! Work is split into chunks writing disjoint outputs; results do not depend on the thread
//! count or the CPU level.

test {}
