//! The qconv tester: every output kind of the SIMD variant against the reference over
//! sweeps of channels, kernels, strides and pads, the packing round trip, the f32 conv, and
//! bad arguments. A failure prints the variant, the position, the shape and the seed.

const std = @import("std");
const testing = std.testing;
const limits = @import("../limits.zig");
const Ctx = @import("../ctx.zig").Ctx;
const Window2d = @import("../shape.zig").Window2d;
const contract = @import("contract.zig");
const reference = @import("reference.zig");
const igemm = @import("igemm.zig");
const float = @import("float.zig");
const qconv = @import("qconv.zig");

const allocator = testing.allocator;

fn seedFor(salt: u64) u64 {
    return @as(u64, testing.random_seed) *% 0x9E37_79B9_7F4A_7C15 +% salt;
}

/// Random conv data of one shape, owned by the caller (`deinit`).
const Case = struct {
    shape: Window2d,
    input: []u8,
    weights: []i8,
    packed_weights: []u8,
    bias: ?[]i32,
    scale: []f32,
    x_zp: u8,
    y_zp: u8,
    seed: u64,

    fn init(s: Window2d, seed: u64, with_bias: bool) !Case {
        var prng = std.Random.DefaultPrng.init(seed);
        const random = prng.random();
        const input = try allocator.alloc(u8, @intCast(s.inPixels() * s.in_c));
        errdefer allocator.free(input);
        random.bytes(input);
        const weights = try allocator.alloc(i8, @as(usize, s.out_c) * s.kernel_h * s.kernel_w * s.in_c);
        errdefer allocator.free(weights);
        random.bytes(std.mem.sliceAsBytes(weights));
        const packing = qconv.packingFor(s);
        const packed_weights = try allocator.alloc(u8, @intCast(packing.totalBytes()));
        errdefer allocator.free(packed_weights);
        qconv.pack(packing, weights, packed_weights);
        const bias: ?[]i32 = if (with_bias) try allocator.alloc(i32, s.out_c) else null;
        errdefer if (bias) |b| allocator.free(b);
        if (bias) |b| for (b) |*v| {
            v.* = random.intRangeAtMost(i32, -100_000, 100_000);
        };
        const scale = try allocator.alloc(f32, s.out_c);
        // Power-of-two scales make exact .5 ties common, so round-half-to-even is exercised;
        // small random scales spread the outputs; large ones clamp.
        const k: f32 = @floatFromInt(s.kernel_h * s.kernel_w * s.in_c);
        for (scale) |*v| v.* = switch (random.uintLessThan(u32, 4)) {
            0 => 0.5,
            1 => 0.25,
            2 => random.float(f32) * 4.0 / (std.math.sqrt(k) * 128.0),
            else => random.float(f32) * 2.0,
        };
        return .{ .shape = s, .input = input, .weights = weights, .packed_weights = packed_weights, .bias = bias, .scale = scale, .x_zp = random.int(u8), .y_zp = random.int(u8), .seed = seed };
    }

    fn deinit(self: Case) void {
        allocator.free(self.input);
        allocator.free(self.weights);
        allocator.free(self.packed_weights);
        if (self.bias) |b| allocator.free(b);
        allocator.free(self.scale);
    }

    fn args(self: Case) reference.Args {
        return .{
            .shape = self.shape,
            .input = self.input,
            .x_zp = self.x_zp,
            .weights = self.packed_weights,
            .packing = qconv.packingFor(self.shape),
            .bias = self.bias,
            .scale = self.scale,
            .y_zp = self.y_zp,
        };
    }
};

fn printShape(s: Window2d) void {
    std.debug.print("shape: batch {d} in {d}x{d}x{d} out_c {d} kernel {d}x{d} stride {d}x{d} pads t{d} b{d} l{d} r{d}\n", .{ s.batch, s.in_h, s.in_w, s.in_c, s.out_c, s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.pad_top, s.pad_bottom, s.pad_left, s.pad_right });
}

