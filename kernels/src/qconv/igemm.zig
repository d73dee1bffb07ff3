//! Int8 convolution as an indirect GEMM (XNNPACK's igemm): the microkernel reads each
//! output pixel's input rows in place, tap by tap, instead of copying an im2col matrix.
//! That keeps every `kernel_h * kernel_w * in_c` (up to 3.7 MB per row) within reach with
//! no scratch beyond one zero-point row, and skips the copy.
//!
//! One generic microkernel, instantiated at comptime for the build level (one variant per
//! library, `<mr>x<block>__<isa>`):
//!   - `8x32__avx512vnni`: `vpdpbusd` (u8 x s8, four products summed into an i32 lane);
//!   - `3x16__avx2`, `3x8__sse2`: u8 and s8 widened to i16, `pmaddwd` pairs into i32, two
//!     partial sums per output channel folded at the end;
//!   - `8x8__neondot` (cortex-a76): `sdot` on x ^ 0x80 (u8 -> s8 by subtracting 128), the
//!     128 * sum(w) it takes away is put back with the zero point;
//!   - `3x8__neon`: widening `smlal`, four partial sums per output channel.
//! All of them are exact: no saturating 16-bit step anywhere (u8 * s8 fits i16, pairs of
//! them fit i32).

const std = @import("std");
const builtin = @import("builtin");
const cpu = @import("../cpu.zig");
const contract = @import("contract.zig");
const reference = @import("reference.zig");
const Ctx = @import("../ctx.zig").Ctx;
const limits = @import("../limits.zig");
const Window2d = @import("../shape.zig").Window2d;

pub const Isa = enum { avx512vnni, avx2, sse2, neondot, neon };

pub const Config = struct {
    isa: Isa,
    /// Output pixels per microkernel call.
    mr: u32,
    /// Output channels per vector (i32 lanes of one accumulator after folding).
    lanes: u32,
    /// Vectors of output channels per microkernel call.
    nv: u32,
    /// Partial sums per output channel in the accumulators (folded in the epilogue).
    partials: u32,
    /// Added to every u8 activation before the multiply (neondot's u8 -> s8 shift is -128).
    x_shift: i32,
};

const has_llvm = builtin.zig_backend == .stage2_llvm;

pub const config: Config = switch (builtin.cpu.arch) {
    .x86_64 => if (has_llvm and std.Target.x86.featureSetHas(builtin.cpu.features, .avx512vnni) and cpu.vector_bytes == 64)
        .{ .isa = .avx512vnni, .mr = 8, .lanes = 16, .nv = 2, .partials = 1, .x_shift = 0 }
    else if (cpu.vector_bytes == 32)
        .{ .isa = .avx2, .mr = 3, .lanes = 8, .nv = 2, .partials = 2, .x_shift = 0 }
    else
        .{ .isa = .sse2, .mr = 3, .lanes = cpu.vector_bytes / 4, .nv = 2, .partials = 2, .x_shift = 0 },
    .aarch64 => if (has_llvm and std.Target.aarch64.featureSetHas(builtin.cpu.features, .dotprod))
        .{ .isa = .neondot, .mr = 8, .lanes = 4, .nv = 2, .partials = 1, .x_shift = -128 }
    else
        .{ .isa = .neon, .mr = 3, .lanes = 4, .nv = 2, .partials = 4, .x_shift = 0 },
    else => @compileError("qconv supports x86_64 and aarch64 only"),
};

/// Output channels per packed block (the `block` of the packed-weight header).
pub const block: u32 = config.lanes * config.nv;

/// The variant's name, `<mr>x<block>__<isa>`, printed by failing tests.
pub const name = std.fmt.comptimePrint("{d}x{d}__{s}", .{ config.mr, block, @tagName(config.isa) });

comptime {
    std.debug.assert(config.lanes * 4 == cpu.vector_bytes); // one weight vector per register
    std.debug.assert(config.partials == 1 or config.partials == 2 or config.partials == 4);
    std.debug.assert(config.mr * config.nv * config.partials <= 32); // accumulators fit the register file
}

const L = config.lanes;
const P = config.partials;
const Acc = @Vector(P * L, i32);
const Sums = @Vector(L, i32);
const Bytes = @Vector(4 * L, i8);

