//! Bit packing: f32 / i8 / u8 NHWC values to packed bits (DESIGN.md section 3).
//!
//! Contract: `pixels x channels` values in, `pixels x ceil(channels/64)` u64 words out;
//! channel c of a pixel is bit c%64 of word c/64, the channel tail is 0 bits, and the bit of
//! a value x in channel c is
//!   - without thresholds: its sign bit (f32: the IEEE sign bit, so -0.0 packs to 1 as in
//!     Larq; i8: x < 0). u8 has no sign and needs thresholds;
//!   - with per-channel thresholds t (f32 for f32 input, i32 for i8/u8): x < t[c]
//!     (a NaN packs to 0).
//! The thresholded form is the first binarization of a network: batch norm and an
//! activation offset folded into one comparison per channel.
//!
//! Variants: `reference` (one value at a time) and `simd` (64 channels compared at once into
//! one word; the compiler lowers the 64-lane compare to mask registers on AVX-512, to
//! compare + movemask on AVX2 and to compare + narrowing on NEON).

const std = @import("std");
const status = @import("../status.zig");
const shape_mod = @import("../shape.zig");
const limits = @import("../limits.zig");
const Ctx = @import("../ctx.zig").Ctx;

pub const DType = enum(u32) { f32 = 0, i8 = 1, u8 = 2 };

/// Pixels per parallel chunk.
const chunk_pixels: u32 = 256;

fn Job(comptime T: type, comptime Threshold: type) type {
    return struct {
        const Self = @This();
        input: []const T,
        thresholds: ?[]const Threshold,
        output: []u64,
        channels: u32,
        pixels: u32,
        simd: bool,

        fn bitOf(value: T, threshold: ?Threshold) bool {
            if (threshold) |t| {
                return if (T == f32) value < t else @as(i32, value) < t;
            }
            return switch (T) {
                f32 => std.math.signbit(value),
                i8 => value < 0,
                else => unreachable,
            };
        }

        fn referencePixel(self: *const Self, p: usize) void {
            const words = (self.channels + 63) / 64;
            const out = self.output[p * words ..][0..words];
            @memset(out, 0);
            const in = self.input[p * self.channels ..][0..self.channels];
            for (in, 0..) |value, c| {
                const t = if (self.thresholds) |ts| ts[c] else null;
                if (bitOf(value, t)) out[c / 64] |= @as(u64, 1) << @intCast(c % 64);
            }
        }

        fn simdPixel(self: *const Self, p: usize) void {
            const V = @Vector(64, T);
            const words = (self.channels + 63) / 64;
            const full = self.channels / 64;
            const in = self.input[p * self.channels ..][0..self.channels];
            const out = self.output[p * words ..][0..words];
            for (0..full) |w| {
                const values: V = in[w * 64 ..][0..64].*;
                const bits: @Vector(64, bool) = if (self.thresholds) |ts| blk: {
                    const t: @Vector(64, Threshold) = ts[w * 64 ..][0..64].*;
                    break :blk if (T == f32) values < t else @as(@Vector(64, i32), values) < t;
                } else switch (T) {
                    f32 => @as(@Vector(64, i32), @bitCast(values)) < @as(@Vector(64, i32), @splat(0)),
                    i8 => values < @as(V, @splat(0)),
                    else => unreachable,
                };
                out[w] = @bitCast(bits);
            }
            if (full < words) {
                var word: u64 = 0;
                for (full * 64..self.channels) |c| {
                    const t = if (self.thresholds) |ts| ts[c] else null;
                    if (bitOf(in[c], t)) word |= @as(u64, 1) << @intCast(c % 64);
                }
                out[full] = word;
            }
        }

        fn run(opaque_self: *const anyopaque, chunk: u32, thread: u32) void {
            _ = thread;
            const self: *const Self = @ptrCast(@alignCast(opaque_self));
            const first = @as(usize, chunk) * chunk_pixels;
            const end = @min(self.pixels, first + chunk_pixels);
            for (first..end) |p| {
                if (self.simd) self.simdPixel(p) else self.referencePixel(p);
            }
        }
    };
}

