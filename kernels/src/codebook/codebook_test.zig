//! The codebook tester: `pack` + the gather kernel (both variants, several thread counts)
//! against `expand` + a direct 3x3 binary conv written here in plain loops over bits, over
//! channel counts, tau, pad modes, strides, paddings, sizes and every output transform;
//! `expand` + the binary conv kernel (`bconv`) must agree too. Bytes must match exactly; a
//! failure prints variant, position, shape and seed.

const std = @import("std");
const codebook = @import("codebook.zig");
const contract = @import("contract.zig");
const gather = @import("gather.zig");
const bconv = @import("../bconv/bconv.zig");
const bconv_contract = @import("../bconv/contract.zig");
const Transform = @import("../bconv/transform.zig").Transform;
const ctx_mod = @import("../ctx.zig");
const Ctx = ctx_mod.Ctx;
const Window2d = @import("../shape.zig").Window2d;

const testing = std.testing;
const allocator = testing.allocator;
const Pad = bconv_contract.Pad;
const Kind = bconv_contract.Kind;

const seed_base: u64 = 0xc0de_b00c;

/// A random layer: distinct codewords (as the paper's training keeps them) and indices.
const Layer = struct {
    tau: u32,
    out_c: u32,
    in_c: u32,
    codebook: []u16,
    indices: []u8,

    fn random(rng: std.Random, tau: u32, out_c: u32, in_c: u32) !Layer {
        const codewords = @as(u32, 1) << @intCast(tau);
        const book = try allocator.alloc(u16, codewords);
        var all: [512]u16 = undefined;
        for (&all, 0..) |*a, i| a.* = @intCast(i);
        rng.shuffle(u16, &all);
        @memcpy(book, all[0..codewords]);
        const indices = try allocator.alloc(u8, @as(usize, out_c) * in_c);
        for (indices) |*index| index.* = @intCast(rng.uintLessThan(u32, codewords));
        return .{ .tau = tau, .out_c = out_c, .in_c = in_c, .codebook = book, .indices = indices };
    }

    fn deinit(self: Layer) void {
        allocator.free(self.codebook);
        allocator.free(self.indices);
    }

    fn expand(self: Layer, ctx: *Ctx) ![]u64 {
        const words = @as(usize, self.out_c) * 9 * ((self.in_c + 63) / 64);
        const weights = try allocator.alloc(u64, words);
        errdefer allocator.free(weights);
        try codebook.expand(ctx, self.tau, self.out_c, self.in_c, self.codebook.ptr, @intCast(self.codebook.len), self.indices.ptr, @intCast(self.indices.len), weights.ptr, @intCast(words));
        return weights;
    }

    fn pack(self: Layer, ctx: *Ctx) ![]u64 {
        const words = codebook.packedWords(self.tau, self.out_c, self.in_c);
        const packed_words = try allocator.alloc(u64, words);
        errdefer allocator.free(packed_words);
        try codebook.pack(ctx, self.tau, self.out_c, self.in_c, self.codebook.ptr, @intCast(self.codebook.len), self.indices.ptr, @intCast(self.indices.len), packed_words.ptr, words);
        return packed_words;
    }
};

/// The direct binary 3x3 conv on expanded weights: every tap, every channel, one bit at a
/// time, x * w in {-1, 0, +1}.
fn directConv(shape: Window2d, pad: Pad, input: []const u64, weights: []const u64, transform: Transform) void {
    const words = (shape.in_c + 63) / 64;
    transform.clearBits(0, shape.outPixels());
    var pixel: u64 = 0;
    for (0..shape.batch) |n| for (0..shape.outH()) |oy| for (0..shape.outW()) |ox| {
        for (0..shape.out_c) |o| {
            var acc: i32 = 0;
            for (0..3) |ky| for (0..3) |kx| for (0..shape.in_c) |c| {
                const iy = @as(i64, @intCast(oy * shape.stride_h + ky)) - shape.pad_top;
                const ix = @as(i64, @intCast(ox * shape.stride_w + kx)) - shape.pad_left;
                const inside = iy >= 0 and iy < shape.in_h and ix >= 0 and ix < shape.in_w;
                const x: i32 = if (inside) blk: {
                    const word = input[((n * shape.in_h + @as(usize, @intCast(iy))) * shape.in_w + @as(usize, @intCast(ix))) * words + c / 64];
                    break :blk if ((word >> @intCast(c % 64)) & 1 == 1) -1 else 1;
                } else switch (pad) {
                    .plus_one => 1,
                    .minus_one => -1,
                    .zero => 0,
                };
                const weight_word = weights[(o * 9 + ky * 3 + kx) * words + c / 64];
                const w: i32 = if ((weight_word >> @intCast(c % 64)) & 1 == 1) -1 else 1;
                acc += x * w;
            };
            transform.storeScalar(pixel, @intCast(o), acc);
        }
        pixel += 1;
    };
}