/// Runs the SIMD variant on `threads` threads and the reference, and compares every value.
fn expectMatches(comptime kind: contract.Kind, case: Case, threads: u32) !void {
    const Out = contract.Out(kind);
    const count: usize = @intCast(case.shape.outPixels() * case.shape.out_c);
    const expected = try allocator.alloc(Out, count);
    defer allocator.free(expected);
    const actual = try allocator.alloc(Out, count);
    defer allocator.free(actual);
    reference.conv2d(kind, case.args(), expected);

    const ctx = try Ctx.create(allocator, threads, 0);
    defer ctx.destroy();
    @memset(std.mem.sliceAsBytes(actual), 0xAB);
    qconv.run(kind, ctx, case.args(), actual);
    for (expected, actual, 0..) |e, a, i| {
        const same = if (kind == .f32) @as(u32, @bitCast(e)) == @as(u32, @bitCast(a)) else e == a;
        if (!same) {
            const o = i % case.shape.out_c;
            const pixel = i / case.shape.out_c;
            std.debug.print("qconv {s} ({s}, {d} threads) differs at pixel {d} channel {d}: expected {any}, got {any}, seed 0x{x}\n", .{ igemm.name, @tagName(kind), threads, pixel, o, e, a, case.seed });
            printShape(case.shape);
            return error.TestExpectedEqual;
        }
    }
}

fn window(batch: u32, h: u32, w: u32, in_c: u32, out_c: u32, k: u32, stride: u32, pads: [4]u32) Window2d {
    return .{ .batch = batch, .in_h = h, .in_w = w, .in_c = in_c, .out_c = out_c, .kernel_h = k, .kernel_w = k, .stride_h = stride, .stride_w = stride, .pad_top = pads[0], .pad_bottom = pads[1], .pad_left = pads[2], .pad_right = pads[3] };
}

test "qconv2d simd matches the reference over channel counts" {
    // Below 16 channels the SIMD variant runs on im2col rows; 18 and 63 give the indirect
    // path's partial groups of 2 and 3 channels, 65 of 1.
    const in_channels = [_]u32{ 1, 2, 3, 4, 15, 16, 18, 63, 64, 65, 127, 200, 512 };
    const out_channels = [_]u32{ 1, 7, 16, 33, 64, 65 };
    var salt: u64 = 0;
    for (in_channels) |in_c| {
        for (out_channels) |out_c| {
            salt += 1;
            const s = window(1, 5, 6, in_c, out_c, 3, 1, .{ 1, 1, 1, 1 });
            const case = try Case.init(s, seedFor(salt), salt % 2 == 0);
            defer case.deinit();
            try expectMatches(.u8, case, 1);
            try expectMatches(.i32, case, 2);
            try expectMatches(.f32, case, 1);
        }
    }
}

test "qconv2d simd matches the reference over kernels, strides and every pad" {
    var salt: u64 = 1000;
    for ([_]u32{ 1, 2, 3, 5 }) |k| {
        for ([_]u32{ 1, 2, 3 }) |stride| {
            // Every pad value on every side, the other sides random.
            for (0..4) |side| {
                for (0..k) |pad| {
                    salt += 1;
                    var prng = std.Random.DefaultPrng.init(seedFor(salt));
                    const random = prng.random();
                    var pads: [4]u32 = undefined;
                    for (&pads) |*p| p.* = random.uintLessThan(u32, k);
                    pads[side] = @intCast(pad);
                    const h = random.intRangeAtMost(u32, k, k + 6);
                    const w = random.intRangeAtMost(u32, 1, 9) + k - 1;
                    const in_choices = [_]u32{ 1, 3, 17, 64, 65 };
                    const out_choices = [_]u32{ 1, 8, 31, 40 };
                    const in_c = in_choices[random.uintLessThan(usize, in_choices.len)];
                    const out_c = out_choices[random.uintLessThan(usize, out_choices.len)];
                    const batch = random.intRangeAtMost(u32, 1, 2);
                    const case = try Case.init(window(batch, h, w, in_c, out_c, k, stride, pads), seedFor(salt), random.boolean());
                    defer case.deinit();
                    try expectMatches(.u8, case, 1 + @as(u32, @intCast(salt % 3)));
                    try expectMatches(.i32, case, 1);
                }
            }
        }
    }
}

