//! The bconv tester: every variant against the reference, bit for bit, over channel tails,
//! odd sizes, strides, paddings, pad values, output transforms and thread counts.

const std = @import("std");
const contract = @import("contract.zig");
const pack_mod = @import("pack.zig");
const reference = @import("reference.zig");
const gemm = @import("gemm.zig");
const bconv = @import("bconv.zig");
const Transform = @import("transform.zig").Transform;
const Ctx = @import("../ctx.zig").Ctx;
const Window2d = @import("../shape.zig").Window2d;

const testing = std.testing;
const allocator = testing.allocator;

/// Sibling variants instantiated from the one generic kernel: the build's native one plus
/// other widths and popcount strategies, so every tile shape is checked on every CPU level.
const variants = [_]gemm.Config{
    gemm.native,
    .{ .lanes = gemm.native.lanes, .mr = gemm.native.mr, .nb = gemm.native.nb, .byte_mode = gemm.native.byte_mode, .im2col_only = true },
    .{ .lanes = 8, .mr = 8, .nb = 2, .byte_mode = false },
    .{ .lanes = 8, .mr = 3, .nb = 1, .byte_mode = true },
    .{ .lanes = 4, .mr = 4, .nb = 1, .byte_mode = true },
    .{ .lanes = 2, .mr = 4, .nb = 1, .byte_mode = true },
    .{ .lanes = 4, .mr = 5, .nb = 3, .byte_mode = false },
};

const Case = struct {
    shape: Window2d,
    pad: contract.Pad,
    kind: contract.Kind,
    seed: u64,
};

fn fillRandom(random: std.Random, words: []u64) void {
    for (words) |*word| word.* = random.int(u64);
}

fn runCase(ctx1: *Ctx, ctx_threads: *Ctx, case: Case) !void {
    var prng = std.Random.DefaultPrng.init(case.seed);
    const random = prng.random();
    const shape = case.shape;
    const dims: pack_mod.Dims = .{ .out_c = shape.out_c, .kernel_h = shape.kernel_h, .kernel_w = shape.kernel_w, .in_c = shape.in_c };
    const words = dims.words();

    // Input with garbage in the channel tail: every variant must ignore it.
    const input = try allocator.alloc(u64, @intCast(shape.inPixels() * words));
    defer allocator.free(input);
    fillRandom(random, input);

    const abi_weights = try allocator.alloc(u64, @intCast(dims.abiWords()));
    defer allocator.free(abi_weights);
    fillRandom(random, abi_weights);
    if (shape.in_c % 64 != 0) {
        const mask = (@as(u64, 1) << @intCast(shape.in_c % 64)) - 1;
        var i: usize = words - 1;
        while (i < abi_weights.len) : (i += words) abi_weights[i] &= mask;
    }
    const packed_words = try allocator.alloc(u64, @intCast(dims.packedWords()));
    defer allocator.free(packed_words);
    try pack_mod.pack(ctx1, dims, abi_weights, packed_words);
    const view = pack_mod.Packed.view(dims, packed_words);

    const n = shape.out_c;
    const channel = try allocator.alloc(u32, 4 * n);
    defer allocator.free(channel);
    const k_bits: i32 = @intCast(dims.taps() * shape.in_c);
    for (0..n) |o| {
        switch (case.kind) {
            .binary => {
                channel[o] = @bitCast(random.intRangeAtMost(i32, -k_bits, k_bits));
                channel[n + o] = random.uintLessThan(u32, 2);
            },
            .float, .int8 => {
                channel[o] = @bitCast((random.float(f32) - 0.5) * 8 / @as(f32, @floatFromInt(k_bits)));
                channel[n + o] = @bitCast((random.float(f32) - 0.5) * 6);
            },
            .join => {
                channel[o] = @bitCast((random.float(f32) - 0.5) * 16 / @as(f32, @floatFromInt(k_bits)));
                channel[n + o] = @bitCast((random.float(f32) - 0.5) * 4);
                channel[2 * n + o] = @bitCast(random.intRangeAtMost(i32, -8, 8));
                channel[3 * n + o] = random.uintLessThan(u32, 2);
            },
            .int32 => {},
        }
    }
    const pixels = shape.outPixels();
    const residual = try allocator.alloc(i8, @intCast(pixels * n));
    defer allocator.free(residual);
    for (residual) |*r| r.* = random.intRangeAtMost(i8, -8, 7);
    const bytes: u32 = @intCast(contract.outputBytes(case.kind, pixels, n));
    const qmin: i32 = if (case.kind == .join) -8 else -128;
    const qmax: i32 = if (case.kind == .join) 7 else 127;
    const channel_len: u32 = @intCast(contract.channelParams(case.kind, n));

    const expected = try allocator.alignedAlloc(u8, .@"64", bytes);
    defer allocator.free(expected);
    const actual = try allocator.alignedAlloc(u8, .@"64", bytes);
    defer allocator.free(actual);
    @memset(expected, 0x5a);
    const reference_transform = try Transform.init(ctx1, @intFromEnum(case.kind), n, pixels, channel.ptr, channel_len, qmin, qmax, residual.ptr, @intCast(residual.len), expected.ptr, bytes);
    reference.conv2d(shape, case.pad, input, view, reference_transform);

    inline for (variants) |config| {
        for ([_]*Ctx{ ctx1, ctx_threads }) |ctx| {
            @memset(actual, 0xa5);
            const transform = try Transform.init(ctx, @intFromEnum(case.kind), n, pixels, channel.ptr, channel_len, qmin, qmax, residual.ptr, @intCast(residual.len), actual.ptr, bytes);
            try gemm.conv2d(config, ctx, shape, case.pad, input, view, transform);
            if (std.mem.indexOfDiff(u8, expected, actual)) |at| {
                std.debug.print(
                    "bconv variant {s} ({d} threads) differs from the reference at output byte {d}: {x} != {x}\n  shape {any}\n  pad {s} transform {s} seed {d}\n",
                    .{ config.name(), ctx.threads, at, actual[at], expected[at], shape, @tagName(case.pad), @tagName(case.kind), case.seed },
                );
                return error.TestUnexpectedResult;
            }
        }
    }
}