/// Per-channel parameters, residual and the output buffer of one transform kind.
const Output = struct {
    kind: Kind,
    channel: []u32,
    residual: []i8,
    bytes: []align(8) u8,
    qmin: i32,
    qmax: i32,

    fn random(rng: std.Random, kind: Kind, out_c: u32, pixels: u64, in_c: u32) !Output {
        const channel = try allocator.alloc(u32, @intCast(@max(1, bconv_contract.channelParams(kind, out_c))));
        const n = out_c;
        const spread: i32 = @intCast(@min(9 * in_c, 200));
        for (0..out_c) |o| {
            switch (kind) {
                .binary => {
                    channel[o] = @bitCast(rng.intRangeAtMost(i32, -spread, spread));
                    channel[n + o] = rng.uintLessThan(u32, 2);
                },
                .int32 => {},
                .float, .int8, .join => {
                    channel[o] = @bitCast(@as(f32, @floatFromInt(rng.intRangeAtMost(i32, -64, 64))) / 32.0 / @as(f32, @floatFromInt(@max(1, @divTrunc(spread, 8)))));
                    channel[n + o] = @bitCast(@as(f32, @floatFromInt(rng.intRangeAtMost(i32, -32, 32))) / 8.0);
                    if (kind == .join) {
                        channel[2 * n + o] = @bitCast(rng.intRangeAtMost(i32, -8, 8));
                        channel[3 * n + o] = rng.uintLessThan(u32, 2);
                    }
                },
            }
        }
        const residual = try allocator.alloc(i8, @intCast(@max(1, pixels * out_c)));
        for (residual) |*r| r.* = rng.intRangeAtMost(i8, -8, 7);
        const bytes = try allocator.alignedAlloc(u8, .@"8", @intCast(bconv_contract.outputBytes(kind, pixels, out_c)));
        const join = kind == .join;
        return .{ .kind = kind, .channel = channel, .residual = residual, .bytes = bytes, .qmin = if (join) -8 else -128, .qmax = if (join) 7 else 127 };
    }

    fn deinit(self: Output) void {
        allocator.free(self.channel);
        allocator.free(self.residual);
        allocator.free(self.bytes);
    }

    fn args(self: Output) bconv.OutputArgs {
        return .{ .kind = @intFromEnum(self.kind), .channel = self.channel.ptr, .channel_len = @intCast(self.channel.len), .qmin = self.qmin, .qmax = self.qmax, .residual = self.residual.ptr, .residual_len = @intCast(self.residual.len), .output = self.bytes.ptr, .output_bytes = @intCast(self.bytes.len) };
    }

    fn transform(self: Output, ctx: *Ctx, out_c: u32, pixels: u64) !Transform {
        const a = self.args();
        return Transform.init(ctx, a.kind, out_c, pixels, a.channel, a.channel_len, a.qmin, a.qmax, a.residual, a.residual_len, a.output, a.output_bytes);
    }
};

const Case = struct {
    shape: Window2d,
    pad: Pad,
    tau: u32,
    kind: Kind,
    seed: u64,
};

