//! Output transforms of binary convolutions and dense layers (see `contract.zig`): the
//! per-channel step that turns an accumulator into bits, integers or floats. Shared by the
//! bconv, bdense and codebook kernels. `storeScalar` is the reference; `storeBlock` does 8
//! channels at once and must give the same bytes.

const std = @import("std");
const contract = @import("contract.zig");
const status = @import("../status.zig");
const shape = @import("../shape.zig");
const Ctx = @import("../ctx.zig").Ctx;

pub const Kind = contract.Kind;
pub const block = contract.block;

pub const I32x8 = @Vector(block, i32);
const F32x8 = @Vector(block, f32);

/// Adding and subtracting 1.5 * 2^23 rounds an f32 below 2^22 in magnitude to the nearest
/// integer, ties to even — the rounding ONNX Runtime's requantization uses.
const round_magic: f32 = 12582912.0;

fn roundEven(x: f32) f32 {
    return (x + round_magic) - round_magic;
}

fn roundEvenV(x: F32x8) F32x8 {
    const magic: F32x8 = @splat(round_magic);
    return (x + magic) - magic;
}

/// A validated output transform bound to its parameter and output buffers.
pub const Transform = struct {
    kind: Kind,
    out_c: u32,
    /// Output words per pixel for the binary kinds.
    out_words: u32,
    pixels: u64,
    threshold: []const i32 = &.{},
    flip: []const i32 = &.{},
    mul: []const f32 = &.{},
    bias: []const f32 = &.{},
    qmin: i32,
    qmax: i32,
    residual: []const i8 = &.{},
    output: []u8,

    /// Validates the transform kind, parameter buffer (`channel_len` 4-byte values), residual
    /// and output sizes for `pixels` output pixels of `out_c` channels.
    pub fn init(
        ctx: *Ctx,
        kind_raw: u32,
        out_c: u32,
        pixels: u64,
        channel: ?[*]const u32,
        channel_len: u32,
        qmin: i32,
        qmax: i32,
        residual: ?[*]const i8,
        residual_len: u32,
        output: ?[*]u8,
        output_bytes: u32,
    ) status.Error!Transform {
        const kind = std.meta.intToEnum(Kind, kind_raw) catch
            return ctx.fail(error.InvalidArgument, "transform kind {d} is unknown (0 binary, 1 int32, 2 float, 3 int8, 4 join)", .{kind_raw});
        const params = try shape.slice(ctx, u32, channel, channel_len, contract.channelParams(kind, out_c), "channel parameters");
        const out = try shape.sliceMut(ctx, u8, output, output_bytes, contract.outputBytes(kind, pixels, out_c), "output");
        const alignment: usize = switch (kind) {
            .binary, .join => 8,
            .int32, .float => 4,
            .int8 => 1,
        };
        if (out.len > 0 and @intFromPtr(out.ptr) % alignment != 0)
            return ctx.fail(error.InvalidArgument, "output address is not {d}-byte aligned", .{alignment});
        var self: Transform = .{
            .kind = kind,
            .out_c = out_c,
            .out_words = (out_c + 63) / 64,
            .pixels = pixels,
            .qmin = qmin,
            .qmax = qmax,
            .output = out,
        };
        const n = out_c;
        switch (kind) {
            .binary => {
                self.threshold = @ptrCast(params[0..n]);
                self.flip = @ptrCast(params[n .. 2 * n]);
            },
            .int32 => {},
            .float, .int8 => {
                self.mul = @ptrCast(params[0..n]);
                self.bias = @ptrCast(params[n .. 2 * n]);
            },
            .join => {
                self.mul = @ptrCast(params[0..n]);
                self.bias = @ptrCast(params[n .. 2 * n]);
                self.threshold = @ptrCast(params[2 * n .. 3 * n]);
                self.flip = @ptrCast(params[3 * n .. 4 * n]);
                self.residual = try shape.slice(ctx, i8, residual, residual_len, pixels * out_c, "residual");
            },
        }
        if (kind == .int8 or kind == .join) {
            if (qmin > qmax or qmin < -128 or qmax > 127)
                return ctx.fail(error.InvalidArgument, "qmin {d} / qmax {d} must satisfy -128 <= qmin <= qmax <= 127", .{ qmin, qmax });
        }
        for (self.flip, 0..) |flip, o| {
            if (flip != 0 and flip != 1) return ctx.fail(error.InvalidArgument, "flip[{d}] is {d}, must be 0 or 1", .{ o, flip });
        }
        for (self.mul, 0..) |mul, o| {
            if (!std.math.isFinite(mul) or !std.math.isFinite(self.bias[o]))
                return ctx.fail(error.InvalidArgument, "mul/bias of channel {d} is not finite", .{o});
        }
        return self;
    }

    /// Clears the binary output words of pixels [first, first + count) before bits are ORed in
    /// by `storeScalar`.
    pub fn clearBits(self: Transform, first: u64, count: u64) void {
        if (self.kind != .binary and self.kind != .join) return;
        const words = self.wordsOut();
        const start: usize = @intCast(first * self.out_words);
        @memset(words[start .. start + @as(usize, @intCast(count * self.out_words))], 0);
    }

    fn wordsOut(self: Transform) []u64 {
        return @alignCast(std.mem.bytesAsSlice(u64, self.output));
    }

    fn quantize(self: Transform, acc: i32, o: usize) i32 {
        const real = @as(f32, @floatFromInt(acc)) * self.mul[o] + self.bias[o];
        const clamped = std.math.clamp(real, @as(f32, @floatFromInt(self.qmin)), @as(f32, @floatFromInt(self.qmax)));
        return @intFromFloat(roundEven(clamped));
    }

    fn bit(self: Transform, value: i32, o: usize) bool {
        return if (self.flip[o] != 0) value > self.threshold[o] else value < self.threshold[o];
    }

    /// Reference: the transform of one accumulator. Binary kinds OR their bit into cleared
    /// words (see `clearBits`).
    pub fn storeScalar(self: Transform, pixel: u64, o: u32, acc: i32) void {
        std.debug.assert(pixel < self.pixels and o < self.out_c);
        const index: usize = @intCast(pixel * self.out_c + o);
        switch (self.kind) {
            .binary, .join => {
                const value = if (self.kind == .join) blk: {
                    const sum = self.quantize(acc, o) + self.residual[index];
                    break :blk std.math.clamp(sum, self.qmin, self.qmax);
                } else acc;
                if (self.bit(value, o)) {
                    const word: usize = @intCast(pixel * self.out_words + o / 64);
                    self.wordsOut()[word] |= @as(u64, 1) << @intCast(o % 64);
                }
            },
            .int32 => std.mem.bytesAsSlice(i32, self.output)[index] = acc,
            .float => std.mem.bytesAsSlice(f32, self.output)[index] =
                @as(f32, @floatFromInt(acc)) * self.mul[o] + self.bias[o],
            .int8 => std.mem.bytesAsSlice(i8, self.output)[index] = @intCast(self.quantize(acc, o)),
        }
    }

    fn load(comptime T: type, values: []const T, o: u32, valid: u32) @Vector(block, T) {
        if (valid == block) return values[o..][0..block].*;
        var padded: [block]T = @splat(0);
        @memcpy(padded[0..valid], values[o .. o + valid]);
        return padded;
    }

    /// The transform of 8 accumulators, channels [o, o + 8) of `pixel` (o a multiple of 8);
    /// channels at or past `out_c` are computed but not stored (binary: stored as 0 bits).
    /// Writes every byte it owns, so the output needs no clearing.
    pub fn storeBlock(self: Transform, pixel: u64, o: u32, acc: I32x8) void {
        switch (self.kind) {
            inline else => |kind| self.storeBlockOf(kind, pixel, o, acc),
        }
    }

    /// `storeBlock` for a kind known at compile time: kernels dispatch on the kind once per
    /// tile instead of once per block.
    pub inline fn storeBlockOf(self: Transform, comptime kind: Kind, pixel: u64, o: u32, acc: I32x8) void {
        std.debug.assert(self.kind == kind);
        std.debug.assert(pixel < self.pixels and o < self.out_c and o % block == 0);
        const valid = @min(block, self.out_c - o);
        const index: usize = @intCast(pixel * self.out_c + o);
        switch (kind) {
            .binary, .join => {
                const value = if (kind == .join) blk: {
                    const res = loadResidual(self.residual[index..], valid);
                    const sum = self.quantizeBlock(acc, o, valid) + res;
                    break :blk @min(@max(sum, @as(I32x8, @splat(self.qmin))), @as(I32x8, @splat(self.qmax)));
                } else acc;
                const threshold = load(i32, self.threshold, o, valid);
                const flip = load(i32, self.flip, o, valid) != @as(I32x8, @splat(0));
                const bits: @Vector(block, bool) = @select(bool, flip, value > threshold, value < threshold);
                var byte: u8 = @bitCast(bits);
                if (valid < block) byte &= @as(u8, 0xff) >> @intCast(block - valid);
                const byte_index: usize = @intCast(pixel * self.out_words * 8 + o / 8);
                self.output[byte_index] = byte;
                // The last block also owns the padding bytes of its word: channel tail = 0 bits.
                if (o + block >= self.out_c) {
                    const word_end: usize = @intCast((pixel + 1) * self.out_words * 8);
                    for (self.output[byte_index + 1 .. word_end]) |*pad| pad.* = 0;
                }
            },
            .int32 => storeValues(i32, self.output, index, acc, valid),
            .float => {
                const real = @as(F32x8, @floatFromInt(acc)) * load(f32, self.mul, o, valid) + load(f32, self.bias, o, valid);
                storeValues(f32, self.output, index, real, valid);
            },
            .int8 => storeValues(i8, self.output, index, @as(@Vector(block, i8), @intCast(self.quantizeBlock(acc, o, valid))), valid),
        }
    }

    fn quantizeBlock(self: Transform, acc: I32x8, o: u32, valid: u32) I32x8 {
        const real = @as(F32x8, @floatFromInt(acc)) * load(f32, self.mul, o, valid) + load(f32, self.bias, o, valid);
        const lo: F32x8 = @splat(@floatFromInt(self.qmin));
        const hi: F32x8 = @splat(@floatFromInt(self.qmax));
        return @intFromFloat(roundEvenV(@min(@max(real, lo), hi)));
    }
};