extern fn @"llvm.x86.avx512.vpdpbusd.512"(@Vector(16, i32), @Vector(16, i32), @Vector(16, i32)) @Vector(16, i32);
extern fn @"llvm.aarch64.neon.sdot.v4i32.v16i8"(@Vector(4, i32), @Vector(16, i8), @Vector(16, i8)) @Vector(4, i32);

/// acc (per channel j, partial q) += sum of x[k] * w[j][k] over the four k of the group that
/// belongs to partial q. `x4` holds four u8 activations, `w` four s8 weights per channel.
inline fn madd(acc: Acc, x4: u32, w: Bytes) Acc {
    switch (config.isa) {
        .avx512vnni => {
            const x: @Vector(16, u32) = @splat(x4);
            return @"llvm.x86.avx512.vpdpbusd.512"(acc, @bitCast(x), @bitCast(w));
        },
        .neondot => {
            const x: @Vector(4, u32) = @splat(x4 ^ 0x8080_8080);
            return @"llvm.aarch64.neon.sdot.v4i32.v16i8"(acc, @bitCast(x), w);
        },
        .avx2, .sse2 => {
            // Even and odd products summed in i32: LLVM selects pmaddwd.
            const xs: @Vector(L, u32) = @splat(x4);
            const x32: @Vector(4 * L, i32) = @as(@Vector(4 * L, u8), @bitCast(xs));
            const w32: @Vector(4 * L, i32) = w;
            const product = x32 * w32;
            const even = @shuffle(i32, product, undefined, strideMask(2 * L, 2, 0));
            const odd = @shuffle(i32, product, undefined, strideMask(2 * L, 2, 1));
            return acc +% (even + odd);
        },
        .neon => {
            // u8 * s8 fits i16, so LLVM multiplies in i16 and accumulates wide (smlal).
            const xs: @Vector(L, u32) = @splat(x4);
            const x16: @Vector(4 * L, i16) = @as(@Vector(4 * L, u8), @bitCast(xs));
            const w16: @Vector(4 * L, i16) = w;
            const x32: @Vector(4 * L, i32) = x16;
            const w32: @Vector(4 * L, i32) = w16;
            return acc +% x32 * w32;
        },
    }
}

fn strideMask(comptime len: u32, comptime stride: u32, comptime start: u32) @Vector(len, i32) {
    var mask: [len]i32 = undefined;
    for (&mask, 0..) |*m, i| m.* = @intCast(i * stride + start);
    return mask;
}

/// Sums the `P` partials of every channel.
inline fn fold(acc: Acc) Sums {
    if (P == 1) return acc;
    var sum: Sums = @splat(0);
    inline for (0..P) |q| sum +%= @shuffle(i32, acc, undefined, strideMask(L, P, q));
    return sum;
}

inline fn loadBytes(ptr: [*]const u8) Bytes {
    const p: *align(1) const Bytes = @ptrCast(ptr);
    return p.*;
}

inline fn load(comptime T: type, comptime n: u32, ptr: [*]const u8) @Vector(n, T) {
    const p: *align(1) const @Vector(n, T) = @ptrCast(ptr);
    return p.*;
}

/// Loads `count <= L` elements and zeros the rest.
inline fn loadPartial(comptime T: type, src: []const T, start: usize) @Vector(L, T) {
    if (start + L <= src.len) {
        return load(T, L, @ptrCast(src[start..].ptr));
    }
    var values: [L]T = @splat(0);
    for (src[start..], 0..) |value, i| values[i] = value;
    return values;
}

inline fn storePartial(comptime T: type, dst: []T, start: usize, values: @Vector(L, T)) void {
    if (start + L <= dst.len) {
        const p: *align(1) @Vector(L, T) = @ptrCast(dst[start..].ptr);
        p.* = values;
        return;
    }
    const array: [L]T = values;
    for (dst[start..], 0..) |*out, i| out.* = array[i];
}

/// Reads four activations of which only `count` (1..3) lie inside the row.
inline fn readTail(ptr: [*]const u8, count: u32) u32 {
    var word: u32 = 0;
    for (0..count) |i| word |= @as(u32, ptr[i]) << @intCast(8 * i);
    return word;
}