test "bconv2d variants match the reference over channels, kernels, strides, pads and transforms" {
    const ctx1 = try Ctx.create(allocator, 1, 0);
    defer ctx1.destroy();
    const ctx3 = try Ctx.create(allocator, 3, 0);
    defer ctx3.destroy();
    const in_channels = [_]u32{ 1, 63, 64, 65, 127, 200, 512 };
    const out_channels = [_]u32{ 1, 8, 13, 64, 65, 24 };
    const kernels = [_][2]u32{ .{ 1, 1 }, .{ 3, 3 }, .{ 3, 3 }, .{ 2, 3 }, .{ 5, 5 } };
    var seed: u64 = 1;
    for (in_channels, 0..) |in_c, ci| {
        for (kernels, 0..) |kernel, ki| {
            for ([_]u32{ 1, 2 }) |stride| {
                const kind: contract.Kind = @enumFromInt((ci + ki + stride) % 5);
                for ([_]contract.Pad{ .plus_one, .minus_one, .zero }) |pad| {
                    seed += 1;
                    const side = 1 + @as(u32, @intCast((seed * 7) % 9));
                    const pad_lo = if (kernel[0] > 1) kernel[0] / 2 else 0;
                    const pad_hi = if (kernel[0] > 1) (kernel[0] - 1) / 2 + @as(u32, @intCast(seed % 2)) else 0;
                    const shape: Window2d = .{
                        .batch = 1 + @as(u32, @intCast(seed % 2)),
                        .in_h = side + kernel[0],
                        .in_w = side + 2,
                        .in_c = in_c,
                        .out_c = out_channels[(ci + ki) % out_channels.len],
                        .kernel_h = kernel[0],
                        .kernel_w = kernel[1],
                        .stride_h = stride,
                        .stride_w = stride,
                        .pad_top = pad_lo,
                        .pad_bottom = @min(pad_hi, kernel[0] - 1),
                        .pad_left = if (kernel[1] > 1) kernel[1] / 2 else 0,
                        .pad_right = if (kernel[1] > 1) (kernel[1] - 1) / 2 else 0,
                    };
                    try runCase(ctx1, ctx3, .{ .shape = shape, .pad = pad, .kind = kind, .seed = seed });
                }
            }
        }
    }
}