fn describe(case: Case) void {
    const s = case.shape;
    std.debug.print("(batch {d}, in {d}x{d}x{d}, out_c {d}, stride {d}x{d}, pad t{d} b{d} l{d} r{d}, pad value {s}, tau {d}, kind {s}, seed {x})\n", .{ s.batch, s.in_h, s.in_w, s.in_c, s.out_c, s.stride_h, s.stride_w, s.pad_top, s.pad_bottom, s.pad_left, s.pad_right, @tagName(case.pad), case.tau, @tagName(case.kind), case.seed });
}

const Contexts = struct {
    scalar: *Ctx,
    simd1: *Ctx,
    simd3: *Ctx,

    fn init() !Contexts {
        const scalar = try Ctx.create(allocator, 1, ctx_mod.flag_force_scalar);
        errdefer scalar.destroy();
        const simd1 = try Ctx.create(allocator, 1, 0);
        errdefer simd1.destroy();
        const simd3 = try Ctx.create(allocator, 3, 0);
        return .{ .scalar = scalar, .simd1 = simd1, .simd3 = simd3 };
    }

    fn deinit(self: Contexts) void {
        self.scalar.destroy();
        self.simd1.destroy();
        self.simd3.destroy();
    }
};

/// Runs one case: the direct conv on expanded weights is the expectation; the reference and
/// SIMD gather kernels (1 and 3 threads) must write the same bytes.
fn runCase(contexts: Contexts, case: Case) !void {
    var prng = std.Random.DefaultPrng.init(case.seed);
    const rng = prng.random();
    const shape = case.shape;
    const words = (shape.in_c + 63) / 64;
    const layer = try Layer.random(rng, case.tau, shape.out_c, shape.in_c);
    defer layer.deinit();
    // Garbage in the channel tail of the input: the kernels must ignore it.
    const input = try allocator.alloc(u64, @intCast(shape.inPixels() * words));
    defer allocator.free(input);
    for (input) |*word| word.* = rng.int(u64);

    const weights = try layer.expand(contexts.scalar);
    defer allocator.free(weights);
    const packed_words = try layer.pack(contexts.scalar);
    defer allocator.free(packed_words);

    const pixels = shape.outPixels();
    const expected = try Output.random(rng, case.kind, shape.out_c, pixels, shape.in_c);
    defer expected.deinit();
    @memset(expected.bytes, 0x5a);
    // The parameter buffers of `expected` are shared with every variant's run below.
    directConv(shape, case.pad, input, weights, try expected.transform(contexts.scalar, shape.out_c, pixels));

    const variants = [_]struct { ctx: *Ctx, name: []const u8 }{
        .{ .ctx = contexts.scalar, .name = "reference" },
        .{ .ctx = contexts.simd1, .name = gather.name ++ " 1 thread" },
        .{ .ctx = contexts.simd3, .name = gather.name ++ " 3 threads" },
    };
    for (variants) |variant| {
        const actual = try allocator.alignedAlloc(u8, .@"8", expected.bytes.len);
        defer allocator.free(actual);
        @memset(actual, 0xa5);
        var args = expected.args();
        args.output = actual.ptr;
        try codebook.conv2d(variant.ctx, &shape, @intFromEnum(case.pad), input.ptr, @intCast(input.len), packed_words.ptr, @intCast(packed_words.len), args);
        if (std.mem.indexOfDiff(u8, expected.bytes, actual)) |at| {
            const per_pixel = expected.bytes.len / pixels;
            std.debug.print("codebook conv {s} differs at byte {d} (pixel {d}, byte {d} of it): {x} vs {x} ", .{ variant.name, at, at / per_pixel, at % per_pixel, actual[at], expected.bytes[at] });
            describe(case);
            return error.TestExpectedEqual;
        }
    }
}

fn window(in_h: u32, in_w: u32, in_c: u32, out_c: u32, stride: u32, pads: [4]u32) Window2d {
    return .{ .batch = 1, .in_h = in_h, .in_w = in_w, .in_c = in_c, .out_c = out_c, .kernel_h = 3, .kernel_w = 3, .stride_h = stride, .stride_w = stride, .pad_top = pads[0], .pad_bottom = pads[1], .pad_left = pads[2], .pad_right = pads[3] };
}