test "qconv2d simd matches the reference on 1x1 inputs, rectangular kernels and large images" {
    const shapes = [_]Window2d{
        window(1, 1, 1, 65, 33, 1, 1, .{ 0, 0, 0, 0 }),
        window(3, 1, 1, 8, 9, 3, 2, .{ 1, 1, 1, 1 }),
        .{ .batch = 2, .in_h = 9, .in_w = 4, .in_c = 5, .out_c = 35, .kernel_h = 3, .kernel_w = 1, .stride_h = 2, .stride_w = 1, .pad_top = 2, .pad_bottom = 0, .pad_left = 0, .pad_right = 0 },
        .{ .batch = 1, .in_h = 7, .in_w = 11, .in_c = 3, .out_c = 16, .kernel_h = 1, .kernel_w = 7, .stride_h = 1, .stride_w = 3, .pad_top = 0, .pad_bottom = 0, .pad_left = 3, .pad_right = 6 },
        // The first layer of an image network: 3 channels, 3x3 stride 2.
        window(1, 64, 48, 3, 32, 3, 2, .{ 1, 1, 1, 1 }),
        // The ResNet stem: 7x7 stride 2 over 3 channels, im2col rows of 49 taps.
        window(2, 37, 30, 3, 64, 7, 2, .{ 3, 3, 3, 3 }),
        window(1, 29, 31, 1, 24, 5, 1, .{ 2, 2, 2, 2 }),
        window(1, 20, 23, 64, 128, 3, 1, .{ 1, 1, 1, 1 }),
        window(2, 9, 9, 32, 20, 15, 8, .{ 14, 7, 0, 13 }),
    };
    for (shapes, 0..) |s, i| {
        const case = try Case.init(s, seedFor(2000 + i), i % 2 == 1);
        defer case.deinit();
        try expectMatches(.u8, case, 2);
        try expectMatches(.i32, case, 3);
        try expectMatches(.f32, case, 2);
    }
}

test "qconv2d wraps its accumulator like the reference past the exact range" {
    // 5x5x16384 = 409600 products of 255 * -128 wrap int32 several times.
    const s = window(1, 5, 5, limits.channels_max, 3, 5, 1, .{ 0, 0, 0, 0 });
    var case = try Case.init(s, seedFor(3000), false);
    defer case.deinit();
    @memset(case.input, 255);
    case.x_zp = 0;
    @memset(case.weights, -128);
    qconv.pack(qconv.packingFor(s), case.weights, case.packed_weights);
    try testing.expect(@as(u64, s.kernel_h) * s.kernel_w * s.in_c > contract.exact_k_max);
    try expectMatches(.i32, case, 1);
    try expectMatches(.u8, case, 2);
}

test "qconv2d result does not depend on the thread count" {
    const s = window(2, 13, 17, 24, 48, 3, 1, .{ 1, 1, 1, 1 });
    const case = try Case.init(s, seedFor(4000), true);
    defer case.deinit();
    for ([_]u32{ 1, 2, 3, 5 }) |threads| try expectMatches(.u8, case, threads);
}

test "qconv2d splits the output channels of small images across threads" {
    // 16 pixels and 200 channels: too few pixel tiles for the threads, so chunks also split
    // the channel blocks (with a shorter last group on most levels).
    for ([_]u32{ 2, 3, 4 }) |threads| {
        const s = window(1, 4, 4, 40, 200, 1, 1, .{ 0, 0, 0, 0 });
        const case = try Case.init(s, seedFor(4100 + threads), true);
        defer case.deinit();
        try expectMatches(.u8, case, threads);
        try expectMatches(.i32, case, threads);
    }
}

test "qconv2d pack keeps every weight and its channel sums" {
    const s = window(1, 3, 3, 67, 37, 3, 1, .{ 0, 0, 0, 0 });
    const case = try Case.init(s, seedFor(5000), false);
    defer case.deinit();
    const packing = qconv.packingFor(s);
    const header = std.mem.bytesToValue(contract.Header, case.packed_weights[0..contract.header_bytes]);
    try testing.expectEqual(contract.magic, header.magic);
    try testing.expectEqual(igemm.block, header.block);
    var index: usize = 0;
    for (0..s.out_c) |o| {
        var sum: i32 = 0;
        for (0..s.kernel_h) |ky| for (0..s.kernel_w) |kx| for (0..s.in_c) |c| {
            const at = packing.weightOffset(@intCast(o), @intCast(ky), @intCast(kx), @intCast(c));
            try testing.expectEqual(case.weights[index], @as(i8, @bitCast(case.packed_weights[@intCast(at)])));
            sum += case.weights[index];
            index += 1;
        };
        const at: usize = @intCast(packing.sumsOffset() + o * 4);
        try testing.expectEqual(sum, std.mem.readInt(i32, case.packed_weights[at..][0..4], .little));
    }
    // Everything that is not a weight, a sum or the header is zero padding.
    var nonzero: usize = 0;
    for (case.packed_weights[@intCast(packing.weightsOffset())..]) |byte| nonzero += @intFromBool(byte != 0);
    var weights_nonzero: usize = 0;
    for (case.weights) |w| weights_nonzero += @intFromBool(w != 0);
    try testing.expectEqual(weights_nonzero, nonzero);
}