fn loadResidual(values: []const i8, valid: u32) I32x8 {
    var padded: [block]i8 = @splat(0);
    @memcpy(padded[0..valid], values[0..valid]);
    const narrow: @Vector(block, i8) = padded;
    return @intCast(narrow);
}

fn storeValues(comptime T: type, output: []u8, index: usize, values: @Vector(block, T), valid: u32) void {
    const out: []align(1) T = std.mem.bytesAsSlice(T, output);
    if (valid == block) {
        out[index..][0..block].* = values;
    } else {
        const array: [block]T = values;
        @memcpy(out[index .. index + valid], array[0..valid]);
    }
}

test "storeBlock writes the same bytes as storeScalar for every kind" {
    const ctx = try Ctx.create(std.testing.allocator, 1, 0);
    defer ctx.destroy();
    var prng = std.Random.DefaultPrng.init(7);
    const random = prng.random();
    for ([_]u32{ 1, 7, 8, 13, 64, 65, 100 }) |out_c| {
        inline for (.{ Kind.binary, Kind.int32, Kind.float, Kind.int8, Kind.join }) |kind| {
            const pixels: u64 = 3;
            var channel: [4 * 100]u32 = undefined;
            const n = out_c;
            for (0..out_c) |o| {
                switch (kind) {
                    .binary => {
                        channel[o] = @bitCast(random.intRangeAtMost(i32, -20, 20));
                        channel[n + o] = random.uintLessThan(u32, 2);
                    },
                    .float, .int8 => {
                        channel[o] = @bitCast(random.float(f32) * 0.5 - 0.25);
                        channel[n + o] = @bitCast(random.float(f32) * 4 - 2);
                    },
                    .join => {
                        channel[o] = @bitCast(random.float(f32) * 0.5 - 0.25);
                        channel[n + o] = @bitCast(random.float(f32) * 4 - 2);
                        channel[2 * n + o] = @bitCast(random.intRangeAtMost(i32, -8, 8));
                        channel[3 * n + o] = random.uintLessThan(u32, 2);
                    },
                    .int32 => {},
                }
            }
            var residual: [3 * 100]i8 = undefined;
            for (&residual) |*r| r.* = random.intRangeAtMost(i8, -8, 7);
            var accs: [3 * 104]i32 = undefined;
            for (&accs) |*a| a.* = random.intRangeAtMost(i32, -40, 40);
            var out_scalar: [3 * 100 * 4]u8 align(8) = @splat(0xaa);
            var out_block: [3 * 100 * 4]u8 align(8) = @splat(0xaa);
            const bytes: u32 = @intCast(contract.outputBytes(kind, pixels, out_c));
            const qmin: i32 = if (kind == .join) -8 else -128;
            const qmax: i32 = if (kind == .join) 7 else 127;
            const len: u32 = @intCast(contract.channelParams(kind, out_c));
            const scalar = try Transform.init(ctx, @intFromEnum(kind), out_c, pixels, &channel, len, qmin, qmax, &residual, 300, &out_scalar, bytes);
            const vector = try Transform.init(ctx, @intFromEnum(kind), out_c, pixels, &channel, len, qmin, qmax, &residual, 300, &out_block, bytes);
            scalar.clearBits(0, pixels);
            for (0..pixels) |p| {
                for (0..out_c) |o| scalar.storeScalar(p, @intCast(o), accs[p * 104 + o]);
                var o: u32 = 0;
                while (o < out_c) : (o += block) vector.storeBlock(p, o, accs[p * 104 + o ..][0..block].*);
            }
            std.testing.expectEqualSlices(u8, out_scalar[0..bytes], out_block[0..bytes]) catch |err| {
                std.debug.print("transform {s} out_c {d} differs\n", .{ @tagName(kind), out_c });
                return err;
            };
        }
    }
}

