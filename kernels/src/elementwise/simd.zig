//! SIMD variants of the elementwise contract (`contract.zig`), each from one generic function
//! with a comptime vector width (`<lanes>__<isa>`: the build's CPU level picks the
//! instructions; `cpu.vector_bytes` decides the lanes). Bit-exact with `reference.zig`.

const std = @import("std");
const cpu = @import("../cpu.zig");
const limits = @import("../limits.zig");
const Ctx = @import("../ctx.zig").Ctx;
const reference = @import("reference.zig");

/// f32 lanes of one vector register.
pub const f32_lanes = cpu.vector_bytes / 4;
/// f64 lanes of one vector register.
pub const f64_lanes = cpu.vector_bytes / 8;

/// Elements of one quantize chunk.
pub const quantize_chunk: u32 = 1 << 16;

/// Adding and subtracting 1.5 * 2^23 rounds an f32 of magnitude below 2^22 to an integer,
/// ties to even (the default rounding mode; the clamp keeps |v| <= 510).
const round_magic: f32 = 12582912.0;

/// Quantize of `input` to `output` with `lanes` f32 per vector (`quantize__<lanes>`).
pub fn quantizeLanes(comptime lanes: comptime_int, input: []const f32, output: []u8, scale: f32, zero_point: i32, lo: i32, hi: i32) void {
    const Vf = @Vector(lanes, f32);
    const Vi = @Vector(lanes, i32);
    const low: f32 = @floatFromInt(lo - zero_point);
    const high: f32 = @floatFromInt(hi - zero_point);
    const scale_v: Vf = @splat(scale);
    const low_v: Vf = @splat(low);
    const high_v: Vf = @splat(high);
    const magic_v: Vf = @splat(round_magic);
    const zero_v: Vf = @splat(0);
    const zp_v: Vi = @splat(zero_point);
    var i: usize = 0;
    while (i + lanes <= input.len) : (i += lanes) {
        const x: Vf = input[i..][0..lanes].*;
        var v = x / scale_v;
        v = @select(f32, v != v, zero_v, v);
        v = @select(f32, v < low_v, low_v, v);
        v = @select(f32, v > high_v, high_v, v);
        const r = (v + magic_v) - magic_v;
        const q = @as(Vi, @intFromFloat(r)) + zp_v;
        const bytes: @Vector(lanes, u8) = @truncate(@as(@Vector(lanes, u32), @bitCast(q)));
        output[i..][0..lanes].* = bytes;
    }
    reference.quantize(input[i..], output[i..], scale, zero_point, lo, hi);
}

/// One parallel quantize call.
pub const QuantizeJob = struct {
    input: []const f32,
    output: []u8,
    scale: f32,
    zero_point: i32,
    lo: i32,
    hi: i32,

    pub fn chunks(self: *const QuantizeJob) u32 {
        return @intCast((self.input.len + quantize_chunk - 1) / quantize_chunk);
    }

    pub fn run(context: *const anyopaque, chunk: u32, thread: u32) void {
        _ = thread;
        const self: *const QuantizeJob = @ptrCast(@alignCast(context));
        const begin = @as(usize, chunk) * quantize_chunk;
        const end = @min(begin + quantize_chunk, self.input.len);
        quantizeLanes(f32_lanes, self.input[begin..end], self.output[begin..end], self.scale, self.zero_point, self.lo, self.hi);
    }
};

/// Output rows of one bilinear chunk (a multiple of common scales, so a chunk recomputes few
/// horizontal rows).
pub const upsample_chunk_rows: u32 = 16;

