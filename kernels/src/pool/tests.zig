//! The pool tester: every SIMD job against the reference over channel counts, kernels,
//! strides and every pad, the references against the contract read independently (±1 max
//! pool on decoded bits, hand-worked means), and bad arguments. A failure prints the
//! variant, the position, the shape and the seed.

const std = @import("std");
const testing = std.testing;
const limits = @import("../limits.zig");
const ctx_mod = @import("../ctx.zig");
const Ctx = ctx_mod.Ctx;
const Window2d = @import("../shape.zig").Window2d;
const contract = @import("contract.zig");
const reference = @import("reference.zig");
const simd = @import("simd.zig");
const pool = @import("pool.zig");

const allocator = testing.allocator;

fn seedFor(salt: u64) u64 {
    return @as(u64, testing.random_seed) *% 0x9E37_79B9_7F4A_7C15 +% salt;
}

fn window(batch: u32, h: u32, w: u32, c: u32, k: u32, stride: u32, pads: [4]u32) Window2d {
    return .{ .batch = batch, .in_h = h, .in_w = w, .in_c = c, .out_c = c, .kernel_h = k, .kernel_w = k, .stride_h = stride, .stride_w = stride, .pad_top = pads[0], .pad_bottom = pads[1], .pad_left = pads[2], .pad_right = pads[3] };
}

fn printShape(s: Window2d) void {
    std.debug.print("shape: batch {d} in {d}x{d}x{d} kernel {d}x{d} stride {d}x{d} pads t{d} b{d} l{d} r{d}\n", .{ s.batch, s.in_h, s.in_w, s.in_c, s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.pad_top, s.pad_bottom, s.pad_left, s.pad_right });
}

fn same(comptime T: type, a: T, b: T) bool {
    return if (T == f32) @as(u32, @bitCast(a)) == @as(u32, @bitCast(b)) else a == b;
}

fn expectSame(comptime T: type, what: []const u8, s: ?Window2d, seed: u64, threads: u32, expected: []const T, actual: []const T) !void {
    for (expected, actual, 0..) |e, a, i| {
        if (!same(T, e, a)) {
            std.debug.print("{s} {s} ({d} threads) differs at element {d}: expected {any}, got {any}, seed 0x{x}\n", .{ what, simd.name, threads, i, e, a, seed });
            if (s) |shape| printShape(shape);
            return error.TestExpectedEqual;
        }
    }
}

/// Runs one window shape through every pool with a window (SIMD on `threads` threads
/// against the reference).
fn checkWindow(s: Window2d, seed: u64, threads: u32) !void {
    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    const ctx = try Ctx.create(allocator, threads, 0);
    defer ctx.destroy();
    const in_count: usize = @intCast(s.inPixels() * s.in_c);
    const out_count: usize = @intCast(s.outPixels() * s.in_c);

    // Binary max pool.
    const words = (s.in_c + 63) / 64;
    const bits = try allocator.alloc(u64, @intCast(s.inPixels() * words));
    defer allocator.free(bits);
    // Random words make +1 (bit 0) common; a third of them denser in ones lets long AND
    // runs survive.
    random.bytes(std.mem.sliceAsBytes(bits));
    for (bits, 0..) |*b, i| if (i % 3 == 0) {
        b.* |= random.int(u64) | random.int(u64);
    };
    zeroTails(bits, s.in_c);
    const bits_expected = try allocator.alloc(u64, @intCast(s.outPixels() * words));
    defer allocator.free(bits_expected);
    const bits_actual = try allocator.alloc(u64, bits_expected.len);
    defer allocator.free(bits_actual);
    reference.maxPoolBits(s, bits, bits_expected);
    @memset(bits_actual, 0x5555);
    try pool.maxPoolBits(ctx, &s, bits.ptr, @intCast(bits.len), bits_actual.ptr, @intCast(bits_actual.len));
    try expectSame(u64, "maxpool2d_bits", s, seed, threads, bits_expected, bits_actual);

    // f32 average pool.
    const real = try allocator.alloc(f32, in_count);
    defer allocator.free(real);
    for (real) |*v| v.* = random.floatNorm(f32) * 10;
    const real_expected = try allocator.alloc(f32, out_count);
    defer allocator.free(real_expected);
    const real_actual = try allocator.alloc(f32, out_count);
    defer allocator.free(real_actual);
    reference.avgPool(f32, s, real, real_expected);
    try pool.avgPoolF32(ctx, &s, real.ptr, @intCast(real.len), real_actual.ptr, @intCast(real_actual.len));
    try expectSame(f32, "avgpool2d_f32", s, seed, threads, real_expected, real_actual);

    // int8 average pool, with stretches of extreme values so sums reach the i16 range.
    const small = try allocator.alloc(i8, in_count);
    defer allocator.free(small);
    random.bytes(std.mem.sliceAsBytes(small));
    const extreme: i8 = if (random.boolean()) -128 else 127;
    for (small, 0..) |*v, i| if ((i / 7) % 3 == 0) {
        v.* = extreme;
    };
    const small_expected = try allocator.alloc(i8, out_count);
    defer allocator.free(small_expected);
    const small_actual = try allocator.alloc(i8, out_count);
    defer allocator.free(small_actual);
    reference.avgPool(i8, s, small, small_expected);
    try pool.avgPoolI8(ctx, &s, small.ptr, @intCast(small.len), small_actual.ptr, @intCast(small_actual.len));
    try expectSame(i8, "avgpool2d_i8", s, seed, threads, small_expected, small_actual);
}

