//! The elementwise tester: the SIMD quantize, sigmoid, argmax and bilinear upsample (through the family entry
//! points on 1, 2 and 3 threads, and every lane width directly) against the reference over
//! sizes, scales, zero points and special values; the references against hand-worked values;
//! bad arguments. A failure prints the variant, the position, the sizes and the seed.

const std = @import("std");
const testing = std.testing;
const Ctx = @import("../ctx.zig").Ctx;
const reference = @import("reference.zig");
const simd = @import("simd.zig");
const elementwise = @import("elementwise.zig");

const allocator = testing.allocator;

fn seedFor(salt: u64) u64 {
    return @as(u64, testing.random_seed) *% 0x9E37_79B9_7F4A_7C15 +% salt;
}

/// Random f32 with special values mixed in: NaN, ±inf, ±0, exact ties of the scale, huge.
fn fillFloats(random: std.Random, values: []f32, scale: f32) void {
    for (values) |*v| {
        v.* = switch (random.uintLessThan(u32, 16)) {
            0 => std.math.nan(f32),
            1 => std.math.inf(f32),
            2 => -std.math.inf(f32),
            3 => -0.0,
            4, 5 => (@as(f32, @floatFromInt(random.intRangeAtMost(i32, -300, 300))) + 0.5) * scale,
            6 => random.float(f32) * 1e30 - 5e29,
            else => (random.float(f32) * 2 - 1) * 200 * scale,
        };
    }
}

fn checkQuantize(len: usize, scale: f32, zero_point: i32, signed: u32, seed: u64) !void {
    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    const input = try allocator.alloc(f32, len);
    defer allocator.free(input);
    fillFloats(random, input, scale);
    const expected = try allocator.alloc(u8, len);
    defer allocator.free(expected);
    const actual = try allocator.alloc(u8, len);
    defer allocator.free(actual);
    const lo: i32 = if (signed == 1) -128 else 0;
    const hi: i32 = if (signed == 1) 127 else 255;
    reference.quantize(input, expected, scale, zero_point, lo, hi);
    inline for (.{ 4, 8, 16, simd.f32_lanes }) |lanes| {
        @memset(actual, 0xAA);
        simd.quantizeLanes(lanes, input, actual, scale, zero_point, lo, hi);
        try expectBytes("quantize lanes", lanes, 1, len, seed, expected, actual, input);
    }
    for ([_]u32{ 1, 2, 3 }) |threads| {
        const ctx = try Ctx.create(allocator, threads, 0);
        defer ctx.destroy();
        @memset(actual, 0xAA);
        try elementwise.quantizeF32(ctx, input.ptr, @intCast(len), scale, zero_point, signed, actual.ptr, @intCast(len));
        try expectBytes("quantize ctx", simd.f32_lanes, threads, len, seed, expected, actual, input);
    }
}

fn expectBytes(what: []const u8, lanes: usize, threads: u32, len: usize, seed: u64, expected: []const u8, actual: []const u8, input: []const f32) !void {
    for (expected, actual, 0..) |e, a, i| {
        if (e != a) {
            std.debug.print("{s} (simd {d} lanes, {d} threads) differs at {d} of {d}: input {e}, expected {d}, got {d}, seed 0x{x}\n", .{ what, lanes, threads, i, len, input[i], e, a, seed });
            return error.TestExpectedEqual;
        }
    }
}

test "quantize SIMD matches the reference on every length, scale, zero point and dtype" {
    var salt: u64 = 0;
    for ([_]usize{ 0, 1, 7, 15, 16, 17, 63, 64, 65, 200, 1000, (1 << 16) + 33, 3 * (1 << 16) }) |len| {
        for ([_]f32{ 1.0 / 32.0, 0.1, 1.0 / 127.0, 3.7, 1e-6 }) |scale| {
            for ([_]i32{ 0, 1, 128, 255 }) |zp| {
                salt += 1;
                try checkQuantize(len, scale, zp, 0, seedFor(salt));
            }
            for ([_]i32{ -128, -1, 0, 127 }) |zp| {
                salt += 1;
                try checkQuantize(len, scale, zp, 1, seedFor(salt));
            }
        }
    }
}