test "codebook gather matches expand + direct conv over channels, tau, pads and strides" {
    const contexts = try Contexts.init();
    defer contexts.deinit();
    var seed = seed_base;
    const kinds = [_]Kind{ .int32, .binary, .float, .int8, .join };
    for ([_]u32{ 1, 63, 64, 65, 127, 200 }) |in_c| {
        for ([_]u32{ 4, 5, 6 }) |tau| {
            for ([_]Pad{ .plus_one, .minus_one, .zero }) |pad| {
                for ([_]u32{ 1, 2 }) |stride| {
                    seed += 1;
                    const out_c: u32 = @intCast((seed * 37) % 70 + 1);
                    const shape = window(5, 6, in_c, out_c, stride, .{ 1, 1, 1, 1 });
                    try runCase(contexts, .{ .shape = shape, .pad = pad, .tau = tau, .kind = kinds[seed % kinds.len], .seed = seed });
                }
            }
        }
    }
}

test "codebook gather matches on every output transform and output channel tail" {
    const contexts = try Contexts.init();
    defer contexts.deinit();
    var seed = seed_base + 1000;
    for ([_]Kind{ .binary, .int32, .float, .int8, .join }) |kind| {
        for ([_]u32{ 1, 8, 63, 64, 65, 130 }) |out_c| {
            seed += 1;
            const shape = window(4, 5, 65, out_c, 1, .{ 1, 1, 1, 1 });
            try runCase(contexts, .{ .shape = shape, .pad = .zero, .tau = 5, .kind = kind, .seed = seed });
        }
    }
}

test "codebook gather matches on odd sizes, paddings, batches and every tau" {
    const contexts = try Contexts.init();
    defer contexts.deinit();
    var seed = seed_base + 2000;
    const geometries = [_]struct { h: u32, w: u32, stride: u32, pads: [4]u32, batch: u32 }{
        .{ .h = 1, .w = 1, .stride = 1, .pads = .{ 1, 1, 1, 1 }, .batch = 1 },
        .{ .h = 3, .w = 3, .stride = 1, .pads = .{ 0, 0, 0, 0 }, .batch = 2 },
        .{ .h = 7, .w = 2, .stride = 2, .pads = .{ 2, 0, 0, 2 }, .batch = 1 },
        .{ .h = 2, .w = 9, .stride = 3, .pads = .{ 1, 2, 2, 1 }, .batch = 3 },
        .{ .h = 9, .w = 8, .stride = 2, .pads = .{ 0, 1, 1, 0 }, .batch = 1 },
        .{ .h = 1, .w = 5, .stride = 1, .pads = .{ 2, 2, 1, 1 }, .batch = 1 },
    };
    for (1..9) |tau| {
        for (geometries) |g| {
            for ([_]Pad{ .plus_one, .minus_one, .zero }) |pad| {
                seed += 1;
                var shape = window(g.h, g.w, @intCast(seed % 130 + 1), @intCast((seed * 7) % 75 + 1), g.stride, g.pads);
                shape.batch = g.batch;
                try runCase(contexts, .{ .shape = shape, .pad = pad, .tau = @intCast(tau), .kind = .int32, .seed = seed });
            }
        }
    }
}

