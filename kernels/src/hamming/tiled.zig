//! The SIMD variant `4xL__<isa>`: 4 row descriptors against L column descriptors per step,
//! L = `lanes` (8 on x86_64_v4, 4 elsewhere), generated from one generic function per
//! descriptor length (comptime `W` words).
//!
//! Layout: a tile of column descriptors is transposed into the thread's scratch as
//! `[block][word][lane]`, so word w of L consecutive columns is one vector. A row word is
//! broadcast, xored with that vector, popcounted per u64 lane and summed over the words:
//! L distances without any horizontal reduction. (One 512-bit descriptor per zmm would need
//! an 8-lane horizontal sum per pair; vectoring over descriptors avoids it at every level.)
//! On x86_64_v4 the popcount is `vpopcntq`; v3 uses LLVM's `vpshufb` nibble table + `vpsadbw`;
//! aarch64 `cnt` per byte, summed over the words before widening (`blockDistances`).
//!
//! Top-2 tracking packs each candidate into a u32 key `distance << 20 | index`
//! (`contract.key`), so each lane keeps its own best and second with one `min`, one `max`
//! and one `min`, branch-free; lanes are merged once at the end of a row. Keys are unique,
//! so the merge is exact and the result never depends on tiling or threads.

const std = @import("std");
const builtin = @import("builtin");
const cpu = @import("../cpu.zig");
const contract = @import("contract.zig");

/// Column descriptors per vector step.
pub const lanes: comptime_int = @max(4, cpu.vector_bytes / 8);
/// Row descriptors per step: each loaded column vector is used this many times.
pub const rows_per_step: comptime_int = 4;
/// Scratch bytes of one transposed column tile: it stays in L1 while every row of the
/// chunk streams over it.
pub const tile_bytes: usize = 32 * 1024;

pub const Words = @Vector(lanes, u64);
pub const Keys = @Vector(lanes, u32);

const key_none_v: Keys = @splat(contract.key_none);
const lane_iota: Keys = std.simd.iota(u32, lanes);

comptime {
    std.debug.assert(std.math.isPowerOfTwo(lanes));
    // The widest descriptor still leaves room for many blocks in one tile.
    std.debug.assert(tile_bytes / (contract.words_max * 8) >= 16 * lanes);
}

/// Columns in one tile for descriptors of `words` words: a multiple of `lanes`.
pub fn tileColumns(words: u32) u32 {
    const columns: u32 = @intCast(tile_bytes / (@as(usize, words) * 8));
    return columns / lanes * lanes;
}

/// A set of descriptors of one length.
pub const Set = struct {
    words: []const u64,
    count: u32,
};

/// Transposes columns [first, first + n) of `set` into `tile` as `[block][word][lane]`;
/// lanes past the end are zero (their keys are masked).
fn transpose(comptime W: usize, set: Set, first: u32, n: u32, tile: []Words) void {
    const blocks = (n + lanes - 1) / lanes;
    std.debug.assert(tile.len >= blocks * W);
    for (0..blocks) |b| {
        var block: [W][lanes]u64 = undefined;
        for (0..lanes) |l| {
            const column = b * lanes + l;
            if (column < n) {
                const source = set.words[(first + column) * W ..][0..W];
                for (0..W) |w| block[w][l] = source[w];
            } else {
                for (0..W) |w| block[w][l] = 0;
            }
        }
        for (0..W) |w| tile[b * W + w] = block[w];
    }
}

/// On aarch64 `cnt` counts bits per byte and widening to u64 lanes takes three pairwise adds
/// (`uaddlp`), so byte counts are summed over all words first (at most 16 words * 8 = 128
/// per byte, no overflow) and widened once per block instead of once per word. x86 keeps
/// u64 lanes: `vpopcntq` on v4, and on v3 LLVM's nibble-table popcount already ends in one
/// `vpsadbw` per word, as cheap as a final widening.
const accumulate_bytes = builtin.cpu.arch == .aarch64;

comptime {
    std.debug.assert(contract.words_max * 8 <= std.math.maxInt(u8));
}

const Neon = @Vector(16, u8);
extern fn @"llvm.aarch64.neon.uaddlp.v8i16.v16i8"(Neon) @Vector(8, u16);
extern fn @"llvm.aarch64.neon.uaddlp.v4i32.v8i16"(@Vector(8, u16)) @Vector(4, u32);
extern fn @"llvm.aarch64.neon.uaddlp.v2i64.v4i32"(@Vector(4, u32)) @Vector(2, u64);

/// Sums each group of 8 byte counts into its u64 lane.
inline fn widenByteCounts(counts: @Vector(lanes * 8, u8)) Words {
    const parts: [lanes / 2]Neon = @bitCast(counts);
    var sums: [lanes / 2]@Vector(2, u64) = undefined;
    inline for (parts, 0..) |part, i| {
        const halves = @"llvm.aarch64.neon.uaddlp.v8i16.v16i8"(part);
        sums[i] = @"llvm.aarch64.neon.uaddlp.v2i64.v4i32"(@"llvm.aarch64.neon.uaddlp.v4i32.v8i16"(halves));
    }
    return @bitCast(sums);
}

