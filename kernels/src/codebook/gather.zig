//! The SIMD variant `64x<width>__<isa>` of the codebook convolution: 64 output channels per
//! step, gathered `width` bytes at a time (`lookup.zig`), generated from one generic
//! function per tau.
//!
//! Per output pixel, each input channel's 9-bit patch is built once (64 channels at a time:
//! each tap's input word is expanded to one lane bit per channel) and kept in scratch. The
//! patch selects one row of the packed response table: the responses of all 2^tau codewords
//! to that channel's patch. For every block of 64 output channels the kernel then walks the
//! input channels: load the 64 indices of channel c (contiguous in the packed layout), look
//! them up in c's row, add. Responses lie in [-9, 9], so 14 channels are summed in i8 lanes
//! before widening to i32 (14 * 9 = 126).
//!
//! Padding: the table assumes all 9 taps are real. Pad +1 / -1 simply put 0 / 1 bits in the
//! patch; zero padding puts 0 bits (+1) and then subtracts, per padded tap, the sum over
//! channels of that tap's weights (`tap_sums`), which is what those +1 taps added.

const std = @import("std");
const contract = @import("contract.zig");
const lookup = @import("lookup.zig");
const Pad = @import("../bconv/contract.zig").Pad;
const transform_mod = @import("../bconv/transform.zig");
const Transform = transform_mod.Transform;
const Window2d = @import("../shape.zig").Window2d;
const limits = @import("../limits.zig");
const Ctx = @import("../ctx.zig").Ctx;

const block = contract.block;
/// Native vectors per block of 64 output channels.
const subs = block / lookup.width;
/// Channels summed in i8 lanes before widening: 14 responses of magnitude <= 9 fit i8.
const run_max: u32 = 127 / 9;
/// Output pixels per chunk at most.
const pixels_per_chunk_max: u64 = 64;

const Acc = @Vector(block, i32);
const Acc8 = @Vector(block, i8);

comptime {
    std.debug.assert(block % lookup.width == 0);
    std.debug.assert(run_max * 9 <= std.math.maxInt(i8));
    // The patches of one pixel fit the scratch of a thread.
    std.debug.assert(limits.channels_max * @sizeOf(u16) <= limits.scratch_bytes_per_thread);
}

pub const name = std.fmt.comptimePrint("{d}x{d}__{s}", .{ block, lookup.width, lookup.isa_name });

const Bytes64 = @Vector(64, u8);
const Patches64 = @Vector(64, u16);

const spread_mask: [64]i32 = blk: {
    var mask: [64]i32 = undefined;
    for (&mask, 0..) |*m, i| m.* = @intCast(i / 8);
    break :blk mask;
};

const lane_bit: Bytes64 = blk: {
    var bits: [64]u8 = undefined;
    for (&bits, 0..) |*b, i| b.* = @as(u8, 1) << @intCast(i % 8);
    break :blk bits;
};

/// Lane l is bit l of `x`. Spreading bytes and testing one bit per lane compiles to a few
/// shuffles and compares on every level; a plain `@bitCast` to 64 bools is one `kmovq` on
/// AVX-512 but several times slower on NEON and AVX2.
inline fn laneBits(x: u64) @Vector(64, bool) {
    const bytes: @Vector(8, u8) = @bitCast(x);
    const spread = @shuffle(u8, bytes, undefined, spread_mask);
    return (spread & lane_bit) != @as(Bytes64, @splat(0));
}

