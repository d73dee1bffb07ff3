//! The fast binary convolution: im2col tiles in per-thread scratch and a register-blocked
//! xor-popcount GEMM microkernel, one generic function instantiated per vector width.
//!
//! The microkernel computes an `mr` pixels x `nb*8` channels tile. Channels are the vector
//! lanes: one input word is broadcast and xored with the same word of 8 output channels'
//! weights (one 64-byte block), so the popcount of each lane is already that pixel-channel
//! pair's partial count — no horizontal reductions, no padding of the K dimension, and the
//! 8 results of a block feed the vectorized output transform directly.
//!
//! Two popcount strategies:
//!   - word: `@popCount` on u64 lanes (AVX-512 VPOPCNTQ);
//!   - byte: `@popCount` on u8 lanes (NEON CNT, AVX2 PSHUFB lookup), accumulated in bytes
//!     for up to 31 steps (31 x 8 < 256) and then widened — much cheaper where no u64
//!     vector popcount exists.

const std = @import("std");
const cpu = @import("../cpu.zig");
const contract = @import("contract.zig");
const pack_mod = @import("pack.zig");
const Transform = @import("transform.zig").Transform;
const I32x8 = @import("transform.zig").I32x8;
const Window2d = @import("../shape.zig").Window2d;
const Ctx = @import("../ctx.zig").Ctx;
const limits = @import("../limits.zig");

const block = contract.block;

pub const Config = struct {
    /// u64 lanes per vector.
    lanes: comptime_int,
    /// Pixels per microkernel tile.
    mr: comptime_int,
    /// 8-channel blocks per microkernel tile.
    nb: comptime_int,
    byte_mode: bool,

    pub fn name(comptime self: Config) []const u8 {
        return std.fmt.comptimePrint("{d}x{d}__{s}{d}", .{ self.mr, self.nb * block, if (self.byte_mode) "bytepop" else "wordpop", self.lanes * 64 });
    }
};

/// The build level's configuration: `5x32__wordpop512` on AVX-512 VPOPCNTDQ (5 pixels x 4
/// blocks = 20 accumulators + 4 weight vectors + a broadcast in 32 registers),
/// `4x8__bytepop256` on AVX2, `4x8__bytepop128` on NEON and SSE2.
pub const native: Config = switch (cpu.vector_bytes) {
    64 => .{ .lanes = 8, .mr = 5, .nb = 4, .byte_mode = false },
    32 => .{ .lanes = 4, .mr = 4, .nb = 1, .byte_mode = true },
    16 => .{ .lanes = 2, .mr = 4, .nb = 1, .byte_mode = true },
    else => unreachable,
};

/// Pixels of one chunk of work at most (its im2col tile stays in L2).
const chunk_pixels_max: u32 = 128;