fn zeroTails(bits: []u64, channels: u32) void {
    const words = (channels + 63) / 64;
    const tail = channels % 64;
    if (tail == 0) return;
    const mask = (@as(u64, 1) << @intCast(tail)) - 1;
    var w: usize = words - 1;
    while (w < bits.len) : (w += words) bits[w] &= mask;
}

test "pools match the reference over channel counts" {
    var salt: u64 = 0;
    for ([_]u32{ 1, 3, 15, 16, 17, 63, 64, 65, 127, 200, 512, 1000 }) |c| {
        for ([_]u32{ 2, 3 }) |k| {
            salt += 1;
            try checkWindow(window(2, 7, 6, c, k, k - 1, .{ 1, 0, k - 1, 1 }), seedFor(salt), @intCast(1 + salt % 3));
        }
    }
}

test "pools match the reference over kernels, strides and every pad" {
    var salt: u64 = 100;
    for ([_]u32{ 1, 2, 3, 4, 7 }) |k| {
        for ([_]u32{ 1, 2, 3 }) |stride| {
            for (0..4) |side| {
                for (0..k) |pad| {
                    salt += 1;
                    var prng = std.Random.DefaultPrng.init(seedFor(salt));
                    const random = prng.random();
                    var pads: [4]u32 = undefined;
                    for (&pads) |*p| p.* = random.uintLessThan(u32, k);
                    pads[side] = @intCast(pad);
                    const choices = [_]u32{ 1, 5, 64, 65, 130, 257 };
                    const c = choices[random.uintLessThan(usize, choices.len)];
                    const h = random.intRangeAtMost(u32, k, k + 5);
                    const w = random.intRangeAtMost(u32, 1, 8) + k - 1;
                    try checkWindow(window(random.intRangeAtMost(u32, 1, 2), h, w, c, k, stride, pads), seedFor(salt), @intCast(1 + salt % 2));
                }
            }
        }
    }
}

test "pools match the reference on rectangular windows and the largest kernel" {
    const shapes = [_]Window2d{
        .{ .batch = 1, .in_h = 9, .in_w = 5, .in_c = 70, .out_c = 70, .kernel_h = 3, .kernel_w = 1, .stride_h = 2, .stride_w = 1, .pad_top = 2, .pad_bottom = 1, .pad_left = 0, .pad_right = 0 },
        .{ .batch = 2, .in_h = 4, .in_w = 17, .in_c = 33, .out_c = 33, .kernel_h = 1, .kernel_w = 5, .stride_h = 1, .stride_w = 4, .pad_top = 0, .pad_bottom = 0, .pad_left = 4, .pad_right = 2 },
        window(1, 15, 15, 129, 15, 8, .{ 14, 14, 14, 14 }),
        window(1, 1, 1, 512, 1, 1, .{ 0, 0, 0, 0 }),
        window(1, 20, 20, 200, 15, 1, .{ 7, 7, 7, 7 }), // full 225-value windows in i16 lanes
    };
    for (shapes, 0..) |s, i| try checkWindow(s, seedFor(500 + i), 2);
}