test "qconv2d reference follows the contract on a hand-worked case" {
    // 1x2x2x2 input, x_zp 10, one 2x2 output channel, pad 1 on top and left, stride 1:
    // output (0,0) sees only x[0][0]; output (1,1) sees the whole input.
    const s = window(1, 2, 2, 2, 1, 2, 1, .{ 1, 0, 1, 0 });
    const input = [_]u8{ 12, 9, 20, 10, 10, 30, 0, 255 };
    const weights = [_]i8{ 1, 2, -3, 4, 5, -6, 7, -128 };
    var packed_weights: [4096]u8 = undefined;
    const packing = qconv.packingFor(s);
    qconv.pack(packing, &weights, packed_weights[0..@intCast(packing.totalBytes())]);
    const args: reference.Args = .{ .shape = s, .input = &input, .x_zp = 10, .weights = packed_weights[0..@intCast(packing.totalBytes())], .packing = packing, .bias = &.{100}, .scale = &.{0.5}, .y_zp = 3 };
    var acc: [4]i32 = undefined;
    reference.conv2d(.i32, args, &acc);
    // (0,0): tap (1,1) reads x[0][0] = (2, -1): 2*7 + -1*-128 = 142, + bias 100.
    try testing.expectEqual(@as(i32, 242), acc[0]);
    // (1,1): taps read x[0][0]=(2,-1), x[0][1]=(10,0), x[1][0]=(0,20), x[1][1]=(-10,245).
    const full = 2 * 1 + -1 * 2 + 10 * -3 + 0 * 4 + 0 * 5 + 20 * -6 + -10 * 7 + 245 * -128;
    try testing.expectEqual(@as(i32, full + 100), acc[3]);
    var y: [4]u8 = undefined;
    reference.conv2d(.u8, args, &y);
    try testing.expectEqual(@as(u8, 121 + 3), y[0]); // 242 * 0.5 = 121
    try testing.expectEqual(@as(u8, 0), y[3]); // far below -y_zp: clamps to 0
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    var simd: [4]i32 = undefined;
    qconv.run(.i32, ctx, args, &simd);
    try testing.expectEqualSlices(i32, &acc, &simd);
}

test "conv2d_f32 matches a direct computation on every thread count" {
    const s = window(2, 7, 6, 5, 9, 3, 2, .{ 1, 2, 0, 1 });
    var prng = std.Random.DefaultPrng.init(seedFor(6000));
    const random = prng.random();
    var input: [2 * 7 * 6 * 5]f32 = undefined;
    for (&input) |*v| v.* = random.floatNorm(f32);
    var weights: [9 * 3 * 3 * 5]f32 = undefined;
    for (&weights) |*v| v.* = random.floatNorm(f32);
    var bias: [9]f32 = undefined;
    for (&bias) |*v| v.* = random.floatNorm(f32);
    const count = s.outPixels() * s.out_c;
    var expected: [2 * 4 * 3 * 9]f32 = undefined;
    var expected_no_bias: [expected.len]f32 = undefined;
    try testing.expectEqual(@as(u64, expected.len), count);
    var index: usize = 0;
    for (0..s.batch) |n| for (0..s.outH()) |oy| for (0..s.outW()) |ox| for (0..s.out_c) |o| {
        var acc: f32 = 0;
        for (0..3) |ky| for (0..3) |kx| {
            const iy = @as(i64, @intCast(oy * 2 + ky)) - 1;
            const ix = @as(i64, @intCast(ox * 2 + kx)) - 0;
            if (iy < 0 or iy >= 7 or ix < 0 or ix >= 6) continue;
            for (0..5) |c| {
                const x = input[((n * 7 + @as(usize, @intCast(iy))) * 6 + @as(usize, @intCast(ix))) * 5 + c];
                acc = acc + x * weights[((o * 3 + ky) * 3 + kx) * 5 + c];
            }
        };
        expected[index] = acc + bias[o];
        expected_no_bias[index] = acc;
        index += 1;
    };
    for ([_]u32{ 1, 2, 3 }) |threads| {
        const ctx = try Ctx.create(allocator, threads, 0);
        defer ctx.destroy();
        var actual: [expected.len]f32 = undefined;
        try qconv.conv2dFloat(ctx, &s, &input, input.len, &weights, weights.len, &bias, bias.len, &actual, actual.len);
        try testing.expectEqualSlices(f32, &expected, &actual);
        try qconv.conv2dFloat(ctx, &s, &input, input.len, &weights, weights.len, null, 0, &actual, actual.len);
        try testing.expectEqualSlices(f32, &expected_no_bias, &actual);
    }
}