fn Kernel(comptime config: Config) type {
    return struct {
        const lanes = config.lanes;
        const mr = config.mr;
        const nb = config.nb;
        const vpb = block / lanes; // vectors per block
        const V = @Vector(lanes, u64);
        const VB = @Vector(lanes * 8, u8);

        comptime {
            std.debug.assert(block % lanes == 0);
            std.debug.assert(mr >= 1 and nb >= 1);
        }

        fn byteSum(bytes: VB) V {
            var x: V = @bitCast(bytes);
            x = (x & @as(V, @splat(0x00ff00ff00ff00ff))) + ((x >> @splat(8)) & @as(V, @splat(0x00ff00ff00ff00ff)));
            x = (x & @as(V, @splat(0x0000ffff0000ffff))) + ((x >> @splat(16)) & @as(V, @splat(0x0000ffff0000ffff)));
            return (x & @as(V, @splat(0x00000000ffffffff))) + (x >> @splat(32));
        }

        pub const Acc = [mr][nb * vpb]V;

        /// The popcounts of block `j` of row `r` as one 8-lane vector.
        inline fn blockCounts(acc: *const Acc, r: usize, j: usize) @Vector(block, u64) {
            var counts: [block]u64 = undefined;
            inline for (0..vpb) |v| counts[v * lanes ..][0..lanes].* = acc[r][j * vpb + v];
            return counts;
        }

        /// Popcounts of `a` rows (mr rows, `a_stride` words apart) against `nb_used` weight
        /// blocks (each `k_words * 8` words, consecutive) over k_words. Writes `out[r][c]`.
        inline fn tile(comptime nb_used: comptime_int, a: [*]const u64, a_stride: usize, w: [*]const u64, k_words: usize, out: *Acc) void {
            var acc: [mr][nb_used * vpb]V = @splat(@splat(@splat(0)));
            const block_stride = k_words * block;
            if (!config.byte_mode) {
                for (0..k_words) |k| {
                    var wv: [nb_used * vpb]V = undefined;
                    inline for (0..nb_used) |b| inline for (0..vpb) |v| {
                        wv[b * vpb + v] = w[b * block_stride + k * block + v * lanes ..][0..lanes].*;
                    };
                    inline for (0..mr) |r| {
                        const x: V = @splat(a[r * a_stride + k]);
                        inline for (0..nb_used * vpb) |j| acc[r][j] += @popCount(x ^ wv[j]);
                    }
                }
            } else {
                var k: usize = 0;
                while (k < k_words) {
                    const steps = @min(31, k_words - k);
                    var bytes: [mr][nb_used * vpb]VB = @splat(@splat(@splat(0)));
                    for (k..k + steps) |kk| {
                        var wv: [nb_used * vpb]V = undefined;
                        inline for (0..nb_used) |b| inline for (0..vpb) |v| {
                            wv[b * vpb + v] = w[b * block_stride + kk * block + v * lanes ..][0..lanes].*;
                        };
                        inline for (0..mr) |r| {
                            const x: V = @splat(a[r * a_stride + kk]);
                            inline for (0..nb_used * vpb) |j| bytes[r][j] += @popCount(@as(VB, @bitCast(x ^ wv[j])));
                        }
                    }
                    inline for (0..mr) |r| inline for (0..nb_used * vpb) |j| {
                        acc[r][j] += byteSum(bytes[r][j]);
                    };
                    k += steps;
                }
            }
            inline for (0..mr) |r| inline for (0..nb_used * vpb) |j| {
                out[r][j] = acc[r][j];
            };
        }
    };
}

/// Everything one convolution call needs, shared read-only by the pool threads.
pub const Job = struct {
    shape: Window2d,
    pad: contract.Pad,
    input: []const u64,
    weights: pack_mod.Packed,
    transform: Transform,
    ctx: *Ctx,
    /// Pixels per chunk (a multiple of mr) and channel-block groups per pixel chunk.
    chunk_pixels: u32,
    groups: u32,
    blocks_per_group: u32,
    /// 1x1, stride 1, no padding, whole words: the input rows are the im2col rows.
    direct: bool,
    /// For the binary transform: per channel a mask m and a bound c such that the output bit
    /// is `(popcount ^ m) > c` (signed), `[blocks*8]` each; empty for other transforms.
    pop_mask: []const u64,
    pop_bound: []const i64,
};

/// Moves the binary threshold from the accumulator to the popcount p, with dot = K - 2p:
///   no flip: dot < t  <=>  p > floor((K - t) / 2)
///   flip:    dot > t  <=>  p < ceil((K - t) / 2)  <=>  ~p > -ceil((K - t) / 2) - 1
/// so each channel needs one xor and one compare. Channels past out_c never set a bit.
fn popThresholds(transform: Transform, k_bits: i64, blocks: u32, mask: []u64, bound: []i64) void {
    for (0..@as(usize, blocks) * block) |o| {
        if (o >= transform.out_c) {
            mask[o] = 0;
            bound[o] = std.math.maxInt(i64);
            continue;
        }
        const diff = k_bits - transform.threshold[o];
        if (transform.flip[o] == 0) {
            mask[o] = 0;
            bound[o] = @divFloor(diff, 2);
        } else {
            mask[o] = ~@as(u64, 0);
            bound[o] = -@divFloor(diff + 1, 2) - 1;
        }
    }
}