test "codebook expand feeds the binary conv kernel to the same outputs" {
    const contexts = try Contexts.init();
    defer contexts.deinit();
    var seed = seed_base + 3000;
    for ([_]u32{ 1, 64, 65, 200 }) |in_c| {
        for ([_]Pad{ .plus_one, .minus_one, .zero }) |pad| {
            seed += 1;
            var prng = std.Random.DefaultPrng.init(seed);
            const rng = prng.random();
            const shape = window(6, 5, in_c, 33, 1 + @as(u32, @intCast(seed % 2)), .{ 1, 1, 1, 1 });
            const layer = try Layer.random(rng, 5, shape.out_c, shape.in_c);
            defer layer.deinit();
            const input = try allocator.alloc(u64, @intCast(shape.inPixels() * ((in_c + 63) / 64)));
            defer allocator.free(input);
            for (input) |*word| word.* = rng.int(u64);
            const weights = try layer.expand(contexts.scalar);
            defer allocator.free(weights);
            const blocked = try allocator.alloc(u64, bconv.packedWords(shape.out_c, 3, 3, in_c));
            defer allocator.free(blocked);
            try bconv.packWeights(contexts.simd1, shape.out_c, 3, 3, in_c, weights.ptr, @intCast(weights.len), blocked.ptr, @intCast(blocked.len));
            const packed_words = try layer.pack(contexts.scalar);
            defer allocator.free(packed_words);
            const via_bconv = try Output.random(rng, .int32, shape.out_c, shape.outPixels(), in_c);
            defer via_bconv.deinit();
            const via_gather = try allocator.alignedAlloc(u8, .@"8", via_bconv.bytes.len);
            defer allocator.free(via_gather);
            try bconv.conv2d(contexts.simd3, &shape, @intFromEnum(pad), input.ptr, @intCast(input.len), blocked.ptr, @intCast(blocked.len), via_bconv.args());
            var args = via_bconv.args();
            args.output = via_gather.ptr;
            try codebook.conv2d(contexts.simd3, &shape, @intFromEnum(pad), input.ptr, @intCast(input.len), packed_words.ptr, @intCast(packed_words.len), args);
            testing.expectEqualSlices(u8, via_bconv.bytes, via_gather) catch |err| {
                describe(.{ .shape = shape, .pad = pad, .tau = 5, .kind = .int32, .seed = seed });
                return err;
            };
        }
    }
}

test "codebook expand sets bit t of codeword indices[o][c] at channel c of tap t" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    // tau 1: codewords 0b000000001 (tap 0 is -1) and 0b100000010 (taps 1 and 8).
    const book = [_]u16{ 0b1, 0b1_0000_0010 };
    // 2 outputs x 66 inputs: output 0 uses codeword 1 on channel 65 only, output 1 codeword 1
    // everywhere.
    var indices: [2 * 66]u8 = @splat(0);
    indices[65] = 1;
    for (indices[66..]) |*i| i.* = 1;
    var weights: [2 * 9 * 2]u64 = undefined;
    try codebook.expand(ctx, 1, 2, 66, &book, 2, &indices, indices.len, &weights, weights.len);
    const all: u64 = ~@as(u64, 0);
    // Output 0: tap 0 holds channels 0..64 (codeword 0), tap 1 and 8 hold channel 65.
    try testing.expectEqualSlices(u64, &.{ all, 0b01, 0, 0b10 }, weights[0..4]);
    try testing.expectEqual(@as(u64, 0), weights[2 * 2]);
    try testing.expectEqualSlices(u64, &.{ 0, 0b10 }, weights[8 * 2 ..][0..2]);
    // Output 1: taps 1 and 8 hold all 66 channels, tail bits stay 0.
    try testing.expectEqualSlices(u64, &.{ 0, 0 }, weights[18..20]);
    try testing.expectEqualSlices(u64, &.{ all, 0b11 }, weights[20..22]);
    try testing.expectEqualSlices(u64, &.{ all, 0b11 }, weights[18 + 16 ..][0..2]);
}