/// Bilinear rows `row_begin..row_end` of image `n`: the horizontally interpolated input rows
/// (`upper`, `lower`, f64) are computed once per pair of source rows into `scratch` and reused
/// by every output row reading them (`upsample__<lanes>`).
pub fn upsampleRowsLanes(comptime lanes: comptime_int, s: reference.Upsample, input: []const f32, output: []f32, n: u32, row_begin: u32, row_end: u32, scratch: []align(64) u8) void {
    const V = @Vector(lanes, f64);
    const c: usize = s.channels;
    const out_w: usize = s.outW();
    const out_h: usize = s.outH();
    const cache_values = scratch.len / 16;
    const seg_pixels = cache_values / c;
    std.debug.assert(seg_pixels >= 1);
    const cache: [*]f64 = @ptrCast(scratch.ptr);
    const upper = cache[0..cache_values];
    const lower = cache[cache_values .. 2 * cache_values];
    var px0: usize = 0;
    while (px0 < out_w) : (px0 += seg_pixels) {
        const px1 = @min(px0 + seg_pixels, out_w);
        const len = (px1 - px0) * c;
        var cached_top: u32 = std.math.maxInt(u32);
        var cached_bottom: u32 = std.math.maxInt(u32);
        for (row_begin..row_end) |oy| {
            const r = reference.axisPoint(@intCast(oy), s.in_h, s.scale_h, s.align_corners);
            if (r.lo != cached_top or r.hi != cached_bottom) {
                cached_top = r.lo;
                cached_bottom = r.hi;
                const top = (@as(usize, n) * s.in_h + r.lo) * s.in_w;
                const bottom = (@as(usize, n) * s.in_h + r.hi) * s.in_w;
                for (px0..px1) |ox| {
                    const col = reference.axisPoint(@intCast(ox), s.in_w, s.scale_w, s.align_corners);
                    const at = (ox - px0) * c;
                    const lx = col.frac;
                    for (0..c) |k| {
                        upper[at + k] = (1 - lx) * @as(f64, input[(top + col.lo) * c + k]) + lx * @as(f64, input[(top + col.hi) * c + k]);
                        lower[at + k] = (1 - lx) * @as(f64, input[(bottom + col.lo) * c + k]) + lx * @as(f64, input[(bottom + col.hi) * c + k]);
                    }
                }
            }
            const out = output[((@as(usize, n) * out_h + oy) * out_w + px0) * c ..][0..len];
            const wy: V = @splat(1 - r.frac);
            const ly: V = @splat(r.frac);
            var j: usize = 0;
            while (j + lanes <= len) : (j += lanes) {
                const u: V = upper[j..][0..lanes].*;
                const l: V = lower[j..][0..lanes].*;
                const narrowed: @Vector(lanes, f32) = @floatCast(wy * u + ly * l);
                out[j..][0..lanes].* = narrowed;
            }
            while (j < len) : (j += 1) out[j] = @floatCast((1 - r.frac) * upper[j] + r.frac * lower[j]);
        }
    }
}

/// One parallel bilinear upsample call: chunk = (image, block of output rows).
pub const UpsampleJob = struct {
    shape: reference.Upsample,
    input: []const f32,
    output: []f32,
    ctx: *Ctx,

    pub fn blocks(self: *const UpsampleJob) u32 {
        return (self.shape.outH() + upsample_chunk_rows - 1) / upsample_chunk_rows;
    }

    pub fn run(context: *const anyopaque, chunk: u32, thread: u32) void {
        const self: *const UpsampleJob = @ptrCast(@alignCast(context));
        const blocks_per_image = self.blocks();
        const n = chunk / blocks_per_image;
        const begin = (chunk % blocks_per_image) * upsample_chunk_rows;
        const end = @min(begin + upsample_chunk_rows, self.shape.outH());
        upsampleRowsLanes(f64_lanes, self.shape, self.input, self.output, n, begin, end, self.ctx.scratchFor(thread));
    }
};

/// Sigmoid of `input` into `output` with `lanes` f64 per vector (`sigmoid__<lanes>`): the
/// fdlibm `exp` of `reference.expFdlibm` evaluated lane-wise for arguments whose magnitude
/// lies in [2^-28, 700] (one code path there, with the path choices as selects); a vector
/// holding any other argument runs the scalar reference.
pub fn sigmoidLanes(comptime lanes: comptime_int, input: []const f32, output: []f32) void {
    const Vd = @Vector(lanes, f64);
    const Vu = @Vector(lanes, u32);
    const Vi = @Vector(lanes, i64);
    const one: Vd = @splat(1.0);
    const two: Vd = @splat(2.0);
    const zero: Vd = @splat(0.0);
    const ln2_hi: Vd = @splat(6.93147180369123816490e-01);
    const ln2_lo: Vd = @splat(1.90821492927058770002e-10);
    var i: usize = 0;
    while (i + lanes <= input.len) : (i += lanes) {
        const xf: @Vector(lanes, f32) = input[i..][0..lanes].*;
        const wide: Vd = @floatCast(xf);
        const x = -wide;
        const magnitude = @abs(x);
        if (!(@reduce(.And, magnitude >= @as(Vd, @splat(0x1p-28))) and @reduce(.And, magnitude <= @as(Vd, @splat(700.0))))) {
            reference.sigmoid(input[i..][0..lanes], output[i..][0..lanes]);
            continue;
        }
        const bits: @Vector(lanes, u64) = @bitCast(x);
        const high: Vu = @truncate(bits >> @splat(32));
        const hx = high & @as(Vu, @splat(0x7fffffff));
        const negative = (high >> @splat(31)) == @as(Vu, @splat(1));
        const small = hx <= @as(Vu, @splat(0x3fd62e42));
        const near = hx < @as(Vu, @splat(0x3FF0A2B2));
        const half = @select(f64, negative, @as(Vd, @splat(-0.5)), @as(Vd, @splat(0.5)));
        const general = @trunc(@as(Vd, @splat(reference.invln2)) * x + half);
        const unit = @select(f64, negative, -one, one);
        var k = @select(f64, near, unit, general);
        k = @select(f64, small, zero, k);
        const hi = x - k * ln2_hi;
        const lo = k * ln2_lo;
        const r = @select(f64, small, x, hi - lo);
        const t = r * r;
        const c = r - t * (@as(Vd, @splat(reference.P1)) + t * (@as(Vd, @splat(reference.P2)) + t * (@as(Vd, @splat(reference.P3)) + t * (@as(Vd, @splat(reference.P4)) + t * @as(Vd, @splat(reference.P5))))));
        const y0 = one - ((r * c) / (c - two) - r);
        const y1 = one - ((lo - (r * c) / (two - c)) - hi);
        const ki: Vi = @intFromFloat(k);
        const twopk: Vd = @bitCast((ki + @as(Vi, @splat(1023))) << @splat(52));
        var e = @select(f64, k == zero, y0, y1 * twopk);
        e = @select(f64, x == one, @as(Vd, @splat(std.math.e)), e);
        const narrowed: @Vector(lanes, f32) = @floatCast(one / (one + e));
        output[i..][0..lanes].* = narrowed;
    }
    reference.sigmoid(input[i..], output[i..]);
}