/// Whether a conv runs on im2col rows: inputs of fewer than 16 channels (the first layer of
/// an image model: 1 or 3 channels), where the per-tap work of the indirect microkernel —
/// bounds checks, pointers, a partial group of 1..3 bytes — costs more than the products.
/// The ResNet stem (7x7 stride 2, 3 channels) ran at 2.6 GMAC/s that way on AVX2. The rows
/// of one tile must fit the thread's scratch beside the zero-point row.
pub fn usesIm2col(s: Window2d, tile_pixels: u32) bool {
    if (s.in_c >= 16) return false;
    const zp_bytes = std.mem.alignForward(usize, std.mem.alignForward(usize, s.in_c, 4), 64);
    return zp_bytes + @as(usize, tile_pixels) * im2colRowBytes(s) <= limits.scratch_bytes_per_thread;
}

/// Bytes of one im2col row: every tap's channels padded to a multiple of 4.
fn im2colRowBytes(s: Window2d) usize {
    return @as(usize, s.kernel_h) * s.kernel_w * std.mem.alignForward(usize, s.in_c, 4);
}

/// acc[r] += the products of `n_groups` 4-channel groups of row `x[r]` with the weights of
/// one block, which hold `block * 4` bytes per group, group after group.
inline fn accumulate(acc: *[config.mr][config.nv]Acc, x: [config.mr][*]const u8, weights: [*]const u8, n_groups: usize) void {
    const group_bytes: usize = block * 4;
    for (0..n_groups) |g| {
        var w: [config.nv]Bytes = undefined;
        inline for (0..config.nv) |v| w[v] = loadBytes(weights + g * group_bytes + v * 4 * L);
        inline for (0..config.mr) |r| {
            const x4 = std.mem.readInt(u32, (x[r] + 4 * g)[0..4], .little);
            inline for (0..config.nv) |v| acc[r][v] = madd(acc[r][v], x4, w[v]);
        }
    }
}