test "init refuses unknown kinds, short buffers, bad flips and bad clamps" {
    const ctx = try Ctx.create(std.testing.allocator, 1, 0);
    defer ctx.destroy();
    var channel: [16]u32 = @splat(0);
    var out: [64]u8 align(8) = undefined;
    try std.testing.expectError(error.InvalidArgument, Transform.init(ctx, 9, 8, 1, &channel, 16, 0, 0, null, 0, &out, 64));
    try std.testing.expectError(error.BufferTooSmall, Transform.init(ctx, 0, 8, 1, &channel, 15, 0, 0, null, 0, &out, 64));
    try std.testing.expectError(error.BufferTooSmall, Transform.init(ctx, 1, 8, 2, &channel, 0, 0, 0, null, 0, &out, 63));
    channel[8] = 2;
    try std.testing.expectError(error.InvalidArgument, Transform.init(ctx, 0, 8, 1, &channel, 16, 0, 0, null, 0, &out, 64));
    try std.testing.expectError(error.InvalidArgument, Transform.init(ctx, 3, 8, 1, &channel, 16, 5, 4, null, 0, &out, 64));
    try std.testing.expectError(error.BufferTooSmall, Transform.init(ctx, 4, 4, 1, &channel, 16, -8, 7, null, 0, &out, 64));
    try std.testing.expectEqualStrings("residual holds 0 elements, needs 4", ctx.lastMessage());
}