test "quantize reference gives hand-worked values" {
    const input = [_]f32{ 0.25, 0.75, -10, 10, std.math.nan(f32), 1.25, -0.25, std.math.inf(f32) };
    var out: [8]u8 = undefined;
    reference.quantize(&input, &out, 0.5, 128, 0, 255);
    // 0.5 -> 0, 1.5 -> 2, -20 -> -20, 20, NaN -> 0, 2.5 -> 2, -0.5 -> -0 (even), inf -> 127.
    try testing.expectEqualSlices(u8, &.{ 128, 130, 108, 148, 128, 130, 128, 255 }, &out);
    var signed_out: [3]u8 = undefined;
    reference.quantize(&[_]f32{ -1000, 1000, -1.5 }, &signed_out, 1, 0, -128, 127);
    try testing.expectEqualSlices(i8, &.{ -128, 127, -2 }, @as(*const [3]i8, @ptrCast(&signed_out)));
}

test "quantize refuses bad arguments" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    var input = [_]f32{ 1, 2 };
    var output: [2]u8 = undefined;
    try testing.expectError(error.InvalidArgument, elementwise.quantizeF32(ctx, &input, 2, 0, 0, 0, &output, 2));
    try testing.expectError(error.InvalidArgument, elementwise.quantizeF32(ctx, &input, 2, std.math.inf(f32), 0, 0, &output, 2));
    try testing.expectError(error.InvalidArgument, elementwise.quantizeF32(ctx, &input, 2, std.math.nan(f32), 0, 0, &output, 2));
    try testing.expectError(error.InvalidArgument, elementwise.quantizeF32(ctx, &input, 2, 1, 256, 0, &output, 2));
    try testing.expectError(error.InvalidArgument, elementwise.quantizeF32(ctx, &input, 2, 1, 128, 1, &output, 2));
    try testing.expectError(error.InvalidArgument, elementwise.quantizeF32(ctx, &input, 2, 1, 0, 2, &output, 2));
    try testing.expectError(error.BufferTooSmall, elementwise.quantizeF32(ctx, &input, 2, 1, 0, 0, &output, 1));
    try testing.expectError(error.ShapeMismatch, elementwise.quantizeF32(ctx, &input, 1, 1, 0, 0, &output, 2));
    try testing.expectError(error.NullPointer, elementwise.quantizeF32(ctx, null, 2, 1, 0, 0, &output, 2));
}

fn printUpsample(s: reference.Upsample) void {
    std.debug.print("upsample: batch {d} in {d}x{d}x{d} scale {d}x{d} align_corners {}\n", .{ s.batch, s.in_h, s.in_w, s.channels, s.scale_h, s.scale_w, s.align_corners });
}

fn checkUpsample(s: reference.Upsample, seed: u64) !void {
    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    const in_len = @as(usize, s.batch) * s.in_h * s.in_w * s.channels;
    const out_len = @as(usize, s.batch) * s.outH() * s.outW() * s.channels;
    const input = try allocator.alloc(f32, in_len);
    defer allocator.free(input);
    for (input) |*v| v.* = (random.float(f32) * 2 - 1) * 100;
    if (in_len > 0 and random.boolean()) input[random.uintLessThan(usize, in_len)] = std.math.nan(f32);
    const expected = try allocator.alloc(f32, out_len);
    defer allocator.free(expected);
    const actual = try allocator.alloc(f32, out_len);
    defer allocator.free(actual);
    reference.upsample(s, input, expected);
    for ([_]u32{ 1, 2, 3 }) |threads| {
        const ctx = try Ctx.create(allocator, threads, 0);
        defer ctx.destroy();
        @memset(actual, -7);
        try elementwise.upsampleBilinearF32(ctx, s.batch, s.in_h, s.in_w, s.channels, s.scale_h, s.scale_w, @intFromBool(s.align_corners), input.ptr, @intCast(in_len), actual.ptr, @intCast(out_len));
        for (expected, actual, 0..) |e, a, i| {
            if (@as(u32, @bitCast(e)) != @as(u32, @bitCast(a))) {
                std.debug.print("upsample_bilinear (simd {d} f64 lanes, {d} threads) differs at {d}: expected {e}, got {e}, seed 0x{x}\n", .{ simd.f64_lanes, threads, i, e, a, seed });
                printUpsample(s);
                return error.TestExpectedEqual;
            }
        }
    }
}