/// One parallel job: a conv over all output pixels, split into tiles of `tile_pixels`, and
/// when the tiles are too few to keep every thread busy (the last layers: few pixels, many
/// channels), also into groups of `blocks_per_chunk` channel blocks. Chunk
/// `tile * block_groups + group` writes the disjoint outputs of one tile and one group.
pub fn Job(comptime kind: contract.Kind) type {
    return struct {
        const Self = @This();

        ctx: *Ctx,
        args: reference.Args,
        output: []contract.Out(kind),
        tile_pixels: u32,
        blocks_per_chunk: u32,
        /// Gather each tile's windows into im2col rows first (see `usesIm2col`).
        im2col: bool,

        pub fn run(job_context: *const anyopaque, chunk: u32, thread: u32) void {
            const self: *const Self = @ptrCast(@alignCast(job_context));
            const args = &self.args;
            const s = args.shape;
            // A padded tap reads this row of x_zp, as long as the widest channel group.
            const zp_row = self.ctx.scratchFor(thread)[0..std.mem.alignForward(usize, s.in_c, 4)];
            @memset(zp_row, args.x_zp);

            const pixels = s.outPixels();
            const blocks: u32 = @intCast(args.packing.blocks());
            const groups = std.math.divCeil(u32, blocks, self.blocks_per_chunk) catch unreachable;
            const tile = chunk / groups;
            const group = chunk % groups;
            const begin = @as(u64, tile) * self.tile_pixels;
            const end = @min(pixels, begin + self.tile_pixels);
            std.debug.assert(begin < end);
            const first_block = group * self.blocks_per_chunk;
            const last_block = @min(blocks, first_block + self.blocks_per_chunk);
            if (self.im2col) {
                const row_bytes = im2colRowBytes(s);
                const scratch = self.ctx.scratchFor(thread);
                const rows_start = std.mem.alignForward(usize, zp_row.len, 64);
                const count: usize = @intCast(end - begin);
                const a = scratch[rows_start..][0 .. count * row_bytes];
                self.fillIm2col(begin, count, a);
                for (first_block..last_block) |b| {
                    var m = begin;
                    while (m < end) : (m += config.mr) {
                        const rows: u32 = @intCast(@min(config.mr, end - m));
                        var x: [config.mr][*]const u8 = undefined;
                        // Rows past `rows` repeat the first row and are never stored.
                        inline for (0..config.mr) |r| {
                            const i: usize = @intCast(m - begin + (if (r < rows) r else 0));
                            x[r] = a[i * row_bytes ..].ptr;
                        }
                        var acc: [config.mr][config.nv]Acc = @splat(@splat(@splat(0)));
                        accumulate(&acc, x, self.blockWeights(@intCast(b)), row_bytes / 4);
                        self.epilogue(&acc, m, rows, @intCast(b));
                    }
                }
                return;
            }
            for (first_block..last_block) |b| {
                var m = begin;
                while (m < end) : (m += config.mr) {
                    const rows: u32 = @intCast(@min(config.mr, end - m));
                    self.microkernel(zp_row.ptr, m, rows, @intCast(b));
                }
            }
        }

        fn blockWeights(self: *const Self, b: u32) [*]const u8 {
            const packing = self.args.packing;
            return self.args.weights.ptr + @as(usize, @intCast(packing.weightsOffset() + b * packing.blockBytes()));
        }

        /// Writes the im2col rows of output pixels `first..first + count` to `a`: per pixel,
        /// tap after tap, the tap's `in_c` activations (`x_zp` outside the image) padded to
        /// the next multiple of 4 with bytes whose weights are 0, so each row is the packed
        /// weights' groups in order and the microkernel reads it with no bounds or tail checks.
        fn fillIm2col(self: *const Self, first: u64, count: usize, a: []u8) void {
            const args = &self.args;
            const s = args.shape;
            const tap_bytes: usize = std.mem.alignForward(usize, s.in_c, 4);
            const row_bytes = im2colRowBytes(s);
            std.debug.assert(a.len == count * row_bytes);
            const out_hw = @as(u64, s.outH()) * s.outW();
            const zp4 = @as(u32, args.x_zp) * 0x0101_0101;
            for (0..count) |i| {
                const pixel = first + i;
                const n = pixel / out_hw;
                const oy = (pixel % out_hw) / s.outW();
                const ox = pixel % s.outW();
                const image = args.input[@intCast(n * s.in_h * s.in_w * s.in_c)..];
                const y0 = @as(i64, @intCast(oy * s.stride_h)) - s.pad_top;
                const x0 = @as(i64, @intCast(ox * s.stride_w)) - s.pad_left;
                const dst = a[i * row_bytes ..][0..row_bytes];
                for (0..s.kernel_h) |ky| {
                    const iy = y0 + @as(i64, @intCast(ky));
                    for (0..s.kernel_w) |kx| {
                        const ix = x0 + @as(i64, @intCast(kx));
                        const tap = dst[(ky * s.kernel_w + kx) * tap_bytes ..][0..tap_bytes];
                        if (iy < 0 or iy >= s.in_h or ix < 0 or ix >= s.in_w) {
                            for (0..tap_bytes / 4) |g| std.mem.writeInt(u32, tap[4 * g ..][0..4], zp4, .little);
                            continue;
                        }
                        const at = (@as(usize, @intCast(iy)) * s.in_w + @as(usize, @intCast(ix))) * s.in_c;
                        if (at + tap_bytes <= image.len) {
                            // Whole u32 words: the bytes past `in_c` belong to the next pixel,
                            // but their weights are 0, so they add nothing.
                            for (0..tap_bytes / 4) |g| {
                                std.mem.writeInt(u32, tap[4 * g ..][0..4], std.mem.readInt(u32, image[at + 4 * g ..][0..4], .little), .little);
                            }
                        } else {
                            // The image's last pixel: never read past the input.
                            for (0..tap_bytes) |c| tap[c] = if (c < s.in_c) image[at + c] else 0;
                        }
                    }
                }
            }
        }

        const Row = struct { image: usize, iy: i64, ix: i64 };

        fn microkernel(self: *const Self, zp_row: [*]const u8, m: u64, rows: u32, b: u32) void {
            const args = &self.args;
            const s = args.shape;
            const packing = args.packing;
            const out_hw = @as(u64, s.outH()) * s.outW();
            var row: [config.mr]Row = undefined;
            inline for (0..config.mr) |r| {
                // Rows past `rows` repeat the first row and are never stored.
                const pixel = if (r < rows) m + r else m;
                const n = pixel / out_hw;
                const oy = (pixel % out_hw) / s.outW();
                const ox = pixel % s.outW();
                row[r] = .{
                    .image = @intCast(n * s.in_h * s.in_w * s.in_c),
                    .iy = @as(i64, @intCast(oy * s.stride_h)) - s.pad_top,
                    .ix = @as(i64, @intCast(ox * s.stride_w)) - s.pad_left,
                };
            }

            const groups: usize = @intCast(packing.groups());
            const full_groups: usize = s.in_c / 4;
            const tail: u32 = s.in_c % 4;
            const group_bytes: usize = block * 4;
            const weights = self.blockWeights(b);
            const input = args.input.ptr;

            var acc: [config.mr][config.nv]Acc = @splat(@splat(@splat(0)));
            for (0..s.kernel_h) |ky| {
                for (0..s.kernel_w) |kx| {
                    var x: [config.mr][*]const u8 = undefined;
                    inline for (0..config.mr) |r| {
                        const iy = row[r].iy + @as(i64, @intCast(ky));
                        const ix = row[r].ix + @as(i64, @intCast(kx));
                        x[r] = if (iy < 0 or iy >= s.in_h or ix < 0 or ix >= s.in_w)
                            zp_row
                        else
                            input + row[r].image + (@as(usize, @intCast(iy)) * s.in_w + @as(usize, @intCast(ix))) * s.in_c;
                    }
                    const tap_weights = weights + (ky * s.kernel_w + kx) * groups * group_bytes;
                    accumulate(&acc, x, tap_weights, full_groups);
                    if (tail != 0) {
                        var w: [config.nv]Bytes = undefined;
                        inline for (0..config.nv) |v| w[v] = loadBytes(tap_weights + full_groups * group_bytes + v * 4 * L);
                        inline for (0..config.mr) |r| {
                            const x4 = readTail(x[r] + 4 * full_groups, tail);
                            inline for (0..config.nv) |v| acc[r][v] = madd(acc[r][v], x4, w[v]);
                        }
                    }
                }
            }
            self.epilogue(&acc, m, rows, b);
        }

        inline fn epilogue(self: *const Self, acc: *const [config.mr][config.nv]Acc, m: u64, rows: u32, b: u32) void {
            const args = &self.args;
            const out_c = args.shape.out_c;
            const sums_base = args.weights.ptr + @as(usize, @intCast(args.packing.sumsOffset()));
            // Zero point (and neondot's -128 shift) folded out of the products:
            // sum((x + shift - shift - x_zp) * w) = dot + (-shift - x_zp) * sum(w).
            const zp_factor: Sums = @splat(-config.x_shift - @as(i32, args.x_zp));
            inline for (0..config.nv) |v| {
                const channel = b * block + v * L;
                if (channel < out_c) {
                    const sums = load(i32, L, sums_base + channel * 4);
                    const bias: Sums = if (args.bias) |bias| loadPartial(i32, bias, channel) else @splat(0);
                    const correction = bias +% zp_factor *% sums;
                    const scale: @Vector(L, f32) = if (kind == .i32) undefined else loadPartial(f32, args.scale, channel);
                    inline for (0..config.mr) |r| {
                        if (r < rows) {
                            const total = fold(acc[r][v]) +% correction;
                            const out_row = self.output[@intCast((m + r) * out_c)..][0..out_c];
                            storePartial(contract.Out(kind), out_row, channel, finish(total, scale, args.y_zp));
                        }
                    }
                }
            }
        }

        /// The output transform of the contract on one vector of channels.
        inline fn finish(total: Sums, scale: @Vector(L, f32), y_zp: u8) @Vector(L, contract.Out(kind)) {
            switch (kind) {
                .i32 => return total,
                .f32 => return @as(@Vector(L, f32), @floatFromInt(total)) * scale,
                .u8 => {
                    const low: @Vector(L, f32) = @splat(@floatFromInt(0 - @as(i32, y_zp)));
                    const high: @Vector(L, f32) = @splat(@floatFromInt(255 - @as(i32, y_zp)));
                    const scaled = @as(@Vector(L, f32), @floatFromInt(total)) * scale;
                    const clamped = @min(@max(scaled, low), high);
                    // MLAS's rounding: the magic number's mantissa ends in the rounded integer.
                    const magic: @Vector(L, f32) = @splat(contract.rounding_magic);
                    const bits: Sums = @bitCast(clamped + magic);
                    const rounded = bits - @as(Sums, @splat(contract.rounding_magic_bits));
                    return @intCast(rounded + @as(Sums, @splat(y_zp)));
                },
            }
        }
    };
}
