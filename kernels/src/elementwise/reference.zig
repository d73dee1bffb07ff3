//! Plain loops of the elementwise contract (`contract.zig`): the reference every other
//! variant is compared against.

const std = @import("std");

/// Rounds to the nearest integer, ties to even.
pub fn roundHalfEven(v: f32) f32 {
    const f = @floor(v);
    const d = v - f;
    if (d < 0.5) return f;
    if (d > 0.5) return f + 1;
    return if (@mod(f, 2) == 0) f else f + 1;
}

/// Quantizes `input` into `output` (bytes; i8 as two's complement) with bounds `lo..hi`.
pub fn quantize(input: []const f32, output: []u8, scale: f32, zero_point: i32, lo: i32, hi: i32) void {
    const low: f32 = @floatFromInt(lo - zero_point);
    const high: f32 = @floatFromInt(hi - zero_point);
    for (input, output) |x, *out| {
        var v = x / scale;
        if (std.math.isNan(v)) v = 0;
        if (v < low) v = low;
        if (v > high) v = high;
        const q: i32 = @as(i32, @intFromFloat(roundHalfEven(v))) + zero_point;
        out.* = @truncate(@as(u32, @bitCast(q)));
    }
}

/// Source indices and weight of output index `o` of an axis of `size` values upsampled by
/// `scale`.
pub const AxisPoint = struct { lo: u32, hi: u32, frac: f64 };

pub fn axisPoint(o: u32, size: u32, scale: u32, align_corners: bool) AxisPoint {
    const out_size = size * scale;
    const of: f64 = @floatFromInt(o);
    var src: f64 = 0;
    if (align_corners) {
        if (out_size > 1) src = of * @as(f64, @floatFromInt(size - 1)) / @as(f64, @floatFromInt(out_size - 1));
    } else {
        src = @max((of + 0.5) / @as(f64, @floatFromInt(scale)) - 0.5, 0.0);
    }
    const low: u32 = @min(@as(u32, @intFromFloat(@floor(src))), size - 1);
    return .{ .lo = low, .hi = @min(low + 1, size - 1), .frac = src - @as(f64, @floatFromInt(low)) };
}

/// Sizes of a bilinear upsample.
pub const Upsample = struct {
    batch: u32,
    in_h: u32,
    in_w: u32,
    channels: u32,
    scale_h: u32,
    scale_w: u32,
    align_corners: bool,

    pub fn outH(self: Upsample) u32 {
        return self.in_h * self.scale_h;
    }
    pub fn outW(self: Upsample) u32 {
        return self.in_w * self.scale_w;
    }
};

/// One output value from its four inputs and weights.
pub inline fn blend(a: f32, b: f32, c: f32, d: f32, lx: f64, ly: f64) f32 {
    const upper = (1 - lx) * @as(f64, a) + lx * @as(f64, b);
    const lower = (1 - lx) * @as(f64, c) + lx * @as(f64, d);
    return @floatCast((1 - ly) * upper + ly * lower);
}

/// Bilinear upsample of output rows `row_begin..row_end` of image `n`.
pub fn upsampleRows(s: Upsample, input: []const f32, output: []f32, n: u32, row_begin: u32, row_end: u32) void {
    const out_h = s.outH();
    const out_w = s.outW();
    const c: usize = s.channels;
    for (row_begin..row_end) |oy| {
        const r = axisPoint(@intCast(oy), s.in_h, s.scale_h, s.align_corners);
        const top = (@as(usize, n) * s.in_h + r.lo) * s.in_w;
        const bottom = (@as(usize, n) * s.in_h + r.hi) * s.in_w;
        for (0..out_w) |ox| {
            const col = axisPoint(@intCast(ox), s.in_w, s.scale_w, s.align_corners);
            const out = ((@as(usize, n) * out_h + oy) * out_w + ox) * c;
            for (0..c) |k| {
                output[out + k] = blend(
                    input[(top + col.lo) * c + k],
                    input[(top + col.hi) * c + k],
                    input[(bottom + col.lo) * c + k],
                    input[(bottom + col.hi) * c + k],
                    col.frac,
                    r.frac,
                );
            }
        }
    }
}

/// Bilinear upsample of the whole tensor.
pub fn upsample(s: Upsample, input: []const f32, output: []f32) void {
    for (0..s.batch) |n| upsampleRows(s, input, output, @intCast(n), 0, s.outH());
}

test "roundHalfEven rounds ties to even" {
    try std.testing.expectEqual(@as(f32, 0), roundHalfEven(0.5));
    try std.testing.expectEqual(@as(f32, 2), roundHalfEven(1.5));
    try std.testing.expectEqual(@as(f32, -2), roundHalfEven(-2.5));
    try std.testing.expectEqual(@as(f32, -1), roundHalfEven(-0.7));
    try std.testing.expectEqual(@as(f32, 3), roundHalfEven(2.6));
}

