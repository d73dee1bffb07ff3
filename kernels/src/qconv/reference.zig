//! Int8 convolution in plain loops: the reference every other variant is compared against.
//! It reads the packed weights through `Packing.weightOffset`, one value at a time, and
//! follows the contract line by line (no zero-point folding, no magic-number rounding).

const std = @import("std");
const contract = @import("contract.zig");
const Window2d = @import("../shape.zig").Window2d;

/// Everything a conv reads, validated by `qconv.zig`.
pub const Args = struct {
    shape: Window2d,
    /// NHWC u8 `[batch][in_h][in_w][in_c]`.
    input: []const u8,
    x_zp: u8,
    /// The whole packed-weight buffer (header included).
    weights: []const u8,
    packing: contract.Packing,
    /// `[out_c]` or null.
    bias: ?[]const i32,
    /// `[out_c]` for the u8 and f32 kinds, empty for i32.
    scale: []const f32,
    y_zp: u8,
};

pub fn conv2d(comptime kind: contract.Kind, args: Args, output: []contract.Out(kind)) void {
    const s = args.shape;
    const out_h = s.outH();
    const out_w = s.outW();
    std.debug.assert(output.len == s.outPixels() * s.out_c);
    var index: usize = 0;
    for (0..s.batch) |n| {
        for (0..out_h) |oy| {
            for (0..out_w) |ox| {
                for (0..s.out_c) |o| {
                    const acc = accumulate(args, n, oy, ox, @intCast(o));
                    output[index] = finish(kind, acc, args, o);
                    index += 1;
                }
            }
        }
    }
}

fn accumulate(args: Args, n: usize, oy: usize, ox: usize, o: u32) i32 {
    const s = args.shape;
    var acc: i32 = if (args.bias) |bias| bias[o] else 0;
    for (0..s.kernel_h) |ky| {
        const iy = @as(i64, @intCast(oy * s.stride_h + ky)) - s.pad_top;
        if (iy < 0 or iy >= s.in_h) continue; // padded tap: x = x_zp adds nothing
        for (0..s.kernel_w) |kx| {
            const ix = @as(i64, @intCast(ox * s.stride_w + kx)) - s.pad_left;
            if (ix < 0 or ix >= s.in_w) continue;
            const pixel = ((n * s.in_h + @as(usize, @intCast(iy))) * s.in_w + @as(usize, @intCast(ix))) * s.in_c;
            for (0..s.in_c) |c| {
                const x = @as(i32, args.input[pixel + c]) - args.x_zp;
                const offset = args.packing.weightOffset(o, @intCast(ky), @intCast(kx), @intCast(c));
                const w: i8 = @bitCast(args.weights[@intCast(offset)]);
                acc +%= x * w;
            }
        }
    }
    return acc;
}

fn finish(comptime kind: contract.Kind, acc: i32, args: Args, o: usize) contract.Out(kind) {
    return switch (kind) {
        .i32 => acc,
        .f32 => @as(f32, @floatFromInt(acc)) * args.scale[o],
        .u8 => requantize(acc, args.scale[o], args.y_zp),
    };
}

/// MLAS `MlasRequantizeOutput` for one value: scale in f32, clamp in float to the range
/// that stays inside u8 after the zero point, round half to even, add the zero point.
pub fn requantize(acc: i32, scale: f32, y_zp: u8) u8 {
    const low: f32 = @floatFromInt(0 - @as(i32, y_zp));
    const high: f32 = @floatFromInt(255 - @as(i32, y_zp));
    const scaled = @as(f32, @floatFromInt(acc)) * scale;
    const clamped = @min(@max(scaled, low), high);
    const rounded: i32 = @intFromFloat(roundHalfEven(clamped));
    return @intCast(rounded + y_zp);
}

/// Round to nearest, ties to even, for |f| < 2^22 (every value `requantize` sees).
pub fn roundHalfEven(f: f32) f32 {
    const below = @floor(f);
    const fraction = f - below; // exact: both are within one binade step of each other
    if (fraction > 0.5) return below + 1;
    if (fraction < 0.5) return below;
    return if (@mod(below, 2) == 0) below else below + 1;
}

test "roundHalfEven rounds ties to the even neighbour" {
    const cases = [_][2]f32{ .{ 0.5, 0 }, .{ 1.5, 2 }, .{ 2.5, 2 }, .{ -0.5, -0.0 }, .{ -1.5, -2 }, .{ -2.5, -2 }, .{ 2.4999998, 2 }, .{ 2.5000002, 3 }, .{ -254.5, -254 }, .{ 254.5, 254 } };
    for (cases) |case| try std.testing.expectEqual(case[1], roundHalfEven(case[0]));
}

test "requantize clamps before adding the zero point" {
    try std.testing.expectEqual(@as(u8, 255), requantize(1000, 1.0, 0));
    try std.testing.expectEqual(@as(u8, 0), requantize(-1000, 1.0, 10));
    try std.testing.expectEqual(@as(u8, 138), requantize(5, 2.5, 126)); // 12.5 -> 12
    try std.testing.expectEqual(@as(u8, 140), requantize(7, 1.5, 130)); // 10.5 -> 10
    try std.testing.expectEqual(@as(u8, 255), requantize(std.math.maxInt(i32), 1.0, 200));
}