test "qconv2d refuses bad arguments with an error and a message" {
    const ctx = try Ctx.create(allocator, 2, 0);
    defer ctx.destroy();
    const s = window(1, 4, 4, 5, 6, 3, 1, .{ 1, 1, 1, 1 });
    const case = try Case.init(s, seedFor(7000), true);
    defer case.deinit();
    var output: [4 * 4 * 6]u8 = undefined;
    const raw: qconv.Raw = .{
        .params = &s,
        .input = case.input.ptr,
        .input_len = @intCast(case.input.len),
        .x_zp = 3,
        .weights = case.packed_weights.ptr,
        .weights_len = @intCast(case.packed_weights.len),
        .bias = case.bias.?.ptr,
        .bias_len = s.out_c,
        .scale = case.scale.ptr,
        .scale_len = s.out_c,
        .y_zp = 7,
    };
    try qconv.conv2d(.u8, ctx, raw, &output, output.len);

    const Expect = struct {
        fn fails(c: *Ctx, expected: anyerror, r: qconv.Raw, out: []u8) !void {
            try testing.expectError(expected, qconv.conv2d(.u8, c, r, out.ptr, @intCast(out.len)));
            try testing.expect(c.lastMessage().len > 0);
        }
    };
    var r = raw;
    r.params = null;
    try Expect.fails(ctx, error.NullPointer, r, &output);
    var zero = s;
    zero.in_c = 0;
    r = raw;
    r.params = &zero;
    try Expect.fails(ctx, error.InvalidArgument, r, &output);
    r = raw;
    r.input_len -= 1;
    try Expect.fails(ctx, error.BufferTooSmall, r, &output);
    r = raw;
    r.input = null;
    try Expect.fails(ctx, error.NullPointer, r, &output);
    r = raw;
    r.x_zp = 256;
    try Expect.fails(ctx, error.InvalidArgument, r, &output);
    r = raw;
    r.y_zp = 1000;
    try Expect.fails(ctx, error.InvalidArgument, r, &output);
    r = raw;
    r.weights_len = 63;
    try Expect.fails(ctx, error.BufferTooSmall, r, &output);
    r = raw;
    r.weights_len -= 1;
    try Expect.fails(ctx, error.BufferTooSmall, r, &output);
    r = raw;
    r.bias_len = s.out_c - 1;
    try Expect.fails(ctx, error.BufferTooSmall, r, &output);
    r = raw;
    r.bias = null;
    try Expect.fails(ctx, error.NullPointer, r, &output);
    r.bias_len = 0;
    try qconv.conv2d(.u8, ctx, r, &output, output.len); // no bias is fine
    r = raw;
    r.scale_len = 0;
    try Expect.fails(ctx, error.BufferTooSmall, r, &output);
    try Expect.fails(ctx, error.BufferTooSmall, raw, output[0 .. output.len - 1]);

    // Non-finite scales, foreign or mismatched packed weights.
    const saved = case.scale[2];
    case.scale[2] = std.math.nan(f32);
    try Expect.fails(ctx, error.InvalidArgument, raw, &output);
    case.scale[2] = std.math.inf(f32);
    try Expect.fails(ctx, error.InvalidArgument, raw, &output);
    case.scale[2] = saved;
    var other = s;
    other.in_c = 4;
    r = raw;
    r.params = &other;
    r.input_len = 4 * 4 * 4;
    try Expect.fails(ctx, error.ShapeMismatch, r, &output);
    case.packed_weights[4] ^= 0xFF; // block width of another library
    try Expect.fails(ctx, error.InvalidArgument, raw, &output);
    case.packed_weights[4] ^= 0xFF;
    case.packed_weights[0] ^= 0xFF;
    try Expect.fails(ctx, error.InvalidArgument, raw, &output);
    case.packed_weights[0] ^= 0xFF;
    try qconv.conv2d(.u8, ctx, raw, &output, output.len);

    // The i32 and f32 kinds check their own arguments.
    var acc: [4 * 4 * 6]i32 = undefined;
    try qconv.conv2d(.i32, ctx, raw, &acc, acc.len);
    try testing.expectError(error.BufferTooSmall, qconv.conv2d(.i32, ctx, raw, &acc, acc.len - 6));
    var real: [4 * 4 * 6]f32 = undefined;
    r = raw;
    r.scale = null;
    r.scale_len = 0;
    try testing.expectError(error.BufferTooSmall, qconv.conv2d(.f32, ctx, r, &real, real.len));
}