test "bilinear upsample SIMD matches the reference over sizes, channels, scales and corners" {
    var salt: u64 = 1000;
    const sizes = [_][2]u32{ .{ 1, 1 }, .{ 1, 3 }, .{ 2, 2 }, .{ 5, 7 }, .{ 17, 9 } };
    for (sizes) |hw| {
        for ([_]u32{ 1, 3, 19, 63, 64, 65 }) |c| {
            for ([_][2]u32{ .{ 1, 1 }, .{ 2, 2 }, .{ 8, 8 }, .{ 3, 1 }, .{ 1, 5 } }) |scale| {
                for ([_]bool{ false, true }) |align_corners| {
                    salt += 1;
                    try checkUpsample(.{ .batch = 2, .in_h = hw[0], .in_w = hw[1], .channels = c, .scale_h = scale[0], .scale_w = scale[1], .align_corners = align_corners }, seedFor(salt));
                }
            }
        }
    }
    // Wide rows: the row caches split a row into several segments.
    try checkUpsample(.{ .batch = 1, .in_h = 3, .in_w = 40, .channels = 512, .scale_h = 4, .scale_w = 4, .align_corners = false }, seedFor(1));
    try checkUpsample(.{ .batch = 1, .in_h = 2, .in_w = 3, .channels = 16384, .scale_h = 2, .scale_w = 2, .align_corners = true }, seedFor(2));
}

test "bilinear reference gives hand-worked values" {
    // One row [0, 4] upsampled x2 horizontally: src = (x + 0.5) / 2 - 0.5 clamped at 0.
    const s: reference.Upsample = .{ .batch = 1, .in_h = 1, .in_w = 2, .channels = 1, .scale_h = 1, .scale_w = 2, .align_corners = false };
    var out: [4]f32 = undefined;
    reference.upsample(s, &.{ 0, 4 }, &out);
    try testing.expectEqualSlices(f32, &.{ 0, 1, 3, 4 }, &out);
    var corners: [4]f32 = undefined;
    reference.upsample(.{ .batch = 1, .in_h = 1, .in_w = 2, .channels = 1, .scale_h = 1, .scale_w = 2, .align_corners = true }, &.{ 0, 3 }, &corners);
    try testing.expectEqualSlices(f32, &.{ 0, 1, 2, 3 }, &corners);
}

test "bilinear upsample refuses bad arguments" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    var input = [_]f32{ 1, 2 };
    var output: [8]f32 = undefined;
    try testing.expectError(error.InvalidArgument, elementwise.upsampleBilinearF32(ctx, 1, 1, 2, 1, 0, 2, 0, &input, 2, &output, 8));
    try testing.expectError(error.InvalidArgument, elementwise.upsampleBilinearF32(ctx, 0, 1, 2, 1, 2, 2, 0, &input, 2, &output, 8));
    try testing.expectError(error.InvalidArgument, elementwise.upsampleBilinearF32(ctx, 1, 1, 2, 1, 2, 2, 2, &input, 2, &output, 8));
    try testing.expectError(error.LimitExceeded, elementwise.upsampleBilinearF32(ctx, 1, 1, 2, 1, 20000, 2, 0, &input, 2, &output, 8));
    try testing.expectError(error.LimitExceeded, elementwise.upsampleBilinearF32(ctx, 1, 1, 9000, 1, 1, 2, 0, &input, 2, &output, 8));
    try testing.expectError(error.BufferTooSmall, elementwise.upsampleBilinearF32(ctx, 1, 1, 2, 1, 2, 2, 0, &input, 1, &output, 8));
    try testing.expectError(error.BufferTooSmall, elementwise.upsampleBilinearF32(ctx, 1, 1, 2, 1, 2, 2, 0, &input, 2, &output, 7));
    try testing.expectError(error.NullPointer, elementwise.upsampleBilinearF32(ctx, 1, 1, 2, 1, 2, 2, 0, &input, 2, null, 8));
}

