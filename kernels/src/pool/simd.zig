//! Pooling with vectors as wide as the build level's registers: over packed words for the
//! binary max pool, over channels for the average pools. Each job is one generic function;
//! the vector width comes from `cpu.vector_bytes` (variants `<lanes>w__<level>`), and the
//! channels or words left over past the last full vector take the scalar path of the same
//! function. Every sum runs over the window in the reference's order, so results are
//! bit-identical to `reference.zig`.

const std = @import("std");
const cpu = @import("../cpu.zig");
const contract = @import("contract.zig");
const Window2d = @import("../shape.zig").Window2d;

/// u64 words per vector of the binary max pool.
pub const word_lanes: u32 = cpu.vector_bytes / 8;
/// f32 channels per vector (also i32 lanes of the global int8 pool).
pub const f32_lanes: u32 = cpu.vector_bytes / 4;
/// i8 channels per vector of the int8 average pool (summed in i16 lanes).
pub const i8_lanes: u32 = cpu.vector_bytes;
/// Vectors per channel block of a global pool job.
const global_unroll: u32 = 4;
/// Channels per chunk of a global pool.
pub const global_block: u32 = f32_lanes * global_unroll;

pub const name = std.fmt.comptimePrint("{d}w__{s}", .{ cpu.vector_bytes, @tagName(cpu.build_level) });

comptime {
    // |sum| of an int8 window is at most 15 * 15 * 128 = 28800: i16 lanes cannot overflow.
    std.debug.assert(@import("../limits.zig").kernel_max * @import("../limits.zig").kernel_max * 128 <= std.math.maxInt(i16));
}

inline fn load(comptime T: type, comptime n: u32, ptr: [*]const T) @Vector(n, T) {
    const p: *align(1) const @Vector(n, T) = @ptrCast(ptr);
    return p.*;
}

inline fn store(comptime T: type, comptime n: u32, ptr: [*]T, value: @Vector(n, T)) void {
    const p: *align(1) @Vector(n, T) = @ptrCast(ptr);
    p.* = value;
}

/// One output row (`n * out_h + oy`) of the binary max pool.
pub const MaxPoolBitsJob = struct {
    shape: Window2d,
    input: []const u64,
    output: []u64,

    pub fn run(job_context: *const anyopaque, row: u32, thread: u32) void {
        _ = thread;
        const self: *const MaxPoolBitsJob = @ptrCast(@alignCast(job_context));
        const s = self.shape;
        const words: usize = (s.in_c + 63) / 64;
        const out_h = s.outH();
        const out_w = s.outW();
        const n = row / out_h;
        const ys = contract.span(row % out_h, s.stride_h, s.pad_top, s.kernel_h, s.in_h);
        const image = @as(usize, n) * s.in_h * s.in_w;
        for (0..out_w) |ox| {
            const xs = contract.span(@intCast(ox), s.stride_w, s.pad_left, s.kernel_w, s.in_w);
            const out = self.output[(@as(usize, row) * out_w + ox) * words ..][0..words];
            var w: usize = 0;
            while (w + word_lanes <= words) : (w += word_lanes) {
                var acc: @Vector(word_lanes, u64) = @splat(std.math.maxInt(u64));
                for (ys.begin..ys.end) |iy| for (xs.begin..xs.end) |ix| {
                    acc &= load(u64, word_lanes, self.input[(image + iy * s.in_w + ix) * words + w ..].ptr);
                };
                store(u64, word_lanes, out[w..].ptr, acc);
            }
            while (w < words) : (w += 1) {
                var acc: u64 = std.math.maxInt(u64);
                for (ys.begin..ys.end) |iy| for (xs.begin..xs.end) |ix| {
                    acc &= self.input[(image + iy * s.in_w + ix) * words + w];
                };
                out[w] = acc;
            }
        }
    }
};

/// `contract.roundedMean` on a vector of sums with one count, through f32: `a = 2|sum| +
/// count` and `d = 2 * count` are integers below 2^17, so f32 holds them exactly and the f32
/// quotient is correctly rounded; when a/d is not an integer it lies at least 1/d >= 1/450
/// below the next one, while the rounding error is at most 2^-24 * 129. So `floor` of the
/// f32 quotient is the integer quotient (`tests.zig` checks every sum of every count).
pub inline fn roundedMeanVector(comptime n: u32, sum: @Vector(n, i32), count: u32) @Vector(n, i8) {
    std.debug.assert(count >= 1 and count <= 15 * 15);
    const magnitude: @Vector(n, i32) = @intCast(@abs(sum));
    const a: @Vector(n, f32) = @floatFromInt(magnitude * @as(@Vector(n, i32), @splat(2)) + @as(@Vector(n, i32), @splat(@intCast(count))));
    const d: @Vector(n, f32) = @splat(@floatFromInt(2 * count));
    const quotient: @Vector(n, i32) = @intFromFloat(@floor(a / d));
    const negative = sum < @as(@Vector(n, i32), @splat(0));
    return @intCast(@select(i32, negative, -quotient, quotient));
}