test "maxpool2d_bits reference is the max of decoded ±1 values" {
    const s = window(1, 5, 4, 100, 3, 2, .{ 1, 1, 2, 0 });
    var prng = std.Random.DefaultPrng.init(seedFor(600));
    const random = prng.random();
    var bits: [5 * 4 * 2]u64 = undefined;
    for (&bits) |*b| b.* = random.int(u64) | random.int(u64); // mostly -1
    zeroTails(&bits, s.in_c);
    var pooled: [3 * 2 * 2]u64 = undefined;
    reference.maxPoolBits(s, &bits, &pooled);
    for (0..s.outH()) |oy| for (0..s.outW()) |ox| for (0..s.in_c) |c| {
        var max: i32 = std.math.minInt(i32);
        for (0..3) |ky| for (0..3) |kx| {
            const iy = @as(i64, @intCast(oy * 2 + ky)) - 1;
            const ix = @as(i64, @intCast(ox * 2 + kx)) - 2;
            if (iy < 0 or iy >= 5 or ix < 0 or ix >= 4) continue;
            const word = bits[(@as(usize, @intCast(iy)) * 4 + @as(usize, @intCast(ix))) * 2 + c / 64];
            const value: i32 = if ((word >> @intCast(c % 64)) & 1 == 1) -1 else 1;
            max = @max(max, value);
        };
        const bit = (pooled[(oy * 2 + ox) * 2 + c / 64] >> @intCast(c % 64)) & 1;
        try testing.expectEqual(@as(u64, if (max == -1) 1 else 0), bit);
    };
    for (0..pooled.len / 2) |p| try testing.expectEqual(@as(u64, 0), pooled[p * 2 + 1] >> 36);
}