/// Packs `pixels x channels` values of `dtype_raw` (see `DType`) from `input` (`input_bytes`
/// bytes) into `output` (`output_words` words). `thresholds` holds `channels` 4-byte values
/// (f32 for f32 input, i32 otherwise) or is null (`thresholds_len` 0).
pub fn pack(ctx: *Ctx, dtype_raw: u32, pixels: u32, channels: u32, input: ?[*]const u8, input_bytes: u32, thresholds: ?[*]const u32, thresholds_len: u32, output: ?[*]u64, output_words: u32) status.Error!void {
    const dtype = std.meta.intToEnum(DType, dtype_raw) catch
        return ctx.fail(error.InvalidArgument, "dtype {d} is unknown (0 f32, 1 i8, 2 u8)", .{dtype_raw});
    if (pixels == 0 or channels == 0) return ctx.fail(error.InvalidArgument, "pixels {d} x channels {d} is empty", .{ pixels, channels });
    if (channels > limits.channels_max) return ctx.fail(error.LimitExceeded, "channels is {d}, max {d}", .{ channels, limits.channels_max });
    if (@as(u64, pixels) * channels > limits.elements_max) return ctx.fail(error.LimitExceeded, "{d} values exceed {d}", .{ @as(u64, pixels) * channels, limits.elements_max });
    const has_thresholds = thresholds_len > 0 or thresholds != null;
    if (dtype == .u8 and !has_thresholds) return ctx.fail(error.InvalidArgument, "u8 input has no sign: thresholds are required", .{});
    const element_bytes: u64 = if (dtype == .f32) 4 else 1;
    const bytes = try shape_mod.slice(ctx, u8, input, input_bytes, @as(u64, pixels) * channels * element_bytes, "input bytes");
    if (dtype == .f32 and @intFromPtr(bytes.ptr) % 4 != 0) return ctx.fail(error.InvalidArgument, "f32 input is not 4-byte aligned", .{});
    const out = try shape_mod.sliceMut(ctx, u64, output, output_words, @as(u64, pixels) * shape_mod.wordsFor(channels), "output");
    const ts: ?[]const u32 = if (has_thresholds) try shape_mod.slice(ctx, u32, thresholds, thresholds_len, channels, "thresholds") else null;
    const chunks = (pixels + chunk_pixels - 1) / chunk_pixels;
    const simd = ctx.variant == .simd;
    switch (dtype) {
        .f32 => {
            const job: Job(f32, f32) = .{ .input = @alignCast(std.mem.bytesAsSlice(f32, bytes)), .thresholds = if (ts) |t| @ptrCast(t) else null, .output = out, .channels = channels, .pixels = pixels, .simd = simd };
            ctx.parallelFor(chunks, &job, Job(f32, f32).run);
        },
        .i8 => {
            const job: Job(i8, i32) = .{ .input = @ptrCast(bytes), .thresholds = if (ts) |t| @ptrCast(t) else null, .output = out, .channels = channels, .pixels = pixels, .simd = simd };
            ctx.parallelFor(chunks, &job, Job(i8, i32).run);
        },
        .u8 => {
            const job: Job(u8, i32) = .{ .input = bytes, .thresholds = @ptrCast(ts.?), .output = out, .channels = channels, .pixels = pixels, .simd = simd };
            ctx.parallelFor(chunks, &job, Job(u8, i32).run);
        },
    }
}