fn checkSigmoid(input: []const f32, seed: u64) !void {
    const expected = try allocator.alloc(f32, input.len);
    defer allocator.free(expected);
    const actual = try allocator.alloc(f32, input.len);
    defer allocator.free(actual);
    reference.sigmoid(input, expected);
    inline for (.{ 2, 4, 8, simd.f64_lanes }) |lanes| {
        @memset(actual, -7);
        simd.sigmoidLanes(lanes, input, actual);
        try expectFloats("sigmoid lanes", lanes, 1, seed, expected, actual, input);
    }
    for ([_]u32{ 1, 2, 3 }) |threads| {
        const ctx = try Ctx.create(allocator, threads, 0);
        defer ctx.destroy();
        @memset(actual, -7);
        try elementwise.sigmoidF32(ctx, input.ptr, @intCast(input.len), actual.ptr, @intCast(input.len));
        try expectFloats("sigmoid ctx", simd.f64_lanes, threads, seed, expected, actual, input);
    }
}

fn expectFloats(what: []const u8, lanes: usize, threads: u32, seed: u64, expected: []const f32, actual: []const f32, input: []const f32) !void {
    for (expected, actual, 0..) |e, a, i| {
        const same = @as(u32, @bitCast(e)) == @as(u32, @bitCast(a)) or (std.math.isNan(e) and std.math.isNan(a));
        if (!same) {
            std.debug.print("{s} (simd {d} lanes, {d} threads) differs at {d} of {d}: input {e}, expected {e}, got {e}, seed 0x{x}\n", .{ what, lanes, threads, i, input.len, input[i], e, a, seed });
            return error.TestExpectedEqual;
        }
    }
}

test "sigmoid SIMD matches the reference on random bit patterns, ranges and special values" {
    var salt: u64 = 5000;
    for ([_]usize{ 0, 1, 7, 8, 9, 100, (1 << 14) + 5, 3 * (1 << 14) }) |len| {
        salt += 1;
        const seed = seedFor(salt);
        var prng = std.Random.DefaultPrng.init(seed);
        const random = prng.random();
        const input = try allocator.alloc(f32, len);
        defer allocator.free(input);
        for (input) |*v| {
            v.* = switch (random.uintLessThan(u32, 8)) {
                // Any bit pattern: NaNs, infinities, subnormals, huge values.
                0, 1 => @bitCast(random.int(u32)),
                2 => (random.float(f32) * 2 - 1) * 1e-8,
                3 => (random.float(f32) * 2 - 1) * 1500,
                else => (random.float(f32) * 2 - 1) * 20,
            };
        }
        try checkSigmoid(input, seed);
    }
    // The fdlibm path boundaries (0.5 ln2, 1.5 ln2, 2^-28, 700, 709.78, 745), exp(1) = e.
    const edges = [_]f32{ -1, 1, 0, -0.0, 0.3465735, -0.3465735, 0.34657362, 1.0397208, -1.0397208, 1.0397209, 0x1p-28, -0x1p-28, 0x1.fffffep-29, 700, -700, 700.0001, 709.78, -709.78, 745.2, -745.2, 88.7, -88.7, 104, -104, std.math.inf(f32), -std.math.inf(f32), std.math.nan(f32), 1e38, -1e38 };
    try checkSigmoid(&edges, 0);
}

test "sigmoid reference gives known values" {
    var out: [5]f32 = undefined;
    reference.sigmoid(&.{ 0, 1000, -1000, std.math.inf(f32), -std.math.inf(f32) }, &out);
    try testing.expectEqualSlices(f32, &.{ 0.5, 1, 0, 1, 0 }, &out);
    var one: [1]f32 = undefined;
    reference.sigmoid(&.{2}, &one);
    try testing.expectApproxEqRel(@as(f32, 0.880797), one[0], 1e-6);
}