/// Elements of one sigmoid chunk.
pub const sigmoid_chunk: u32 = 1 << 14;

/// One parallel sigmoid call.
pub const SigmoidJob = struct {
    input: []const f32,
    output: []f32,

    pub fn chunks(self: *const SigmoidJob) u32 {
        return @intCast((self.input.len + sigmoid_chunk - 1) / sigmoid_chunk);
    }

    pub fn run(context: *const anyopaque, chunk: u32, thread: u32) void {
        _ = thread;
        const self: *const SigmoidJob = @ptrCast(@alignCast(context));
        const begin = @as(usize, chunk) * sigmoid_chunk;
        const end = @min(begin + sigmoid_chunk, self.input.len);
        sigmoidLanes(f64_lanes, self.input[begin..end], self.output[begin..end]);
    }
};

/// Argmax of `lanes` pixels at a time (`argmax__<lanes>`): each lane follows one pixel's
/// channels, keeping the best value and index; `>` as in the reference.
pub fn argmaxLanes(comptime lanes: comptime_int, input: []const f32, output: []i32, channels: usize) void {
    const Vf = @Vector(lanes, f32);
    const Vi = @Vector(lanes, i32);
    var p: usize = 0;
    while (p + lanes <= output.len) : (p += lanes) {
        const base = input[p * channels ..][0 .. lanes * channels];
        var best_value: Vf = undefined;
        inline for (0..lanes) |lane| best_value[lane] = base[lane * channels];
        var best_index: Vi = @splat(0);
        for (1..channels) |k| {
            var value: Vf = undefined;
            inline for (0..lanes) |lane| value[lane] = base[lane * channels + k];
            const better = value > best_value;
            best_value = @select(f32, better, value, best_value);
            best_index = @select(i32, better, @as(Vi, @splat(@intCast(k))), best_index);
        }
        output[p..][0..lanes].* = best_index;
    }
    reference.argmax(input[p * channels ..], output[p..], channels);
}

/// Pixels of one argmax chunk.
pub const argmax_chunk: u32 = 4096;

/// One parallel argmax call.
pub const ArgmaxJob = struct {
    input: []const f32,
    output: []i32,
    channels: usize,

    pub fn chunks(self: *const ArgmaxJob) u32 {
        return @intCast((self.output.len + argmax_chunk - 1) / argmax_chunk);
    }

    pub fn run(context: *const anyopaque, chunk: u32, thread: u32) void {
        _ = thread;
        const self: *const ArgmaxJob = @ptrCast(@alignCast(context));
        const begin = @as(usize, chunk) * argmax_chunk;
        const end = @min(begin + argmax_chunk, self.output.len);
        argmaxLanes(f32_lanes, self.input[begin * self.channels .. end * self.channels], self.output[begin..end], self.channels);
    }
};

comptime {
    // One pixel of the widest tensor fits the two f64 row caches of one thread's scratch.
    std.debug.assert(limits.channels_max * 16 <= limits.scratch_bytes_per_thread);
}
