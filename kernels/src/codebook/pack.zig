//! Load-time transforms of a codebook layer (validated by the caller): `expand` to the binary
//! conv's weights and `pack` to the gather kernel's layout (`contract.zig`). Both run once
//! per layer when a model loads, so they are plain loops.

const std = @import("std");
const contract = @import("contract.zig");

/// A validated codebook layer as it crosses the ABI.
pub const Layer = struct {
    tau: u32,
    out_c: u32,
    in_c: u32,
    /// `2^tau` codewords, each `< 512`.
    codebook: []const u16,
    /// `[out_c][in_c]`, each `< 2^tau`.
    indices: []const u8,

    pub fn words(self: Layer) u32 {
        return (self.in_c + 63) / 64;
    }

    pub fn codeword(self: Layer, o: usize, c: usize) u16 {
        return self.codebook[self.indices[o * self.in_c + c]];
    }
};

/// Words of the expanded weights `[out_c][3][3][words]`.
pub fn expandedWords(out_c: u32, in_c: u32) u64 {
    return @as(u64, out_c) * contract.taps * ((in_c + 63) / 64);
}

pub fn expand(layer: Layer, weights: []u64) void {
    const words = layer.words();
    std.debug.assert(weights.len == expandedWords(layer.out_c, layer.in_c));
    @memset(weights, 0);
    for (0..layer.out_c) |o| {
        const kernel = weights[o * contract.taps * words ..][0 .. contract.taps * words];
        for (0..layer.in_c) |c| {
            const code = layer.codeword(o, c);
            const bit = @as(u64, 1) << @intCast(c % 64);
            for (0..contract.taps) |t| {
                if ((code >> @intCast(t)) & 1 != 0) kernel[t * words + c / 64] |= bit;
            }
        }
    }
}

pub fn pack(layer: Layer, packed_words: []u64) void {
    const layout = contract.Layout.of(layer.tau, layer.out_c, layer.in_c);
    std.debug.assert(packed_words.len >= layout.words());
    @memset(packed_words, 0);
    const bytes = std.mem.sliceAsBytes(packed_words);
    const header: []u32 = @alignCast(std.mem.bytesAsSlice(u32, bytes[0..contract.header_bytes]));
    header[0] = contract.magic;
    header[1] = contract.version;
    header[2] = layer.tau;
    header[3] = layer.out_c;
    header[4] = layer.in_c;

    const view = contract.Packed.view(layout, packed_words);
    const codebook: []u16 = @constCast(view.codebook);
    const table: []i8 = @constCast(view.table);
    const tap_sums: []i32 = @constCast(view.tap_sums);
    const indices: []u8 = @constCast(view.indices);
    const codewords = @as(u32, 1) << @intCast(layer.tau);
    const row_bytes = contract.rowBytes(layer.tau);
    const all_taps = (1 << contract.taps) - 1;

    @memcpy(codebook[0..codewords], layer.codebook);
    for (0..contract.patches) |p| {
        for (0..codewords) |j| {
            table[p * row_bytes + j] = @intCast(contract.response(@intCast(p), layer.codebook[j], all_taps));
        }
    }
    const out_pad = contract.outPadded(layer.out_c);
    for (0..layer.out_c) |o| {
        for (0..layer.in_c) |c| {
            const index = layer.indices[o * layer.in_c + c];
            indices[((o / contract.block) * layer.in_c + c) * contract.block + o % contract.block] = index;
            const code = layer.codebook[index];
            for (0..contract.taps) |t| {
                tap_sums[t * out_pad + o] += if ((code >> @intCast(t)) & 1 != 0) -1 else 1;
            }
        }
    }
}