test "bconv2d covers every transform on a 3x3 layer with zero padding and a 1x1 sized input" {
    const ctx1 = try Ctx.create(allocator, 1, 0);
    defer ctx1.destroy();
    const ctx2 = try Ctx.create(allocator, 2, 0);
    defer ctx2.destroy();
    for ([_]u32{ 1, 5 }) |side| {
        for ([_]contract.Kind{ .binary, .int32, .float, .int8, .join }, 0..) |kind, i| {
            const shape: Window2d = .{ .batch = 1, .in_h = side, .in_w = side, .in_c = 65, .out_c = 17, .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1 };
            try runCase(ctx1, ctx2, .{ .shape = shape, .pad = .zero, .kind = kind, .seed = 1000 + i + side });
        }
    }
}

test "bconv2d with a 1x1 direct path and many pixels splits work across threads identically" {
    const ctx1 = try Ctx.create(allocator, 1, 0);
    defer ctx1.destroy();
    const ctx4 = try Ctx.create(allocator, 4, 0);
    defer ctx4.destroy();
    const shape: Window2d = .{ .batch = 1, .in_h = 23, .in_w = 17, .in_c = 128, .out_c = 72, .kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1, .pad_top = 0, .pad_bottom = 0, .pad_left = 0, .pad_right = 0 };
    try runCase(ctx1, ctx4, .{ .shape = shape, .pad = .plus_one, .kind = .binary, .seed = 77 });
    const wide: Window2d = .{ .batch = 1, .in_h = 7, .in_w = 7, .in_c = 512, .out_c = 512, .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1 };
    try runCase(ctx1, ctx4, .{ .shape = wide, .pad = .plus_one, .kind = .int32, .seed = 78 });
}

test "bconv2d refuses bad arguments with a message" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    var shape: Window2d = .{ .batch = 1, .in_h = 4, .in_w = 4, .in_c = 64, .out_c = 8, .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1 };
    var input: [16]u64 = @splat(0);
    var weights: [256]u64 align(8) = @splat(0);
    var output: [16]u64 = undefined;
    const out: bconv.OutputArgs = .{ .kind = 1, .channel = null, .channel_len = 0, .qmin = 0, .qmax = 0, .residual = null, .residual_len = 0, .output = @ptrCast(&output), .output_bytes = 16 * 8 * 4 };
    _ = &out;
    var out_i32: [16 * 8]i32 = undefined;
    const out_ok: bconv.OutputArgs = .{ .kind = 1, .channel = null, .channel_len = 0, .qmin = 0, .qmax = 0, .residual = null, .residual_len = 0, .output = @ptrCast(&out_i32), .output_bytes = 16 * 8 * 4 };
    try bconv.conv2d(ctx, &shape, 0, &input, 16, &weights, 256, out_ok);
    try testing.expectError(error.InvalidArgument, bconv.conv2d(ctx, &shape, 7, &input, 16, &weights, 256, out_ok));
    try testing.expectError(error.BufferTooSmall, bconv.conv2d(ctx, &shape, 0, &input, 15, &weights, 256, out_ok));
    try testing.expectEqualStrings("input holds 15 elements, needs 16", ctx.lastMessage());
    try testing.expectError(error.BufferTooSmall, bconv.conv2d(ctx, &shape, 0, &input, 16, &weights, 10, out_ok));
    try testing.expectError(error.NullPointer, bconv.conv2d(ctx, &shape, 0, null, 16, &weights, 256, out_ok));
    try testing.expectError(error.NullPointer, bconv.conv2d(ctx, null, 0, &input, 16, &weights, 256, out_ok));
    var unaligned_bytes: [17 * 8]u8 align(8) = @splat(0);
    const unaligned: [*]align(1) const u64 = @ptrCast(&unaligned_bytes[1]);
    try testing.expectError(error.InvalidArgument, bconv.conv2d(ctx, &shape, 0, unaligned, 16, &weights, 256, out_ok));
    try testing.expectEqualStrings("input must be 8-byte aligned", ctx.lastMessage());
    var short = out_ok;
    short.output_bytes = 100;
    try testing.expectError(error.BufferTooSmall, bconv.conv2d(ctx, &shape, 0, &input, 16, &weights, 256, short));
    shape.in_c = 0;
    try testing.expectError(error.InvalidArgument, bconv.conv2d(ctx, &shape, 0, &input, 16, &weights, 256, out_ok));
    try testing.expectError(error.InvalidArgument, bconv.dense(ctx, 0, 64, 8, &input, 16, &weights, 256, out_ok));
    try testing.expectEqual(@as(u32, 0), bconv.packedWords(0, 3, 3, 64));
}
