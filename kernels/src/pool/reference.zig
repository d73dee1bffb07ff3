//! Pooling in plain loops: the reference the SIMD variants are compared against. Every
//! window position is checked against the image on its own, as the contract reads.

const std = @import("std");
const contract = @import("contract.zig");
const Window2d = @import("../shape.zig").Window2d;

/// Input position of output index `o`, tap `k`, or null when the tap falls on padding.
fn tap(o: usize, k: usize, stride: u32, pad: u32, size: u32) ?usize {
    const at = @as(i64, @intCast(o * stride + k)) - pad;
    if (at < 0 or at >= size) return null;
    return @intCast(at);
}

/// Binary max pool (AND of the words of the window) over `words` u64 per pixel.
pub fn maxPoolBits(s: Window2d, input: []const u64, output: []u64) void {
    const words = (s.in_c + 63) / 64;
    var index: usize = 0;
    for (0..s.batch) |n| for (0..s.outH()) |oy| for (0..s.outW()) |ox| for (0..words) |w| {
        var result: u64 = std.math.maxInt(u64);
        for (0..s.kernel_h) |ky| for (0..s.kernel_w) |kx| {
            const iy = tap(oy, ky, s.stride_h, s.pad_top, s.in_h) orelse continue;
            const ix = tap(ox, kx, s.stride_w, s.pad_left, s.in_w) orelse continue;
            result &= input[((n * s.in_h + iy) * s.in_w + ix) * words + w];
        };
        output[index] = result;
        index += 1;
    };
}

/// Average pool of `T` (f32 or i8), padding excluded from the count.
pub fn avgPool(comptime T: type, s: Window2d, input: []const T, output: []T) void {
    var index: usize = 0;
    for (0..s.batch) |n| for (0..s.outH()) |oy| for (0..s.outW()) |ox| for (0..s.in_c) |c| {
        var sum: if (T == f32) f32 else i32 = 0;
        var count: u32 = 0;
        for (0..s.kernel_h) |ky| for (0..s.kernel_w) |kx| {
            const iy = tap(oy, ky, s.stride_h, s.pad_top, s.in_h) orelse continue;
            const ix = tap(ox, kx, s.stride_w, s.pad_left, s.in_w) orelse continue;
            sum = sum + input[((n * s.in_h + iy) * s.in_w + ix) * s.in_c + c];
            count += 1;
        };
        output[index] = if (T == f32) sum / @as(f32, @floatFromInt(count)) else contract.roundedMean(i32, sum, @intCast(count));
        index += 1;
    };
}

/// Global average pool of `T` (f32 or i8): `[batch][pixels][channels]` -> `[batch][channels]`.
pub fn globalAvgPool(comptime T: type, batch: u32, pixels: u64, channels: u32, input: []const T, output: []T) void {
    for (0..batch) |n| for (0..channels) |c| {
        var sum: if (T == f32) f32 else i64 = 0;
        for (0..pixels) |p| sum = sum + input[(n * pixels + p) * channels + c];
        output[n * channels + c] = if (T == f32)
            sum / @as(f32, @floatFromInt(pixels))
        else
            contract.roundedMean(i64, sum, @intCast(pixels));
    };
}