/// `exp` of fdlibm 5.3 (`e_exp.c`) as V8 ships it (`src/base/ieee754.cc`, which JavaScript's
/// `Math.exp` calls), line by line, so sigmoid gives the same bits as the TypeScript op.
pub fn expFdlibm(x_in: f64) f64 {
    const half = [2]f64{ 0.5, -0.5 };
    const o_threshold: f64 = 7.09782712893383973096e+02;
    const u_threshold: f64 = -7.45133219101941108420e+02;
    const ln2_hi = [2]f64{ 6.93147180369123816490e-01, -6.93147180369123816490e-01 };
    const ln2_lo = [2]f64{ 1.90821492927058770002e-10, -1.90821492927058770002e-10 };
    const huge: f64 = 1.0e+300;
    const twom1000: f64 = 9.33263618503218878990e-302;
    const two1023: f64 = 8.988465674311579539e307;
    var x = x_in;
    const bits: u64 = @bitCast(x);
    const high: u32 = @intCast(bits >> 32);
    const xsb: usize = high >> 31;
    const hx: u32 = high & 0x7fffffff;
    var hi: f64 = 0;
    var lo: f64 = 0;
    var k: i32 = 0;
    if (hx >= 0x40862E42) {
        if (hx >= 0x7ff00000) {
            const low: u32 = @truncate(bits);
            if (((hx & 0xfffff) | low) != 0) return x + x; // NaN
            return if (xsb == 0) x else 0.0; // exp(+-inf) = {inf, 0}
        }
        if (x > o_threshold) return huge * huge;
        if (x < u_threshold) return twom1000 * twom1000;
    }
    if (hx > 0x3fd62e42) {
        if (hx < 0x3FF0A2B2) {
            if (x == 1.0) return std.math.e;
            hi = x - ln2_hi[xsb];
            lo = ln2_lo[xsb];
            k = 1 - @as(i32, @intCast(xsb)) - @as(i32, @intCast(xsb));
        } else {
            k = @intFromFloat(invln2 * x + half[xsb]);
            const t: f64 = @floatFromInt(k);
            hi = x - t * ln2_hi[0];
            lo = t * ln2_lo[0];
        }
        x = hi - lo;
    } else if (hx < 0x3e300000) {
        if (huge + x > 1.0) return 1.0 + x;
    } else {
        k = 0;
    }
    const t = x * x;
    const twopk: f64 = if (k >= -1021)
        @bitCast(@as(u64, @as(u32, @bitCast(@as(i32, 0x3ff00000) + (k << 20)))) << 32)
    else
        @bitCast(@as(u64, @as(u32, @bitCast(@as(i32, 0x3ff00000) + ((k + 1000) << 20)))) << 32);
    const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
    const y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
    if (k >= -1021) {
        if (k == 1024) return y * 2.0 * two1023;
        return y * twopk;
    }
    return y * twopk * twom1000;
}

pub const invln2: f64 = 1.44269504088896338700e+00;
pub const P1: f64 = 1.66666666666666019037e-01;
pub const P2: f64 = -2.77777777770155933842e-03;
pub const P3: f64 = 6.61375632143793436117e-05;
pub const P4: f64 = -1.65339022054652515390e-06;
pub const P5: f64 = 4.13813679705723846039e-08;

/// Sigmoid of one value: `f32(1 / (1 + exp(-x)))` in f64.
pub inline fn sigmoidOne(x: f32) f32 {
    return @floatCast(1.0 / (1.0 + expFdlibm(-@as(f64, x))));
}

/// Sigmoid of every value of `input` into `output`.
pub fn sigmoid(input: []const f32, output: []f32) void {
    for (input, output) |x, *y| y.* = sigmoidOne(x);
}

test "expFdlibm gives exact values where exp is exact or special" {
    try std.testing.expectEqual(@as(f64, 1), expFdlibm(0));
    try std.testing.expectEqual(std.math.e, expFdlibm(1));
    try std.testing.expectEqual(std.math.inf(f64), expFdlibm(800));
    try std.testing.expectEqual(@as(f64, 0), expFdlibm(-800));
    try std.testing.expectEqual(@as(f64, 0), expFdlibm(-std.math.inf(f64)));
    try std.testing.expect(std.math.isNan(expFdlibm(std.math.nan(f64))));
    try std.testing.expectApproxEqRel(@as(f64, 7.38905609893065), expFdlibm(2), 1e-15);
    try std.testing.expectApproxEqRel(@as(f64, 0.1353352832366127), expFdlibm(-2), 1e-15);
}

/// Per pixel, the channel of the first maximum of `input` (`pixels x channels`): a later
/// value replaces the best only when it is greater (`>`), so NaN is never chosen after
/// channel 0 and a NaN in channel 0 keeps index 0.
pub fn argmax(input: []const f32, output: []i32, channels: usize) void {
    for (output, 0..) |*out, p| {
        const row = input[p * channels ..][0..channels];
        var best: usize = 0;
        for (1..channels) |k| {
            if (row[k] > row[best]) best = k;
        }
        out.* = @intCast(best);
    }
}