test "qconv2d pack and size query refuse bad arguments" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    const s = window(1, 4, 4, 5, 6, 3, 1, .{ 1, 1, 1, 1 });
    var bytes: u32 = 0;
    try qconv.packedSize(ctx, &s, &bytes);
    try testing.expectEqual(qconv.packingFor(s).totalBytes(), bytes);
    try testing.expectError(error.NullPointer, qconv.packedSize(ctx, &s, null));
    try testing.expectError(error.NullPointer, qconv.packedSize(ctx, null, &bytes));
    var huge = s;
    huge.out_c = limits.channels_max;
    huge.in_c = limits.channels_max;
    huge.kernel_h = limits.kernel_max;
    huge.kernel_w = limits.kernel_max;
    huge.pad_top = 0;
    huge.pad_bottom = 0;
    huge.pad_left = 0;
    huge.pad_right = 0;
    huge.in_h = limits.kernel_max;
    huge.in_w = limits.kernel_max;
    try testing.expectError(error.LimitExceeded, qconv.packedSize(ctx, &huge, &bytes));

    var weights: [6 * 3 * 3 * 5]i8 = @splat(1);
    const packed_weights = try allocator.alloc(u8, bytes);
    defer allocator.free(packed_weights);
    try qconv.packWeights(ctx, &s, &weights, weights.len, packed_weights.ptr, bytes);
    try testing.expectError(error.BufferTooSmall, qconv.packWeights(ctx, &s, &weights, weights.len - 1, packed_weights.ptr, bytes));
    try testing.expectError(error.BufferTooSmall, qconv.packWeights(ctx, &s, &weights, weights.len, packed_weights.ptr, bytes - 1));
    try testing.expectError(error.NullPointer, qconv.packWeights(ctx, &s, null, weights.len, packed_weights.ptr, bytes));
    try testing.expectError(error.NullPointer, qconv.packWeights(ctx, &s, &weights, weights.len, null, bytes));
    var zero = s;
    zero.kernel_w = 0;
    try testing.expectError(error.InvalidArgument, qconv.packWeights(ctx, &zero, &weights, weights.len, packed_weights.ptr, bytes));
}

test "conv2d_f32 refuses bad arguments" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    const s = window(1, 3, 3, 2, 2, 3, 1, .{ 1, 1, 1, 1 });
    var input: [18]f32 = @splat(1);
    var weights: [36]f32 = @splat(1);
    var output: [18]f32 = undefined;
    try qconv.conv2dFloat(ctx, &s, &input, 18, &weights, 36, null, 0, &output, 18);
    try testing.expectEqual(@as(f32, 8), output[0]); // 2x2 valid taps x 2 channels
    try testing.expectEqual(@as(f32, 18), output[8]); // centre: 9 taps x 2 channels
    try testing.expectError(error.BufferTooSmall, qconv.conv2dFloat(ctx, &s, &input, 17, &weights, 36, null, 0, &output, 18));
    try testing.expectError(error.BufferTooSmall, qconv.conv2dFloat(ctx, &s, &input, 18, &weights, 35, null, 0, &output, 18));
    try testing.expectError(error.BufferTooSmall, qconv.conv2dFloat(ctx, &s, &input, 18, &weights, 36, &input, 1, &output, 18));
    try testing.expectError(error.BufferTooSmall, qconv.conv2dFloat(ctx, &s, &input, 18, &weights, 36, null, 0, &output, 17));
    try testing.expectError(error.NullPointer, qconv.conv2dFloat(ctx, &s, null, 18, &weights, 36, null, 0, &output, 18));
    try testing.expectError(error.NullPointer, qconv.conv2dFloat(ctx, null, &input, 18, &weights, 36, null, 0, &output, 18));
}

test "qconv2d scalar variant runs the reference" {
    const s = window(1, 6, 5, 7, 9, 3, 2, .{ 1, 1, 1, 1 });
    const case = try Case.init(s, seedFor(8000), true);
    defer case.deinit();
    const scalar = try Ctx.create(allocator, 2, @import("../ctx.zig").flag_force_scalar);
    defer scalar.destroy();
    var expected: [3 * 3 * 9]u8 = undefined;
    var actual: [3 * 3 * 9]u8 = undefined;
    reference.conv2d(.u8, case.args(), &expected);
    qconv.run(.u8, scalar, case.args(), &actual);
    try testing.expectEqualSlices(u8, &expected, &actual);
}