test "avgpool2d references exclude padding from the count" {
    // 1x3x3x1, 3x3 window, pad 1 everywhere: the corner output averages a 2x2 block.
    const s = window(1, 3, 3, 1, 3, 1, .{ 1, 1, 1, 1 });
    const real = [_]f32{ 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    var real_out: [9]f32 = undefined;
    reference.avgPool(f32, s, &real, &real_out);
    try testing.expectEqual(@as(f32, 12.0 / 4.0), real_out[0]);
    try testing.expectEqual(@as(f32, 45.0 / 9.0), real_out[4]);
    try testing.expectEqual(@as(f32, (5.0 + 6.0 + 8.0 + 9.0) / 4.0), real_out[8]);
    const small = [_]i8{ 1, 2, -3, 4, 5, 6, -7, -8, -9 };
    var small_out: [9]i8 = undefined;
    reference.avgPool(i8, s, &small, &small_out);
    try testing.expectEqual(@as(i8, 3), small_out[0]); // (1 + 2 + 4 + 5) / 4
    try testing.expectEqual(@as(i8, 3), small_out[2]); // (2 - 3 + 5 + 6) / 4 = 2.5 -> 3
    try testing.expectEqual(@as(i8, -1), small_out[4]); // -9 / 9
    try testing.expectEqual(@as(i8, -2), small_out[8]); // (5 + 6 - 8 - 9) / 4 = -1.5 -> -2
}

test "roundedMeanVector equals the integer rounding for every window sum" {
    var count: u32 = 1;
    while (count <= limits.kernel_max * limits.kernel_max) : (count += 1) {
        const low = -128 * @as(i32, @intCast(count));
        const high = 127 * @as(i32, @intCast(count));
        var sum = low;
        while (sum <= high) : (sum += 16) {
            var sums: @Vector(16, i32) = undefined;
            inline for (0..16) |i| sums[i] = @min(sum + @as(i32, i), high);
            const got: [16]i8 = simd.roundedMeanVector(16, sums, count);
            inline for (0..16) |i| {
                const expected = contract.roundedMean(i32, @min(sum + @as(i32, i), high), @intCast(count));
                if (got[i] != expected) {
                    std.debug.print("roundedMeanVector({d}, {d}) = {d}, expected {d}\n", .{ @min(sum + @as(i32, i), high), count, got[i], expected });
                    return error.TestExpectedEqual;
                }
            }
        }
    }
}

fn checkGlobal(batch: u32, h: u32, w: u32, c: u32, seed: u64, threads: u32, flush_pixels: u64) !void {
    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    const ctx = try Ctx.create(allocator, threads, 0);
    defer ctx.destroy();
    const pixels = @as(u64, h) * w;
    const count: usize = @intCast(batch * pixels * c);

    const real = try allocator.alloc(f32, count);
    defer allocator.free(real);
    for (real) |*v| v.* = random.floatNorm(f32);
    const real_expected = try allocator.alloc(f32, batch * c);
    defer allocator.free(real_expected);
    const real_actual = try allocator.alloc(f32, batch * c);
    defer allocator.free(real_actual);
    reference.globalAvgPool(f32, batch, pixels, c, real, real_expected);
    try pool.globalAvgPoolF32(ctx, batch, h, w, c, real.ptr, @intCast(real.len), real_actual.ptr, @intCast(real_actual.len));
    try expectSame(f32, "global_avgpool_f32", null, seed, threads, real_expected, real_actual);

    const small = try allocator.alloc(i8, count);
    defer allocator.free(small);
    random.bytes(std.mem.sliceAsBytes(small));
    if (random.boolean()) @memset(small[0 .. small.len / 2], -128);
    const small_expected = try allocator.alloc(i8, batch * c);
    defer allocator.free(small_expected);
    const small_actual = try allocator.alloc(i8, batch * c);
    defer allocator.free(small_actual);
    reference.globalAvgPool(i8, batch, pixels, c, small, small_expected);
    const job: simd.GlobalAvgPoolJob(i8) = .{ .batch = batch, .pixels = pixels, .channels = c, .input = small, .output = small_actual, .flush_pixels = flush_pixels };
    ctx.parallelFor(batch * job.blocks(), &job, simd.GlobalAvgPoolJob(i8).run);
    try expectSame(i8, "global_avgpool_i8", null, seed, threads, small_expected, small_actual);
    @memset(small_actual, 0);
    try pool.globalAvgPoolI8(ctx, batch, h, w, c, small.ptr, @intCast(small.len), small_actual.ptr, @intCast(small_actual.len));
    try expectSame(i8, "global_avgpool_i8", null, seed, threads, small_expected, small_actual);
}

test "global average pools match the reference over channel counts and flushes" {
    var salt: u64 = 700;
    for ([_]u32{ 1, 63, 64, 65, 127, 128, 200, 512 }) |c| {
        for ([_][3]u32{ .{ 1, 1, 1 }, .{ 2, 7, 7 }, .{ 1, 13, 3 } }) |dims| {
            salt += 1;
            try checkGlobal(dims[0], dims[1], dims[2], c, seedFor(salt), @intCast(1 + salt % 3), 1 + salt % 5);
        }
    }
}

test "global average pools round like the contract on hand-worked values" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    // 2 pixels, 1 channel: (1 + 2) / 2 = 1.5 -> 2, (-1 + -2) / 2 -> -2.
    const input = [_]i8{ 1, -1, 2, -2 };
    var out: [2]i8 = undefined;
    try pool.globalAvgPoolI8(ctx, 1, 1, 2, 2, &input, input.len, &out, out.len);
    try testing.expectEqualSlices(i8, &.{ 2, -2 }, &out);
    const real = [_]f32{ 1, 4, 2, 8 };
    var real_out: [2]f32 = undefined;
    try pool.globalAvgPoolF32(ctx, 1, 2, 1, 2, &real, real.len, &real_out, real_out.len);
    try testing.expectEqualSlices(f32, &.{ 1.5, 6 }, &real_out);
}

test "pools on the scalar variant run the reference" {
    const s = window(1, 6, 5, 70, 3, 2, .{ 1, 1, 1, 1 });
    const scalar = try Ctx.create(allocator, 2, ctx_mod.flag_force_scalar);
    defer scalar.destroy();
    var small: [6 * 5 * 70]i8 = undefined;
    var prng = std.Random.DefaultPrng.init(seedFor(800));
    prng.random().bytes(std.mem.sliceAsBytes(&small));
    var expected: [3 * 3 * 70]i8 = undefined;
    var actual: [3 * 3 * 70]i8 = undefined;
    reference.avgPool(i8, s, &small, &expected);
    try pool.avgPoolI8(scalar, &s, &small, small.len, &actual, actual.len);
    try testing.expectEqualSlices(i8, &expected, &actual);
}