const Job = struct {
    ctx: *Ctx,
    shape: Window2d,
    pad: Pad,
    input: []const u64,
    layer: contract.Packed,
    transform: Transform,
    pixels_per_chunk: u64,

    fn run(job_context: *const anyopaque, chunk: u32, thread: u32) void {
        const job: *const Job = @ptrCast(@alignCast(job_context));
        switch (job.layer.layout.tau) {
            inline 1...contract.tau_max => |tau| job.runChunk(tau, chunk, thread),
            else => unreachable,
        }
    }

    fn runChunk(job: *const Job, comptime tau: u32, chunk: u32, thread: u32) void {
        const shape = job.shape;
        const first = chunk * job.pixels_per_chunk;
        const last = @min(first + job.pixels_per_chunk, shape.outPixels());
        std.debug.assert(first < last);
        const scratch = job.ctx.scratchFor(thread);
        const patches: []u16 = std.mem.bytesAsSlice(u16, scratch[0 .. shape.in_c * @sizeOf(u16)]);
        var pixel = first;
        while (pixel < last) : (pixel += 1) {
            const padded = job.buildPatches(pixel, patches);
            const out_blocks = contract.outPadded(shape.out_c) / block;
            for (0..out_blocks) |ob| job.outputBlock(tau, pixel, @intCast(ob), patches, padded);
        }
    }

    /// Writes the 9-bit patch of every input channel of output pixel `pixel` and returns the
    /// mask of taps that fall in the padding.
    fn buildPatches(job: *const Job, pixel: u64, patches: []u16) u32 {
        const shape = job.shape;
        const words = (shape.in_c + 63) / 64;
        const out_w = shape.outW();
        const out_h = shape.outH();
        const ox: u32 = @intCast(pixel % out_w);
        const oy: u32 = @intCast(pixel / out_w % out_h);
        const n: u64 = pixel / out_w / out_h;
        // Word offset of each tap's input pixel, or null in the padding.
        var base: [contract.taps]?usize = undefined;
        var padded: u32 = 0;
        for (0..3) |ky| for (0..3) |kx| {
            const t = ky * 3 + kx;
            const iy = @as(i64, @intCast(oy * shape.stride_h + ky)) - shape.pad_top;
            const ix = @as(i64, @intCast(ox * shape.stride_w + kx)) - shape.pad_left;
            if (iy >= 0 and iy < shape.in_h and ix >= 0 and ix < shape.in_w) {
                base[t] = @intCast(((n * shape.in_h + @as(u64, @intCast(iy))) * shape.in_w + @as(u64, @intCast(ix))) * words);
            } else {
                base[t] = null;
                padded |= @as(u32, 1) << @intCast(t);
            }
        };
        const pad_word: u64 = if (job.pad == .minus_one) ~@as(u64, 0) else 0;
        for (0..words) |w| {
            // Taps 0..7 fill the low byte of each channel's patch, tap 8 its high byte.
            var low: Bytes64 = @splat(0);
            inline for (0..8) |t| {
                const x = if (base[t]) |b| job.input[b + w] else pad_word;
                low |= @select(u8, laneBits(x), @as(Bytes64, @splat(1 << t)), @as(Bytes64, @splat(0)));
            }
            const x8 = if (base[8]) |b| job.input[b + w] else pad_word;
            const high = @select(u16, laneBits(x8), @as(Patches64, @splat(1 << 8)), @as(Patches64, @splat(0)));
            const patch = @as(Patches64, low) | high;
            const channels = @min(64, shape.in_c - 64 * w);
            if (channels == 64) {
                patches[64 * w ..][0..64].* = patch;
            } else {
                const array: [64]u16 = patch;
                @memcpy(patches[64 * w ..][0..channels], array[0..channels]);
            }
        }
        return if (job.pad == .zero) padded else 0;
    }

    fn outputBlock(job: *const Job, comptime tau: u32, pixel: u64, ob: u32, patches: []const u16, padded: u32) void {
        const in_c = job.shape.in_c;
        const row_bytes = comptime contract.rowBytes(tau);
        const table: [*]const u8 = @ptrCast(job.layer.table.ptr);
        const indices = job.layer.indices[@as(usize, ob) * in_c * block ..][0 .. in_c * block];
        var acc: Acc = @splat(0);
        var c: u32 = 0;
        while (c < in_c) {
            const run_end = @min(c + run_max, in_c);
            var acc8: [subs]lookup.Signed = @splat(@splat(0));
            while (c < run_end) : (c += 1) {
                const row = table + @as(usize, patches[c]) * row_bytes;
                inline for (0..subs) |s| {
                    const index: lookup.Bytes = indices[c * block + s * lookup.width ..][0..lookup.width].*;
                    acc8[s] +%= lookup.lookup(tau, row, index);
                }
            }
            const wide: Acc8 = @bitCast(acc8);
            acc += @as(Acc, wide);
        }
        if (padded != 0) {
            const out_pad = contract.outPadded(job.shape.out_c);
            for (0..contract.taps) |t| {
                if ((padded >> @intCast(t)) & 1 != 0) {
                    const sums: Acc = job.layer.tap_sums[t * out_pad + ob * block ..][0..block].*;
                    acc -= sums;
                }
            }
        }
        const values: [block]i32 = acc;
        var sub: u32 = 0;
        while (sub < block and ob * block + sub < job.shape.out_c) : (sub += transform_mod.block) {
            job.transform.storeBlock(pixel, ob * block + sub, values[sub..][0..transform_mod.block].*);
        }
    }
};

pub fn conv2d(ctx: *Ctx, shape: Window2d, pad: Pad, input: []const u64, layer: contract.Packed, transform: Transform) void {
    std.debug.assert(shape.kernel_h == 3 and shape.kernel_w == 3);
    std.debug.assert(layer.layout.in_c == shape.in_c and layer.layout.out_c == shape.out_c);
    const pixels = shape.outPixels();
    // Enough chunks to feed every thread several times; any size gives the same result.
    const wanted = std.math.divCeil(u64, pixels, @as(u64, ctx.threads) * 8) catch unreachable;
    const per_chunk = std.math.clamp(wanted, 1, pixels_per_chunk_max);
    const job: Job = .{ .ctx = ctx, .shape = shape, .pad = pad, .input = input, .layer = layer, .transform = transform, .pixels_per_chunk = per_chunk };
    const chunks = std.math.divCeil(u64, pixels, per_chunk) catch unreachable;
    std.debug.assert(chunks <= std.math.maxInt(u32));
    ctx.parallelFor(@intCast(chunks), &job, Job.run);
}