test "codebook refuses bad tau, indices, codewords, shapes and short buffers" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    var book: [64]u16 = undefined;
    for (&book, 0..) |*b, i| b.* = @intCast(i * 7);
    var indices: [4 * 8]u8 = @splat(3);
    var weights: [4 * 9]u64 = undefined;
    const e = codebook.expand;
    try testing.expectError(error.InvalidArgument, e(ctx, 0, 4, 8, &book, 64, &indices, 32, &weights, 36));
    try testing.expectEqualStrings("tau is 0, must be 1..8", ctx.lastMessage());
    try testing.expectError(error.InvalidArgument, e(ctx, 9, 4, 8, &book, 64, &indices, 32, &weights, 36));
    try testing.expectError(error.BufferTooSmall, e(ctx, 6, 4, 8, &book, 63, &indices, 32, &weights, 36));
    try testing.expectError(error.BufferTooSmall, e(ctx, 4, 4, 8, &book, 16, &indices, 31, &weights, 36));
    try testing.expectError(error.BufferTooSmall, e(ctx, 4, 4, 8, &book, 16, &indices, 32, &weights, 35));
    try testing.expectError(error.NullPointer, e(ctx, 4, 4, 8, null, 16, &indices, 32, &weights, 36));
    try testing.expectError(error.InvalidArgument, e(ctx, 4, 0, 8, &book, 16, &indices, 32, &weights, 36));
    try testing.expectError(error.LimitExceeded, e(ctx, 4, 4, 16385, &book, 16, &indices, 32, &weights, 36));
    indices[13] = 16;
    try testing.expectError(error.InvalidArgument, e(ctx, 4, 4, 8, &book, 16, &indices, 32, &weights, 36));
    try testing.expectEqualStrings("index of kernel (1, 5) is 16, must be below 2^tau = 16", ctx.lastMessage());
    try e(ctx, 5, 4, 8, &book, 32, &indices, 32, &weights, 36);
    book[74 / 7] = 512;
    try testing.expectError(error.InvalidArgument, e(ctx, 5, 4, 8, &book, 32, &indices, 32, &weights, 36));
    try testing.expectEqualStrings("codeword 10 is 512, must be below 512 (9 bits)", ctx.lastMessage());
    book[10] = 70;

    try testing.expectEqual(@as(u32, 0), codebook.packedWords(0, 4, 8));
    try testing.expectEqual(@as(u32, 0), codebook.packedWords(9, 4, 8));
    try testing.expectEqual(@as(u32, 0), codebook.packedWords(4, 0, 8));
    const words = codebook.packedWords(5, 4, 8);
    const packed_words = try allocator.alloc(u64, words);
    defer allocator.free(packed_words);
    try testing.expectError(error.BufferTooSmall, codebook.pack(ctx, 5, 4, 8, &book, 32, &indices, 32, packed_words.ptr, words - 1));
    try codebook.pack(ctx, 5, 4, 8, &book, 32, &indices, 32, packed_words.ptr, words);

    var shape = window(4, 4, 8, 4, 1, .{ 1, 1, 1, 1 });
    var input: [16]u64 = @splat(0);
    var out: [16 * 4]i32 = undefined;
    const out_args: bconv.OutputArgs = .{ .kind = 1, .channel = null, .channel_len = 0, .qmin = 0, .qmax = 0, .residual = null, .residual_len = 0, .output = @ptrCast(&out), .output_bytes = @sizeOf(@TypeOf(out)) };
    const c = codebook.conv2d;
    try c(ctx, &shape, 0, &input, 16, packed_words.ptr, words, out_args);
    try testing.expectError(error.InvalidArgument, c(ctx, &shape, 3, &input, 16, packed_words.ptr, words, out_args));
    try testing.expectError(error.BufferTooSmall, c(ctx, &shape, 0, &input, 15, packed_words.ptr, words, out_args));
    try testing.expectError(error.BufferTooSmall, c(ctx, &shape, 0, &input, 16, packed_words.ptr, words - 1, out_args));
    var short_out = out_args;
    short_out.output_bytes -= 1;
    try testing.expectError(error.BufferTooSmall, c(ctx, &shape, 0, &input, 16, packed_words.ptr, words, short_out));
    try testing.expectError(error.NullPointer, c(ctx, null, 0, &input, 16, packed_words.ptr, words, out_args));
    shape.in_c = 9;
    try testing.expectError(error.ShapeMismatch, c(ctx, &shape, 0, &input, 16, packed_words.ptr, words, out_args));
    try testing.expectEqualStrings("packed layer is 4x8 (out_c x in_c), shape is 4x9", ctx.lastMessage());
    shape.in_c = 8;
    shape.kernel_w = 1;
    shape.pad_left = 0;
    shape.pad_right = 0;
    try testing.expectError(error.InvalidArgument, c(ctx, &shape, 0, &input, 16, packed_words.ptr, words, out_args));
    try testing.expectEqualStrings("codebook conv kernel is 3x1, must be 3x3", ctx.lastMessage());
    shape.kernel_w = 3;
    packed_words[0] ^= 1;
    try testing.expectError(error.InvalidArgument, c(ctx, &shape, 0, &input, 16, packed_words.ptr, words, out_args));
}