test "sigmoid refuses mismatched buffers" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    var input = [_]f32{ 1, 2 };
    var output: [3]f32 = undefined;
    try testing.expectError(error.BufferTooSmall, elementwise.sigmoidF32(ctx, &input, 2, &output, 1));
    try testing.expectError(error.ShapeMismatch, elementwise.sigmoidF32(ctx, &input, 2, &output, 3));
    try testing.expectError(error.NullPointer, elementwise.sigmoidF32(ctx, null, 2, &output, 2));
}

fn checkArgmax(pixels: usize, channels: usize, seed: u64) !void {
    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    const input = try allocator.alloc(f32, pixels * channels);
    defer allocator.free(input);
    for (input) |*v| {
        v.* = switch (random.uintLessThan(u32, 12)) {
            0 => std.math.nan(f32),
            1 => -0.0,
            2 => 0.0,
            3, 4 => @floatFromInt(random.uintLessThan(u32, 3)), // ties
            5 => -std.math.inf(f32),
            else => random.float(f32) * 2 - 1,
        };
    }
    const expected = try allocator.alloc(i32, pixels);
    defer allocator.free(expected);
    const actual = try allocator.alloc(i32, pixels);
    defer allocator.free(actual);
    reference.argmax(input, expected, channels);
    inline for (.{ 4, 8, 16, simd.f32_lanes }) |lanes| {
        @memset(actual, -1);
        simd.argmaxLanes(lanes, input, actual, channels);
        try expectIndices(lanes, 1, pixels, channels, seed, expected, actual);
    }
    for ([_]u32{ 1, 2, 3 }) |threads| {
        const ctx = try Ctx.create(allocator, threads, 0);
        defer ctx.destroy();
        @memset(actual, -1);
        try elementwise.argmaxF32(ctx, @intCast(pixels), @intCast(channels), input.ptr, @intCast(input.len), actual.ptr, @intCast(pixels));
        try expectIndices(simd.f32_lanes, threads, pixels, channels, seed, expected, actual);
    }
}

fn expectIndices(lanes: usize, threads: u32, pixels: usize, channels: usize, seed: u64, expected: []const i32, actual: []const i32) !void {
    for (expected, actual, 0..) |e, a, i| {
        if (e != a) {
            std.debug.print("argmax (simd {d} lanes, {d} threads) differs at pixel {d} of {d} ({d} channels): expected {d}, got {d}, seed 0x{x}\n", .{ lanes, threads, i, pixels, channels, e, a, seed });
            return error.TestExpectedEqual;
        }
    }
}

test "argmax SIMD matches the reference over pixels and channels with ties and NaN" {
    var salt: u64 = 9000;
    for ([_]usize{ 1, 7, 16, 17, 100, 4096 + 33 }) |pixels| {
        for ([_]usize{ 1, 2, 3, 19, 63, 64, 65, 200 }) |channels| {
            salt += 1;
            try checkArgmax(pixels, channels, seedFor(salt));
        }
    }
}

test "argmax reference picks the first maximum and skips NaN" {
    var out: [4]i32 = undefined;
    const nan = std.math.nan(f32);
    reference.argmax(&.{ 1, 3, 3, 7, 2, 7, nan, 5, 9, 0, nan, 1 }, &out, 3);
    try testing.expectEqualSlices(i32, &.{ 1, 0, 0, 2 }, &out);
}

test "argmax refuses bad sizes and buffers" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    var input = [_]f32{ 1, 2, 3, 4 };
    var output: [2]i32 = undefined;
    try testing.expectError(error.InvalidArgument, elementwise.argmaxF32(ctx, 0, 2, &input, 4, &output, 2));
    try testing.expectError(error.InvalidArgument, elementwise.argmaxF32(ctx, 2, 0, &input, 4, &output, 2));
    try testing.expectError(error.LimitExceeded, elementwise.argmaxF32(ctx, 1, 20000, &input, 4, &output, 2));
    try testing.expectError(error.BufferTooSmall, elementwise.argmaxF32(ctx, 2, 2, &input, 3, &output, 2));
    try testing.expectError(error.BufferTooSmall, elementwise.argmaxF32(ctx, 2, 2, &input, 4, &output, 1));
}