/// One output row of the f32 or int8 average pool.
pub fn AvgPoolJob(comptime T: type) type {
    return struct {
        const Self = @This();
        const lanes = if (T == f32) f32_lanes else i8_lanes;
        const Sum = if (T == f32) f32 else i16;

        shape: Window2d,
        input: []const T,
        output: []T,

        pub fn run(job_context: *const anyopaque, row: u32, thread: u32) void {
            _ = thread;
            const self: *const Self = @ptrCast(@alignCast(job_context));
            const s = self.shape;
            const channels: usize = s.in_c;
            const out_h = s.outH();
            const out_w = s.outW();
            const n = row / out_h;
            const ys = contract.span(row % out_h, s.stride_h, s.pad_top, s.kernel_h, s.in_h);
            const image = @as(usize, n) * s.in_h * s.in_w;
            for (0..out_w) |ox| {
                const xs = contract.span(@intCast(ox), s.stride_w, s.pad_left, s.kernel_w, s.in_w);
                const count = ys.len() * xs.len();
                const out = self.output[(@as(usize, row) * out_w + ox) * channels ..][0..channels];
                var c: usize = 0;
                while (c + lanes <= channels) : (c += lanes) {
                    var sum: @Vector(lanes, Sum) = @splat(0);
                    for (ys.begin..ys.end) |iy| for (xs.begin..xs.end) |ix| {
                        const x: @Vector(lanes, Sum) = load(T, lanes, self.input[(image + iy * s.in_w + ix) * channels + c ..].ptr);
                        sum = sum + x;
                    };
                    store(T, lanes, out[c..].ptr, finish(lanes, sum, count));
                }
                while (c < channels) : (c += 1) {
                    var sum: @Vector(1, Sum) = @splat(0);
                    for (ys.begin..ys.end) |iy| for (xs.begin..xs.end) |ix| {
                        sum = sum + @as(@Vector(1, Sum), @splat(self.input[(image + iy * s.in_w + ix) * channels + c]));
                    };
                    out[c] = finish(1, sum, count)[0];
                }
            }
        }

        inline fn finish(comptime n: u32, sum: @Vector(n, Sum), count: u32) @Vector(n, T) {
            if (T == f32) return sum / @as(@Vector(n, f32), @splat(@floatFromInt(count)));
            return roundedMeanVector(n, sum, count);
        }
    };
}

/// One image's block of `global_block` channels of a global average pool.
pub fn GlobalAvgPoolJob(comptime T: type) type {
    return struct {
        const Self = @This();
        const lanes = f32_lanes;
        const Lane = if (T == f32) f32 else i32;
        batch: u32,
        pixels: u64,
        channels: u32,
        input: []const T,
        output: []T,
        /// Pixels summed in i32 lanes before they move to i64: 2^23 * 128 = 2^30 (tests
        /// lower it to reach the flush on small images).
        flush_pixels: u64 = 1 << 23,

        pub fn blocks(self: Self) u32 {
            return (self.channels + global_block - 1) / global_block;
        }

        pub fn run(job_context: *const anyopaque, chunk: u32, thread: u32) void {
            _ = thread;
            const self: *const Self = @ptrCast(@alignCast(job_context));
            const blocks_per_image = self.blocks();
            const n = chunk / blocks_per_image;
            const first: usize = (chunk % blocks_per_image) * global_block;
            const last: usize = @min(self.channels, first + global_block);
            const image = self.input[@as(usize, n) * @as(usize, @intCast(self.pixels)) * self.channels ..];
            const out = self.output[@as(usize, n) * self.channels ..][0..self.channels];
            if (last - first == global_block) {
                self.fullBlock(image, out, first);
            } else {
                for (first..last) |c| self.oneChannel(image, out, c);
            }
        }

        fn fullBlock(self: *const Self, image: []const T, out: []T, first: usize) void {
            const Vec = @Vector(lanes, Lane);
            var sum: [global_unroll]Vec = @splat(@splat(0));
            var wide: [global_unroll][lanes]i64 = @splat(@splat(0));
            var p: u64 = 0;
            while (p < self.pixels) {
                const stop = if (T == f32) self.pixels else @min(self.pixels, p + self.flush_pixels);
                while (p < stop) : (p += 1) {
                    const at = @as(usize, @intCast(p)) * self.channels + first;
                    inline for (0..global_unroll) |u| {
                        const x: Vec = load(T, lanes, image[at + u * lanes ..].ptr);
                        sum[u] = sum[u] + x;
                    }
                }
                if (T != f32) {
                    inline for (0..global_unroll) |u| {
                        const part: [lanes]i32 = sum[u];
                        for (&wide[u], part) |*w, v| w.* += v;
                        sum[u] = @splat(0);
                    }
                }
            }
            inline for (0..global_unroll) |u| {
                const dst = out[first + u * lanes ..][0..lanes];
                if (T == f32) {
                    store(f32, lanes, dst.ptr, sum[u] / @as(Vec, @splat(@floatFromInt(self.pixels))));
                } else {
                    for (dst, wide[u]) |*o, w| o.* = contract.roundedMean(i64, w, @intCast(self.pixels));
                }
            }
        }

        fn oneChannel(self: *const Self, image: []const T, out: []T, c: usize) void {
            var sum: if (T == f32) f32 else i64 = 0;
            for (0..@intCast(self.pixels)) |p| sum = sum + image[p * self.channels + c];
            out[c] = if (T == f32)
                sum / @as(f32, @floatFromInt(self.pixels))
            else
                contract.roundedMean(i64, sum, @intCast(self.pixels));
        }
    };
}
