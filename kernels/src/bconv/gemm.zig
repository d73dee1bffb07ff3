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
const byte_sum = @import("../byte_sum.zig");
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
    /// Always build im2col rows, never read windows from a padded image: the fallback for
    /// images too wide for the scratch, forced by the tester to check it on small shapes.
    im2col_only: bool = false,

    pub fn name(comptime self: Config) []const u8 {
        return std.fmt.comptimePrint("{d}x{d}__{s}{d}{s}", .{ self.mr, self.nb * block, if (self.byte_mode) "bytepop" else "wordpop", self.lanes * 64, if (self.im2col_only) "_im2col" else "" });
    }
};

/// The build level's configuration: `5x32__wordpop512` on AVX-512 VPOPCNTDQ (5 pixels x 4
/// blocks = 20 accumulators + 4 weight vectors + a broadcast in 32 registers),
/// `4x8__bytepop256` on AVX2, `4x8__bytepop128` on NEON and SSE2.
pub const native: Config = switch (cpu.vector_bytes) {
    64 => .{ .lanes = 8, .mr = 5, .nb = 4, .byte_mode = cpu.byte_popcount },
    32 => .{ .lanes = 4, .mr = 4, .nb = 1, .byte_mode = cpu.byte_popcount },
    16 => .{ .lanes = 2, .mr = 4, .nb = 1, .byte_mode = cpu.byte_popcount },
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

        inline fn byteSum(bytes: VB) V {
            return byte_sum.byteSum(lanes, bytes);
        }

        pub const Acc = [mr][nb * vpb]V;

        /// The popcounts of block `j` of row `r` as one 8-lane vector.
        inline fn blockCounts(acc: *const Acc, r: usize, j: usize) @Vector(block, u64) {
            var counts: [block]u64 = undefined;
            inline for (0..vpb) |v| counts[v * lanes ..][0..lanes].* = acc[r][j * vpb + v];
            return counts;
        }

        /// Popcounts of `mr` A rows against `nb_used` weight blocks (each `k_words * 8` words,
        /// consecutive) over k_words. Row r reads word k at `a[rows[r] + k]`, or with a
        /// gather table at `a[rows[r] + koff[k]]` (rows taken straight from a padded image).
        inline fn tile(comptime nb_used: comptime_int, comptime gathered: bool, a: [*]const u64, rows: *const [mr]usize, koff: [*]const u32, w: [*]const u64, k_words: usize) [mr][nb_used * vpb]V {
            var acc: [mr][nb_used * vpb]V = @splat(@splat(@splat(0)));
            var row: [mr][*]const u64 = undefined;
            inline for (0..mr) |r| row[r] = a + rows[r];
            const block_stride = k_words * block;
            if (!config.byte_mode) {
                for (0..k_words) |k| {
                    const at: usize = if (gathered) koff[k] else k;
                    var wv: [nb_used * vpb]V = undefined;
                    inline for (0..nb_used) |b| inline for (0..vpb) |v| {
                        wv[b * vpb + v] = w[b * block_stride + k * block + v * lanes ..][0..lanes].*;
                    };
                    inline for (0..mr) |r| {
                        const x: V = @splat(row[r][at]);
                        inline for (0..nb_used * vpb) |j| acc[r][j] += @popCount(x ^ wv[j]);
                    }
                }
            } else {
                var k: usize = 0;
                while (k < k_words) {
                    const steps = @min(byte_sum.steps_max, k_words - k);
                    var bytes: [mr][nb_used * vpb]VB = @splat(@splat(@splat(0)));
                    for (k..k + steps) |kk| {
                        const at: usize = if (gathered) koff[kk] else kk;
                        var wv: [nb_used * vpb]V = undefined;
                        inline for (0..nb_used) |b| inline for (0..vpb) |v| {
                            wv[b * vpb + v] = w[b * block_stride + kk * block + v * lanes ..][0..lanes].*;
                        };
                        inline for (0..mr) |r| {
                            const x: V = @splat(row[r][at]);
                            inline for (0..nb_used * vpb) |j| bytes[r][j] += @popCount(@as(VB, @bitCast(x ^ wv[j])));
                        }
                    }
                    inline for (0..mr) |r| inline for (0..nb_used * vpb) |j| {
                        acc[r][j] += byteSum(bytes[r][j]);
                    };
                    k += steps;
                }
            }
            return acc;
        }

        /// The popcounts of block `j` of row `r` of a tile result as one 8-lane vector.
        inline fn blockOf(comptime nb_used: comptime_int, acc: *const [mr][nb_used * vpb]V, r: usize, j: usize) @Vector(block, u64) {
            if (vpb == 1) return acc[r][j];
            var counts: [block]u64 = undefined;
            inline for (0..vpb) |v| counts[v * lanes ..][0..lanes].* = acc[r][j * vpb + v];
            return counts;
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
    // Even chunks (the last one is no longer a short remainder), so the threads finish
    // together.
    const even: u32 = @intCast((pixels + pixel_chunks - 1) / pixel_chunks);
    chunk_pixels = @min(chunk_pixels, (even + mr - 1) / mr * mr);
    pixel_chunks = (pixels + chunk_pixels - 1) / chunk_pixels;

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

/// Where the A rows of a chunk live.
const Rows = struct {
    a: [*]const u64,
    /// Word offset of each pixel's row (`chunk_pixels_max` at most).
    offset: [chunk_pixels_max]usize,
    /// Null: row word k is at `offset + k` (im2col rows or direct input rows); else at
    /// `offset + koff[k]` inside a padded image.
    koff: ?[*]const u32,
};

fn chunkWork(comptime config: Config, job: *const Job, chunk: u32, thread: u32) void {
    const mr = config.mr;
    const dims = job.weights.dims;
    const k_words = dims.kWords();
    // Group-major: chunks running at the same time work on different pixels, so they never
    // write the same output cache line.
    const pixel_chunks: u32 = @intCast((job.shape.outPixels() + job.chunk_pixels - 1) / job.chunk_pixels);
    const group = chunk / pixel_chunks;
    const pixel_chunk = chunk % pixel_chunks;
    const total = job.shape.outPixels();
    const p0: u64 = @as(u64, pixel_chunk) * job.chunk_pixels;
    const count: usize = @intCast(@min(job.chunk_pixels, total - p0));

    const scratch: []u64 = std.mem.bytesAsSlice(u64, job.ctx.scratchFor(thread));
    var rows: Rows = undefined;
    if (job.direct) {
        rows.a = job.input[@intCast(p0 * k_words)..].ptr;
        rows.koff = null;
        for (0..count) |i| rows.offset[i] = i * k_words;
    } else if (config.im2col_only or !paddedRows(job, p0, count, scratch, &rows)) {
        im2col(job, p0, count, scratch[0 .. count * k_words]);
        rows.a = scratch.ptr;
        rows.koff = null;
        for (0..count) |i| rows.offset[i] = i * k_words;
    }
    // Rows of the last tile past the chunk repeat row 0; their results are never stored.
    const padded_rows = (count + mr - 1) / mr * mr;
    for (count..padded_rows) |i| rows.offset[i] = rows.offset[0];

    const block_first = group * job.blocks_per_group;
    const block_end = @min(dims.blocks(), block_first + job.blocks_per_group);
    var b = block_first;
    while (b < block_end) {
        const w = job.weights.blocked[@as(usize, b) * k_words * block ..].ptr;
        const gathered = rows.koff != null;
        if (block_end - b >= config.nb) {
            if (gathered) tiles(config, config.nb, true, job, &rows, p0, count, b, w) else tiles(config, config.nb, false, job, &rows, p0, count, b, w);
            b += config.nb;
        } else {
            if (gathered) tiles(config, 1, true, job, &rows, p0, count, b, w) else tiles(config, 1, false, job, &rows, p0, count, b, w);
            b += 1;
        }
    }
    // The bytes of the last output word past the last block: channel tail = 0 bits.
    if (job.transform.kind == .binary and block_end == dims.blocks()) {
        const pixel_bytes = @as(usize, job.transform.out_words) * 8;
        const tail_first = @as(usize, dims.blocks()) * block / 8;
        if (tail_first < pixel_bytes) {
            for (0..count) |i| {
                const start: usize = @intCast((p0 + i) * pixel_bytes);
                @memset(job.transform.output[start + tail_first .. start + pixel_bytes], 0);
            }
        }
    }
}

/// All tiles of one chunk against `nb_used` weight blocks starting at block `b`.
inline fn tiles(comptime config: Config, comptime nb_used: comptime_int, comptime gathered: bool, job: *const Job, rows: *const Rows, p0: u64, count: usize, b: u32, w: [*]const u64) void {
    const K = Kernel(config);
    const mr = config.mr;
    const k_words = job.weights.dims.kWords();
    var r: usize = 0;
    while (r < count) : (r += mr) {
        const offsets = rows.offset[r..][0..mr];
        const acc = K.tile(nb_used, gathered, rows.a, offsets, if (gathered) rows.koff.? else undefined, w, k_words);
        const valid = @min(mr, count - r);
        if (job.transform.kind == .binary and job.pad != .zero and valid == mr) {
            storeBitsTile(config, nb_used, job, p0 + r, b, &acc);
        } else {
            var counts: K.Acc = undefined;
            inline for (0..mr) |i| inline for (0..nb_used * K.vpb) |j| {
                counts[i][j] = acc[i][j];
            };
            store(config, job, p0 + r, valid, b, nb_used, &counts);
        }
    }
}

/// The binary transform of a full tile straight from its accumulators (see `popThresholds`):
/// one byte per pixel and block, no channel tail to handle (done per chunk).
inline fn storeBitsTile(comptime config: Config, comptime nb_used: comptime_int, job: *const Job, p_first: u64, b: u32, acc: *const [config.mr][nb_used * Kernel(config).vpb]Kernel(config).V) void {
    const K = Kernel(config);
    const transform = &job.transform;
    const pixel_bytes = @as(usize, transform.out_words) * 8;
    const out = transform.output[@intCast(p_first * pixel_bytes + b)..].ptr;
    inline for (0..nb_used) |j| {
        const o = (b + j) * block;
        const mask: @Vector(block, u64) = job.pop_mask[o..][0..block].*;
        const bound: @Vector(block, i64) = job.pop_bound[o..][0..block].*;
        inline for (0..config.mr) |r| {
            const pop = K.blockOf(nb_used, acc, r, j);
            const bits: @Vector(block, bool) = @as(@Vector(block, i64), @bitCast(pop ^ mask)) > bound;
            out[r * pixel_bytes + j] = @bitCast(bits);
        }
    }
}

/// Lays out the chunk's input as zero-copy rows (no padding, whole words) or as a padded
/// image in `scratch` — each input word copied once instead of once per tap as im2col does —
/// and fills `rows` with each pixel's window origin and the tap offsets `koff`. False when the
/// padded image and the table do not fit the scratch (the caller falls back to im2col).
fn paddedRows(job: *const Job, p0: u64, count: usize, scratch: []u64, rows: *Rows) bool {
    const shape = job.shape;
    const words: usize = (shape.in_c + 63) / 64;
    const k_words = job.weights.dims.kWords();
    const out_w: usize = shape.outW();
    const out_h: usize = shape.outH();
    const tail_bits = shape.in_c % 64;
    const no_pad = shape.pad_top + shape.pad_bottom + shape.pad_left + shape.pad_right == 0;
    const in_place = no_pad and tail_bits == 0;
    const pw: usize = if (in_place) shape.in_w else @as(usize, shape.in_w) + shape.pad_left + shape.pad_right;
    const ph: usize = if (in_place) shape.in_h else @as(usize, shape.in_h) + shape.pad_top + shape.pad_bottom;
    const row_words = pw * words;

    // Output rows of the chunk, as (image, first row, last row) segments.
    const first_row = p0 / out_w;
    const last_row = (p0 + count - 1) / out_w;
    const koff_words = (k_words + 1) / 2;
    var image_words: usize = 0;
    if (!in_place) {
        var g = first_row;
        while (g <= last_row) {
            const oy = g % out_h;
            const seg_rows = @min(out_h - oy, last_row + 1 - g);
            const in_rows = @min(ph, (seg_rows - 1) * shape.stride_h + shape.kernel_h);
            image_words += in_rows * row_words;
            g += seg_rows;
        }
        if (koff_words + image_words > scratch.len) return false;
    } else if (koff_words > scratch.len) return false;

    const koff: []u32 = std.mem.bytesAsSlice(u32, std.mem.sliceAsBytes(scratch[0..koff_words]))[0..k_words];
    for (0..shape.kernel_h) |ky| for (0..shape.kernel_w) |kx| for (0..words) |w| {
        koff[(ky * shape.kernel_w + kx) * words + w] = @intCast((ky * pw + kx) * words + w);
    };
    rows.koff = koff.ptr;

    if (in_place) {
        rows.a = job.input.ptr;
        var ox: usize = @intCast(p0 % out_w);
        var g: usize = @intCast(first_row);
        for (0..count) |i| {
            const n = g / out_h;
            const oy = g % out_h;
            rows.offset[i] = ((n * ph + oy * shape.stride_h) * pw + ox * shape.stride_w) * words;
            ox += 1;
            if (ox == out_w) {
                ox = 0;
                g += 1;
            }
        }
        return true;
    }

    const image = scratch[koff_words..][0..image_words];
    rows.a = image.ptr;
    const tail_mask: u64 = if (tail_bits == 0) ~@as(u64, 0) else (@as(u64, 1) << @intCast(tail_bits)) - 1;
    const pad_word: u64 = if (job.pad == .minus_one) ~@as(u64, 0) else 0;
    const pad_tail: u64 = pad_word & tail_mask;
    const left = @as(usize, shape.pad_left) * words;
    const right = @as(usize, shape.pad_right) * words;
    var seg_start: usize = 0;
    var i: usize = 0;
    var g: usize = @intCast(first_row);
    while (g <= last_row) {
        const n = g / out_h;
        const oy0 = g % out_h;
        const seg_rows = @min(out_h - oy0, last_row + 1 - g);
        const in_rows = @min(ph, (seg_rows - 1) * shape.stride_h + shape.kernel_h);
        const y_first = @as(i64, @intCast(oy0 * shape.stride_h)) - shape.pad_top;
        for (0..in_rows) |j| {
            const dst = image[seg_start + j * row_words ..][0..row_words];
            const iy = y_first + @as(i64, @intCast(j));
            if (iy < 0 or iy >= shape.in_h) {
                fillPad(dst, words, pad_word, pad_tail);
                continue;
            }
            fillPad(dst[0..left], words, pad_word, pad_tail);
            fillPad(dst[row_words - right ..], words, pad_word, pad_tail);
            const src = job.input[((n * shape.in_h + @as(usize, @intCast(iy))) * shape.in_w) * words ..][0 .. @as(usize, shape.in_w) * words];
            const mid = dst[left..][0..src.len];
            @memcpy(mid, src);
            if (tail_bits != 0) {
                var w = words - 1;
                while (w < mid.len) : (w += words) mid[w] &= tail_mask;
            }
        }
        // Pixels of this segment.
        const p_end = @min(p0 + count, (g + seg_rows) * out_w);
        while (p0 + i < p_end) : (i += 1) {
            const p = p0 + i;
            const oy: usize = @intCast(p / out_w - g);
            const ox: usize = @intCast(p % out_w);
            rows.offset[i] = seg_start + (oy * shape.stride_h * pw + ox * shape.stride_w) * words;
        }
        seg_start += in_rows * row_words;
        g += seg_rows;
    }
    std.debug.assert(i == count);
    return true;
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
