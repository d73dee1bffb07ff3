//! Pooling: the contract every variant keeps. All tensors are NHWC; window shapes come as a
//! `shape.Window2d` whose `out_c` must equal `in_c` (pooling keeps the channels). Padded
//! positions never take part: a window always holds at least one real pixel because every
//! pad is below the kernel size (`Window2d.validate`).
//!
//! Binary max pool (`maxPoolBits`): input and output are packed bits as in DESIGN.md
//! section 3 (bit 1 = -1, bit 0 = +1, channel c is bit c%64 of word c/64 of its pixel,
//! `words = ceil(C/64)` u64 per pixel, tail bits 0). The max of ±1 values is +1 as soon as
//! one value is +1, so an output word is the AND of the window's words: a padded position
//! acts as -inf (it is skipped). Tail bits stay 0.
//!
//! Average pool, f32 (`avgPoolF32`): over the real positions of the window, in order
//! (ky, kx) row-major, `sum = sum + x` in f32 starting from 0, then `out = sum / f32(count)`
//! with `count` the number of real positions (padding excluded from the count, like ONNX
//! AveragePool with count_include_pad = 0).
//!
//! Average pool, int8 (`avgPoolI8`, i8 in, i8 out, same quantization in and out): the exact
//! integer sum over the real positions, divided by `count` and rounded half away from zero:
//!     out = sign(sum) * floor((2 * |sum| + count) / (2 * count))
//! (so 2.5 -> 3, -2.5 -> -3, 2.4 -> 2). The result lies in -128..127 because it is a mean.
//!
//! Global average pool (`globalAvgPoolF32`, `globalAvgPoolI8`): the same two definitions
//! with the window being the whole `height x width` image (pixels in row-major order), input
//! `[batch][height][width][channels]`, output `[batch][channels]`. The i8 sum is exact in
//! 64 bits.

const std = @import("std");

/// The real (unpadded) input rows or columns `[begin, end)` seen by output index `o`.
pub const Span = struct {
    begin: u32,
    end: u32,

    pub fn len(self: Span) u32 {
        return self.end - self.begin;
    }
};

pub fn span(o: u32, stride: u32, pad: u32, kernel: u32, size: u32) Span {
    const start = @as(i64, o) * stride - pad;
    const begin: u32 = @intCast(@max(start, 0));
    const end: u32 = @intCast(@min(start + kernel, size));
    std.debug.assert(begin < end);
    return .{ .begin = begin, .end = end };
}

/// Mean of `count` int8 values summing to `sum`, rounded half away from zero.
pub fn roundedMean(comptime T: type, sum: T, count: T) i8 {
    std.debug.assert(count > 0);
    const magnitude = @abs(sum);
    const quotient: T = @intCast((2 * magnitude + @as(@TypeOf(magnitude), @intCast(count))) / (2 * @as(@TypeOf(magnitude), @intCast(count))));
    return @intCast(if (sum < 0) -quotient else quotient);
}

test "roundedMean rounds half away from zero" {
    try std.testing.expectEqual(@as(i8, 3), roundedMean(i32, 5, 2));
    try std.testing.expectEqual(@as(i8, -3), roundedMean(i32, -5, 2));
    try std.testing.expectEqual(@as(i8, 2), roundedMean(i32, 12, 5)); // 2.4
    try std.testing.expectEqual(@as(i8, -2), roundedMean(i32, -12, 5));
    try std.testing.expectEqual(@as(i8, 3), roundedMean(i32, 13, 5)); // 2.6
    try std.testing.expectEqual(@as(i8, -128), roundedMean(i64, -128 * 9, 9));
    try std.testing.expectEqual(@as(i8, 127), roundedMean(i64, 127 * 7, 7));
    try std.testing.expectEqual(@as(i8, 0), roundedMean(i32, -1, 3));
}

test "span clips the window to the image" {
    try std.testing.expectEqual(Span{ .begin = 0, .end = 2 }, span(0, 1, 1, 3, 5));
    try std.testing.expectEqual(Span{ .begin = 3, .end = 5 }, span(4, 1, 1, 3, 5));
    try std.testing.expectEqual(Span{ .begin = 2, .end = 5 }, span(1, 2, 0, 3, 5));
}