/// Distances of one row descriptor to the L columns of one transposed block.
inline fn blockDistances(comptime W: usize, block: *const [W]Words, row: *const [W]u64) Words {
    if (accumulate_bytes) {
        const Bytes = @Vector(lanes * 8, u8);
        var counts: Bytes = @splat(0);
        inline for (0..W) |w| {
            const x: Bytes = @bitCast(block[w] ^ @as(Words, @splat(row[w])));
            counts += @as(Bytes, @intCast(@popCount(x)));
        }
        return widenByteCounts(counts);
    }
    var sum: Words = @splat(0);
    inline for (0..W) |w| {
        const x = block[w] ^ @as(Words, @splat(row[w]));
        sum += @as(Words, @intCast(@popCount(x)));
    }
    return sum;
}

/// Best and second key of every lane for one row.
pub const Top2 = struct {
    best: Keys = key_none_v,
    second: Keys = key_none_v,

    inline fn update(self: *Top2, k: Keys) void {
        const larger = @max(self.best, k);
        self.best = @min(self.best, k);
        self.second = @min(self.second, larger);
    }

    /// Merges the lanes: the overall best and the overall second key.
    pub fn finish(self: Top2) struct { best: u32, second: u32 } {
        const best = @reduce(.Min, self.best);
        // Keys are unique, so only the winning lane equals `best` (unless all are none).
        const others = @select(u32, self.best == @as(Keys, @splat(best)), key_none_v, self.best);
        const second = @min(@reduce(.Min, self.second), @reduce(.Min, others));
        return .{ .best = best, .second = second };
    }
};

/// Updates `state[i]` with every column of `columns` for row descriptor `rows[i]`.
/// `rows` holds word offsets into `row_set`. `tile` is the thread's scratch.
pub fn scanTop2(comptime W: usize, row_set: []const u64, rows: []const u32, columns: Set, tile: []Words, state: []Top2) void {
    std.debug.assert(rows.len == state.len and rows.len > 0);
    const per_tile = tileColumns(W);
    var first: u32 = 0;
    while (first < columns.count) : (first += per_tile) {
        const n = @min(per_tile, columns.count - first);
        transpose(W, columns, first, n, tile);
        var r: usize = 0;
        while (r < rows.len) : (r += rows_per_step) {
            // A short last step repeats its last row; the repeats are computed, not kept.
            var ptrs: [rows_per_step]*const [W]u64 = undefined;
            var top: [rows_per_step]Top2 = undefined;
            inline for (0..rows_per_step) |i| {
                const row = @min(r + i, rows.len - 1);
                ptrs[i] = row_set[rows[row]..][0..W];
                top[i] = state[row];
            }
            scanTile(W, ptrs, &top, tile, first, n);
            for (0..@min(rows_per_step, rows.len - r)) |i| state[r + i] = top[i];
        }
    }
}

fn scanTile(comptime W: usize, ptrs: [rows_per_step]*const [W]u64, top: *[rows_per_step]Top2, tile: []const Words, first: u32, n: u32) void {
    const full = n / lanes;
    var b: u32 = 0;
    while (b < full) : (b += 1) {
        const block: *const [W]Words = tile[b * W ..][0..W];
        const column = lane_iota + @as(Keys, @splat(first + b * lanes));
        inline for (0..rows_per_step) |i| {
            const d: Keys = @intCast(blockDistances(W, block, ptrs[i]));
            top[i].update(d << @splat(contract.index_bits) | column);
        }
    }
    if (n % lanes != 0) {
        const block: *const [W]Words = tile[full * W ..][0..W];
        const column = lane_iota + @as(Keys, @splat(first + full * lanes));
        const valid = lane_iota < @as(Keys, @splat(n % lanes));
        inline for (0..rows_per_step) |i| {
            const d: Keys = @intCast(blockDistances(W, block, ptrs[i]));
            top[i].update(@select(u32, valid, d << @splat(contract.index_bits) | column, key_none_v));
        }
    }
}

/// Writes the distances of row descriptors `rows` (word offsets into `row_set`) to every
/// column: row i's distances go to `out[i*columns.count ..]`.
pub fn scanDistances(comptime W: usize, row_set: []const u64, rows: []const u32, columns: Set, tile: []Words, out: []u16) void {
    std.debug.assert(out.len == rows.len * columns.count);
    const per_tile = tileColumns(W);
    const stride = columns.count;
    var first: u32 = 0;
    while (first < columns.count) : (first += per_tile) {
        const n = @min(per_tile, columns.count - first);
        transpose(W, columns, first, n, tile);
        var r: usize = 0;
        while (r < rows.len) : (r += rows_per_step) {
            const step = @min(rows_per_step, rows.len - r);
            var ptrs: [rows_per_step]*const [W]u64 = undefined;
            inline for (0..rows_per_step) |i| ptrs[i] = row_set[rows[@min(r + i, rows.len - 1)]..][0..W];
            const blocks = (n + lanes - 1) / lanes;
            for (0..blocks) |b| {
                const block: *const [W]Words = tile[b * W ..][0..W];
                const column = first + b * lanes;
                const valid = @min(lanes, n - b * lanes);
                inline for (0..rows_per_step) |i| {
                    if (i < step) {
                        const d: @Vector(lanes, u16) = @intCast(blockDistances(W, block, ptrs[i]));
                        const target = out[(r + i) * stride + column ..];
                        if (valid == lanes) {
                            target[0..lanes].* = d;
                        } else {
                            const array: [lanes]u16 = d;
                            @memcpy(target[0..valid], array[0..valid]);
                        }
                    }
                }
            }
        }
    }
}