/// Plans chunking for `threads` threads and runs the convolution with configuration `config`.
pub fn conv2d(comptime config: Config, ctx: *Ctx, shape: Window2d, pad: contract.Pad, input: []const u64, weights: pack_mod.Packed, transform: Transform) error{LimitExceeded}!void {
    const mr = config.mr;
    const k_words = weights.dims.kWords();
    const row_bytes = k_words * 8;
    const rows_fit = limits.scratch_bytes_per_thread / row_bytes;
    if (rows_fit < mr) return error.LimitExceeded;
    const pixels = shape.outPixels();
    // A multiple of mr, so every tile but the chunk's last is full and the padded rows of
    // the last one still fit the scratch.
    var chunk_pixels: u32 = @intCast(@min(chunk_pixels_max, rows_fit));
    chunk_pixels -= chunk_pixels % mr;
    // Spread small layers over the threads: first split the output channels (each group
    // redoes the im2col of its pixels, cheap next to the GEMM while a group keeps 64 or
    // more channels), then shrink the pixel chunks down to 4 tiles.
    const wanted_chunks: u64 = if (ctx.threads > 1) 4 * @as(u64, ctx.threads) else 1;
    const blocks = weights.dims.blocks();
    var groups: u32 = 1;
    var pixel_chunks = (pixels + chunk_pixels - 1) / chunk_pixels;
    while (pixel_chunks * groups < wanted_chunks and blocks / (groups * 2) >= @max(config.nb, 8)) groups *= 2;
    while (chunk_pixels > 4 * mr and pixel_chunks * groups < wanted_chunks) {
        chunk_pixels /= 2;
        chunk_pixels -= chunk_pixels % mr;
        pixel_chunks = (pixels + chunk_pixels - 1) / chunk_pixels;
    }
    const blocks_per_group = (blocks + groups - 1) / groups;
    groups = (blocks + blocks_per_group - 1) / blocks_per_group;

    var job: Job = .{
        .shape = shape,
        .pad = pad,
        .input = input,
        .weights = weights,
        .transform = transform,
        .ctx = ctx,
        .chunk_pixels = chunk_pixels,
        .groups = groups,
        .blocks_per_group = blocks_per_group,
        .direct = shape.kernel_h == 1 and shape.kernel_w == 1 and shape.stride_h == 1 and shape.stride_w == 1 and
            shape.pad_top + shape.pad_bottom + shape.pad_left + shape.pad_right == 0 and shape.in_c % 64 == 0,
        .pop_mask = &.{},
        .pop_bound = &.{},
    };
    if (transform.kind == .binary) {
        const padded = @as(usize, blocks) * block;
        const mask = ctx.channel_scratch[0..padded];
        const bound: []i64 = @ptrCast(ctx.channel_scratch[padded .. 2 * padded]);
        popThresholds(transform, weights.dims.taps() * @as(i64, shape.in_c), blocks, mask, bound);
        job.pop_mask = mask;
        job.pop_bound = bound;
    }
    const chunks: u32 = @intCast(pixel_chunks * groups);
    ctx.parallelFor(chunks, &job, runChunk(config));
}

fn runChunk(comptime config: Config) fn (*const anyopaque, u32, u32) void {
    return struct {
        fn run(opaque_job: *const anyopaque, chunk: u32, thread: u32) void {
            const job: *const Job = @ptrCast(@alignCast(opaque_job));
            chunkWork(config, job, chunk, thread);
        }
    }.run;
}

