//! Repacks binary conv weights from the ABI layout `[out_c][kh][kw][words]` into the blocked
//! layout the kernels read (`contract.packedWords`): for each block of 8 output channels,
//! `[k][8]` words with k = (ky*kw + kx)*words + w, then the per-tap weight popcounts.
//! Done once per layer at model load.

const std = @import("std");
const contract = @import("contract.zig");
const status = @import("../status.zig");
const Ctx = @import("../ctx.zig").Ctx;

const block = contract.block;

/// Sizes of one weight tensor, validated by the caller.
pub const Dims = struct {
    out_c: u32,
    kernel_h: u32,
    kernel_w: u32,
    in_c: u32,

    pub fn words(self: Dims) u32 {
        return (self.in_c + 63) / 64;
    }
    pub fn taps(self: Dims) u32 {
        return self.kernel_h * self.kernel_w;
    }
    pub fn kWords(self: Dims) usize {
        return @as(usize, self.taps()) * self.words();
    }
    pub fn blocks(self: Dims) u32 {
        return (self.out_c + block - 1) / block;
    }
    pub fn abiWords(self: Dims) u64 {
        return @as(u64, self.out_c) * self.kWords();
    }
    pub fn packedWords(self: Dims) u64 {
        return contract.packedWords(self.out_c, self.kernel_h, self.kernel_w, self.in_c);
    }
};

/// The views of a packed weight buffer.
pub const Packed = struct {
    dims: Dims,
    /// `[blocks][k_words][8]`.
    blocked: []const u64,
    /// `[taps][blocks*8]`: popcount of each output channel's weights at each tap.
    popcounts: []const u32,

    pub fn view(dims: Dims, words: []const u64) Packed {
        std.debug.assert(words.len >= dims.packedWords());
        const blocked_len = @as(usize, dims.blocks()) * dims.kWords() * block;
        const pop_len = @as(usize, dims.taps()) * dims.blocks() * block;
        const pop_words = words[blocked_len..][0 .. (pop_len + 1) / 2];
        return .{
            .dims = dims,
            .blocked = words[0..blocked_len],
            .popcounts = std.mem.bytesAsSlice(u32, std.mem.sliceAsBytes(pop_words))[0..pop_len],
        };
    }
};

/// Packs `source` (ABI layout) into `target`. Refuses weights with bits set in the channel
/// tail: they would be counted against the input's 0 tail bits.
pub fn pack(ctx: *Ctx, dims: Dims, source: []const u64, target: []u64) status.Error!void {
    std.debug.assert(source.len >= dims.abiWords() and target.len >= dims.packedWords());
    const words = dims.words();
    const k_words = dims.kWords();
    const tail_bits = dims.in_c % 64;
    if (tail_bits != 0) {
        const tail_mask = ~((@as(u64, 1) << @intCast(tail_bits)) - 1);
        var index: usize = words - 1;
        while (index < dims.abiWords()) : (index += words) {
            if (source[index] & tail_mask != 0) {
                const o = index / k_words;
                return ctx.fail(error.InvalidArgument, "weights of output channel {d} have bits set past in_c {d} (word {d})", .{ o, dims.in_c, index });
            }
        }
    }
    const blocked_len = @as(usize, dims.blocks()) * k_words * block;
    const taps = dims.taps();
    const padded_c = dims.blocks() * block;
    @memset(target[0..@intCast(dims.packedWords())], 0);
    const popcounts: []u32 = std.mem.bytesAsSlice(u32, std.mem.sliceAsBytes(target[blocked_len..]))[0 .. @as(usize, taps) * padded_c];
    for (0..dims.out_c) |o| {
        const b = o / block;
        const lane = o % block;
        for (0..k_words) |k| target[(b * k_words + k) * block + lane] = source[o * k_words + k];
        for (0..taps) |tap| {
            var count: u32 = 0;
            for (source[o * k_words + tap * words ..][0..words]) |word| count += @popCount(word);
            popcounts[tap * padded_c + o] = count;
        }
    }
}

test "pack places channel o of block b at lane o % 8 and counts tap popcounts" {
    const ctx = try Ctx.create(std.testing.allocator, 1, 0);
    defer ctx.destroy();
    const dims: Dims = .{ .out_c = 9, .kernel_h = 1, .kernel_w = 2, .in_c = 70 };
    var source: [9 * 2 * 2]u64 = undefined;
    for (&source, 0..) |*word, i| word.* = if (i % 2 == 1) @as(u64, i) & 0x3f else @as(u64, i) *% 0x9e3779b97f4a7c15;
    var target: [256]u64 = undefined;
    try pack(ctx, dims, &source, &target);
    const view = Packed.view(dims, &target);
    // Channel 8 is lane 0 of block 1; tap 1 word 0 is k = 2.
    try std.testing.expectEqual(source[8 * 4 + 2], view.blocked[(1 * 4 + 2) * 8 + 0]);
    try std.testing.expectEqual(@as(u64, 0), view.blocked[(1 * 4 + 2) * 8 + 1]);
    const expected_pop = @popCount(source[8 * 4 + 2]) + @popCount(source[8 * 4 + 3]);
    try std.testing.expectEqual(@as(u32, expected_pop), view.popcounts[1 * 16 + 8]);
    source[1] = 1 << 10;
    try std.testing.expectError(error.InvalidArgument, pack(ctx, dims, &source, &target));
}