test "pools refuse bad arguments with an error and a message" {
    const ctx = try Ctx.create(allocator, 2, 0);
    defer ctx.destroy();
    const s = window(1, 4, 4, 65, 2, 2, .{ 0, 0, 0, 0 });
    var bits: [16 * 2]u64 = @splat(0);
    var bits_out: [4 * 2]u64 = undefined;
    try pool.maxPoolBits(ctx, &s, &bits, bits.len, &bits_out, bits_out.len);
    try testing.expectError(error.BufferTooSmall, pool.maxPoolBits(ctx, &s, &bits, bits.len - 1, &bits_out, bits_out.len));
    try testing.expect(ctx.lastMessage().len > 0);
    try testing.expectError(error.BufferTooSmall, pool.maxPoolBits(ctx, &s, &bits, bits.len, &bits_out, bits_out.len - 1));
    try testing.expectError(error.NullPointer, pool.maxPoolBits(ctx, &s, null, bits.len, &bits_out, bits_out.len));
    try testing.expectError(error.NullPointer, pool.maxPoolBits(ctx, &s, &bits, bits.len, null, bits_out.len));
    try testing.expectError(error.NullPointer, pool.maxPoolBits(ctx, null, &bits, bits.len, &bits_out, bits_out.len));
    var other = s;
    other.out_c = 64;
    try testing.expectError(error.ShapeMismatch, pool.maxPoolBits(ctx, &other, &bits, bits.len, &bits_out, bits_out.len));
    try testing.expectError(error.ShapeMismatch, pool.avgPoolF32(ctx, &other, null, 0, null, 0));
    other = s;
    other.batch = 0;
    try testing.expectError(error.InvalidArgument, pool.avgPoolI8(ctx, &other, null, 0, null, 0));
    other = s;
    other.pad_left = 2;
    try testing.expectError(error.InvalidArgument, pool.avgPoolI8(ctx, &other, null, 0, null, 0));
    other = s;
    other.stride_h = limits.stride_max + 1;
    try testing.expectError(error.LimitExceeded, pool.avgPoolF32(ctx, &other, null, 0, null, 0));

    var real: [16 * 65]f32 = @splat(0);
    var real_out: [4 * 65]f32 = undefined;
    try pool.avgPoolF32(ctx, &s, &real, real.len, &real_out, real_out.len);
    try testing.expectError(error.BufferTooSmall, pool.avgPoolF32(ctx, &s, &real, real.len - 1, &real_out, real_out.len));
    try testing.expectError(error.BufferTooSmall, pool.avgPoolF32(ctx, &s, &real, real.len, &real_out, 0));
    var small: [16 * 65]i8 = @splat(0);
    var small_out: [4 * 65]i8 = undefined;
    try testing.expectError(error.BufferTooSmall, pool.avgPoolI8(ctx, &s, &small, 3, &small_out, small_out.len));

    try testing.expectError(error.InvalidArgument, pool.globalAvgPoolF32(ctx, 1, 0, 4, 65, &real, real.len, &real_out, real_out.len));
    try testing.expectError(error.InvalidArgument, pool.globalAvgPoolI8(ctx, 1, 4, 4, 0, &small, small.len, &small_out, small_out.len));
    try testing.expectError(error.LimitExceeded, pool.globalAvgPoolI8(ctx, limits.batch_max + 1, 4, 4, 65, &small, small.len, &small_out, small_out.len));
    try testing.expectError(error.LimitExceeded, pool.globalAvgPoolF32(ctx, 1, limits.spatial_max, limits.spatial_max, 1024, &real, real.len, &real_out, real_out.len));
    try testing.expectError(error.BufferTooSmall, pool.globalAvgPoolF32(ctx, 1, 4, 4, 65, &real, real.len - 1, &real_out, real_out.len));
    try testing.expectError(error.BufferTooSmall, pool.globalAvgPoolF32(ctx, 2, 4, 4, 65, &real, real.len, &real_out, real_out.len));
    try testing.expectError(error.BufferTooSmall, pool.globalAvgPoolI8(ctx, 1, 4, 4, 65, &small, small.len, &small_out, 64));
    try testing.expectError(error.NullPointer, pool.globalAvgPoolI8(ctx, 1, 4, 4, 65, null, small.len, &small_out, small_out.len));
    try pool.globalAvgPoolI8(ctx, 1, 4, 4, 65, &small, small.len, &small_out, small_out.len);
}