fn chunkWork(comptime config: Config, job: *const Job, chunk: u32, thread: u32) void {
    const K = Kernel(config);
    const mr = config.mr;
    const dims = job.weights.dims;
    const k_words = dims.kWords();
    const pixel_chunk = chunk / job.groups;
    const group = chunk % job.groups;
    const total = job.shape.outPixels();
    const p0: u64 = @as(u64, pixel_chunk) * job.chunk_pixels;
    const count: usize = @intCast(@min(job.chunk_pixels, total - p0));
    const padded_rows = (count + mr - 1) / mr * mr;

    const scratch: []u64 = std.mem.bytesAsSlice(u64, job.ctx.scratchFor(thread));
    var rows: []const u64 = undefined;
    if (job.direct and count == padded_rows) {
        rows = job.input[@intCast(p0 * k_words)..][0 .. count * k_words];
    } else if (job.direct) {
        const a = scratch[0 .. padded_rows * k_words];
        @memcpy(a[0 .. count * k_words], job.input[@intCast(p0 * k_words)..][0 .. count * k_words]);
        @memset(a[count * k_words ..], 0);
        rows = a;
    } else {
        const a = scratch[0 .. padded_rows * k_words];
        im2col(job, p0, count, a);
        @memset(a[count * k_words ..], 0);
        rows = a;
    }

    const block_first = group * job.blocks_per_group;
    const block_end = @min(dims.blocks(), block_first + job.blocks_per_group);
    var counts: K.Acc = undefined;
    var b = block_first;
    while (b < block_end) {
        const full = block_end - b >= config.nb;
        const used: u32 = if (full) config.nb else 1;
        const w = job.weights.blocked[@as(usize, b) * k_words * block ..].ptr;
        var r: usize = 0;
        while (r < count) : (r += mr) {
            if (full) K.tile(config.nb, rows[r * k_words ..].ptr, k_words, w, k_words, &counts) else K.tile(1, rows[r * k_words ..].ptr, k_words, w, k_words, &counts);
            store(config, job, p0 + r, @min(mr, count - r), b, used, &counts);
        }
        b += used;
    }
}

inline fn store(comptime config: Config, job: *const Job, p_first: u64, valid_rows: usize, b_first: u32, used: u32, counts: *const Kernel(config).Acc) void {
    switch (job.transform.kind) {
        inline else => |kind| storeOf(config, kind, job, p_first, valid_rows, b_first, used, counts),
    }
}

inline fn storeOf(comptime config: Config, comptime kind: contract.Kind, job: *const Job, p_first: u64, valid_rows: usize, b_first: u32, used: u32, counts: *const Kernel(config).Acc) void {
    const dims = job.weights.dims;
    const k_bits: I32x8 = @splat(@intCast(dims.taps() * dims.in_c));
    const zero_pad = job.pad == .zero;
    const blocks_valid = @min(used, (dims.out_c - b_first * block + block - 1) / block);
    for (0..valid_rows) |r| {
        const pixel = p_first + r;
        for (0..blocks_valid) |j| {
            const o: u32 = (b_first + @as(u32, @intCast(j))) * block;
            const pop = Kernel(config).blockCounts(counts, r, j);
            if (kind == .binary and !zero_pad) {
                storeBitsFromCounts(job, pixel, o, pop);
                continue;
            }
            var dot: I32x8 = k_bits - @as(I32x8, @intCast(pop)) * @as(I32x8, @splat(2));
            if (zero_pad) dot -= zeroPadCorrection(job, pixel, o);
            job.transform.storeBlockOf(kind, pixel, o, dot);
        }
    }
}

/// The binary transform straight from popcounts (see `popThresholds`): 8 output bits.
inline fn storeBitsFromCounts(job: *const Job, pixel: u64, o: u32, pop: @Vector(block, u64)) void {
    const mask: @Vector(block, u64) = job.pop_mask[o..][0..block].*;
    const bound: @Vector(block, i64) = job.pop_bound[o..][0..block].*;
    const bits: @Vector(block, bool) = @as(@Vector(block, i64), @bitCast(pop ^ mask)) > bound;
    const transform = &job.transform;
    const byte_index: usize = @intCast(pixel * transform.out_words * 8 + o / 8);
    transform.output[byte_index] = @bitCast(bits);
    if (o + block >= transform.out_c) {
        const word_end: usize = @intCast((pixel + 1) * transform.out_words * 8);
        for (transform.output[byte_index + 1 .. word_end]) |*pad| pad.* = 0;
    }
}