test "bitpack simd matches the reference for every dtype, channel tail and threshold mode" {
    const allocator = std.testing.allocator;
    var prng = std.Random.DefaultPrng.init(11);
    const random = prng.random();
    const scalar = try Ctx.create(allocator, 1, 1);
    defer scalar.destroy();
    const simd = try Ctx.create(allocator, 2, 0);
    defer simd.destroy();
    for ([_]u32{ 1, 63, 64, 65, 127, 200, 512 }) |channels| {
        const pixels: u32 = 300;
        const values = try allocator.alignedAlloc(u8, .@"64", pixels * channels * 4);
        defer allocator.free(values);
        random.bytes(values);
        // Plant exact zeros, negative zeros and NaNs.
        const floats = std.mem.bytesAsSlice(f32, values);
        for (floats, 0..) |*f, i| {
            if (i % 17 == 0) f.* = 0.0;
            if (i % 19 == 0) f.* = -0.0;
            if (i % 23 == 0) f.* = std.math.nan(f32);
        }
        const thresholds = try allocator.alloc(u32, channels);
        defer allocator.free(thresholds);
        for ([_]DType{ .f32, .i8, .u8 }) |dtype| {
            for ([_]bool{ false, true }) |with_thresholds| {
                if (dtype == .u8 and !with_thresholds) continue;
                for (thresholds) |*t| t.* = if (dtype == .f32) @bitCast(random.float(f32) - 0.5) else @bitCast(random.intRangeAtMost(i32, -130, 260));
                const words = pixels * shape_mod.wordsFor(channels);
                const expected = try allocator.alloc(u64, words);
                defer allocator.free(expected);
                const actual = try allocator.alloc(u64, words);
                defer allocator.free(actual);
                const bytes: u32 = pixels * channels * @as(u32, if (dtype == .f32) 4 else 1);
                const t_ptr: ?[*]const u32 = if (with_thresholds) thresholds.ptr else null;
                const t_len: u32 = if (with_thresholds) channels else 0;
                try pack(scalar, @intFromEnum(dtype), pixels, channels, values.ptr, bytes, t_ptr, t_len, expected.ptr, words);
                try pack(simd, @intFromEnum(dtype), pixels, channels, values.ptr, bytes, t_ptr, t_len, actual.ptr, words);
                std.testing.expectEqualSlices(u64, expected, actual) catch |err| {
                    std.debug.print("bitpack {s} thresholds={} channels {d} differs (seed 11)\n", .{ @tagName(dtype), with_thresholds, channels });
                    return err;
                };
                if (channels % 64 != 0) {
                    const tail = ~((@as(u64, 1) << @intCast(channels % 64)) - 1);
                    try std.testing.expectEqual(@as(u64, 0), actual[shape_mod.wordsFor(channels) - 1] & tail);
                }
            }
        }
    }
}

test "bitpack follows the sign-bit convention" {
    const ctx = try Ctx.create(std.testing.allocator, 1, 0);
    defer ctx.destroy();
    const values = [_]f32{ 1.0, -1.0, 0.0, -0.0, -3.5 };
    var out: [1]u64 = undefined;
    try pack(ctx, 0, 1, 5, @ptrCast(&values), 20, null, 0, &out, 1);
    try std.testing.expectEqual(@as(u64, 0b11010), out[0]);
    const thresholds = [_]f32{ 2.0, -2.0, 0.0, 0.0, -4.0 };
    try pack(ctx, 0, 1, 5, @ptrCast(&values), 20, @ptrCast(&thresholds), 5, &out, 1);
    try std.testing.expectEqual(@as(u64, 0b00001), out[0]);
}

test "bitpack refuses bad arguments" {
    const ctx = try Ctx.create(std.testing.allocator, 1, 0);
    defer ctx.destroy();
    var bytes: [64]u8 align(4) = @splat(0);
    var out: [2]u64 = undefined;
    try std.testing.expectError(error.InvalidArgument, pack(ctx, 5, 1, 8, &bytes, 64, null, 0, &out, 2));
    try std.testing.expectError(error.InvalidArgument, pack(ctx, 2, 1, 8, &bytes, 64, null, 0, &out, 2));
    try std.testing.expectError(error.InvalidArgument, pack(ctx, 0, 0, 8, &bytes, 64, null, 0, &out, 2));
    try std.testing.expectError(error.BufferTooSmall, pack(ctx, 0, 1, 17, &bytes, 64, null, 0, &out, 2));
    try std.testing.expectError(error.BufferTooSmall, pack(ctx, 1, 2, 65, &bytes, 64, null, 0, &out, 2));
    try std.testing.expectError(error.BufferTooSmall, pack(ctx, 1, 1, 8, &bytes, 64, null, 0, &out, 0));
    try std.testing.expectError(error.BufferTooSmall, pack(ctx, 1, 1, 8, &bytes, 64, @ptrCast(&bytes), 4, &out, 1));
}