/// Sum over the padded taps of output pixel `pixel` of `C - 2*popcount(w[o][tap])`: what the
/// +1 padding added and zero padding must not.
fn zeroPadCorrection(job: *const Job, pixel: u64, o: u32) I32x8 {
    const shape = job.shape;
    const out_w = shape.outW();
    const out_h = shape.outH();
    const ox: u32 = @intCast(pixel % out_w);
    const oy: u32 = @intCast((pixel / out_w) % out_h);
    const y0 = @as(i64, oy) * shape.stride_h - shape.pad_top;
    const x0 = @as(i64, ox) * shape.stride_w - shape.pad_left;
    var correction: I32x8 = @splat(0);
    if (y0 >= 0 and y0 + shape.kernel_h <= shape.in_h and x0 >= 0 and x0 + shape.kernel_w <= shape.in_w) return correction;
    const padded_c = job.weights.dims.blocks() * block;
    const channels: I32x8 = @splat(@intCast(shape.in_c));
    for (0..shape.kernel_h) |ky| for (0..shape.kernel_w) |kx| {
        const iy = y0 + @as(i64, @intCast(ky));
        const ix = x0 + @as(i64, @intCast(kx));
        if (iy >= 0 and iy < shape.in_h and ix >= 0 and ix < shape.in_w) continue;
        const tap = ky * shape.kernel_w + kx;
        const pop: @Vector(block, u32) = job.weights.popcounts[tap * padded_c + o ..][0..block].*;
        correction += channels - @as(I32x8, @intCast(pop)) * @as(I32x8, @splat(2));
    };
    return correction;
}

/// Writes the im2col rows of output pixels [p0, p0 + count): for each pixel, taps in
/// (ky, kx) order, each `words` input words, the pad pattern outside the image, and the
/// channel tail masked to 0 so stray input tail bits never count.
fn im2col(job: *const Job, p0: u64, count: usize, a: []u64) void {
    const shape = job.shape;
    const words: usize = (shape.in_c + 63) / 64;
    const k_words = job.weights.dims.kWords();
    const out_w = shape.outW();
    const out_h = shape.outH();
    const tail_bits = shape.in_c % 64;
    const tail_mask: u64 = if (tail_bits == 0) ~@as(u64, 0) else (@as(u64, 1) << @intCast(tail_bits)) - 1;
    const pad_word: u64 = if (job.pad == .minus_one) ~@as(u64, 0) else 0;
    const pad_tail: u64 = pad_word & tail_mask;
    const run = shape.kernel_w * words;
    // Coordinates of the first pixel, then stepped: no divisions per pixel.
    var ox: usize = @intCast(p0 % out_w);
    var oy: usize = @intCast((p0 / out_w) % out_h);
    var n: usize = @intCast(p0 / (@as(u64, out_w) * out_h));
    for (0..count) |i| {
        defer {
            ox += 1;
            if (ox == out_w) {
                ox = 0;
                oy += 1;
                if (oy == out_h) {
                    oy = 0;
                    n += 1;
                }
            }
        }
        const row = a[i * k_words ..][0..k_words];
        const x0 = @as(i64, @intCast(ox * shape.stride_w)) - shape.pad_left;
        for (0..shape.kernel_h) |ky| {
            const iy = @as(i64, @intCast(oy * shape.stride_h + ky)) - shape.pad_top;
            const dst = row[ky * run ..][0..run];
            if (iy < 0 or iy >= shape.in_h) {
                fillPad(dst, words, pad_word, pad_tail);
                continue;
            }
            const line = (n * shape.in_h + @as(usize, @intCast(iy))) * shape.in_w;
            if (x0 >= 0 and x0 + shape.kernel_w <= shape.in_w) {
                @memcpy(dst, job.input[(line + @as(usize, @intCast(x0))) * words ..][0..run]);
            } else {
                for (0..shape.kernel_w) |kx| {
                    const ix = x0 + @as(i64, @intCast(kx));
                    const tap = dst[kx * words ..][0..words];
                    if (ix < 0 or ix >= shape.in_w) {
                        fillPad(tap, words, pad_word, pad_tail);
                    } else {
                        @memcpy(tap, job.input[(line + @as(usize, @intCast(ix))) * words ..][0..words]);
                    }
                }
            }
            if (tail_bits != 0) {
                var w = words - 1;
                while (w < run) : (w += words) dst[w] &= tail_mask;
            }
        }
    }
}

fn fillPad(dst: []u64, words: usize, pad_word: u64, pad_tail: u64) void {
    @memset(dst, pad_word);
    var w = words - 1;
    while (w < dst.len) : (w += words) dst[w] = pad_tail;
}
