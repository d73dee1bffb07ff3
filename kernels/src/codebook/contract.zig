//! Codebook convolution (sparse kernel selection, Wang et al., CVPR 2023): the contract
//! every variant keeps.
//!
//! A layer keeps a codebook of `2^tau` binary 3x3 codewords (tau 1..8; the paper uses 4..6)
//! and one tau-bit index per (out_c, in_c) kernel:
//!   - codeword j: u16 `codebook[j] < 512`, bit t = tap t in row-major order (t = ky*3 + kx),
//!     bit 1 = -1, bit 0 = +1 (DESIGN.md section 3);
//!   - indices: u8 `[out_c][in_c]`, each `< 2^tau`.
//! The weight of output channel o on input channel c is codeword `indices[o][c]`.
//!
//! `ob_codebook_expand` writes those weights in the binary conv's ABI layout
//! `[out_c][3][3][ceil(in_c/64)]` u64: channel c of tap t is bit c%64 of word c/64 and is
//! bit t of codeword `indices[o][c]`; tail bits are 0. With them, `ob_bconv2d_pack_weights`
//! and `ob_bconv2d` compute exactly the same outputs as `ob_codebook_conv2d`.
//!
//! `ob_codebook_conv2d` is a 3x3 binary convolution (`bconv/contract.zig`: packed NHWC
//! input, stride and padding from `shape.Window2d` with kernel 3x3, pad values +1 / -1 /
//! zero, the same accumulator `acc` and the same output transforms, `transform.zig`)
//! computed by gathering: per output pixel and input channel c the response of every
//! codeword to that channel's 3x3 input patch x is
//!     r[c][j] = sum over taps t of x[t] * w_j[t]   (x, w in {-1, +1}; a zero-padded tap
//!                                                   contributes 0)
//! and `acc[o] = sum over c of r[c][indices[o][c]]`.
//!
//! It reads the layer in a packed form made once at model load by `ob_codebook_pack`
//! (`packedBytes` / `ob_codebook_packed_words`), laid out in sections 64-byte aligned:
//!   header    16 u32: magic "OBCB", version, tau, out_c, in_c, then zeros;
//!   codebook  256 u16: the codewords (zeros past 2^tau);
//!   table     i8 `[512][row_bytes]`, row_bytes = max(16, 2^tau): table[p][j] = the response
//!             `9 - 2*popcount(p ^ codebook[j])` of codeword j to the 9-bit patch p (0 past
//!             2^tau): one row per patch, so a channel's responses are one row;
//!   tap_sums  i32 `[9][out_c_pad]`: sum over c of the weight (+1/-1) of (o, c) at tap t,
//!             the correction a zero-padded tap needs (0 for padding channels);
//!   indices   u8 `[out_c_pad/64][in_c][64]`: index (o, c) at [o/64][c][o%64] (0 for
//!             padding channels), so 64 output channels of one input channel are contiguous;
//! with out_c_pad = out_c rounded up to 64. The layout is the same on every CPU level. A
//! buffer not made by `ob_codebook_pack` gives unspecified (but memory-safe) outputs.

const std = @import("std");
const limits = @import("../limits.zig");

pub const taps: u32 = 9;
pub const tau_max: u32 = 8;
pub const codewords_max: u32 = 1 << tau_max;
/// Distinct 9-bit patches (and the bound on a codeword).
pub const patches: u32 = 1 << taps;
/// Output channels of one index block.
pub const block: u32 = 64;
/// "OBCB" little-endian.
pub const magic: u32 = 0x4243_424f;
pub const version: u32 = 1;

pub const header_bytes: u64 = 64;
pub const codebook_bytes: u64 = codewords_max * 2;

comptime {
    std.debug.assert(limits.channels_max % block == 0);
    // A tap sum is at most in_c in magnitude; an accumulator at most 9 * in_c.
    std.debug.assert(9 * limits.channels_max < std.math.maxInt(i32));
}

pub fn rowBytes(tau: u32) u32 {
    std.debug.assert(tau >= 1 and tau <= tau_max);
    return @max(16, @as(u32, 1) << @intCast(tau));
}

pub fn outPadded(out_c: u32) u32 {
    return (out_c + block - 1) / block * block;
}

/// Byte offsets of the sections of a packed layer.
pub const Layout = struct {
    tau: u32,
    out_c: u32,
    in_c: u32,
    codebook: u64,
    table: u64,
    tap_sums: u64,
    indices: u64,
    bytes: u64,

    pub fn of(tau: u32, out_c: u32, in_c: u32) Layout {
        const codebook = header_bytes;
        const table = codebook + codebook_bytes;
        const tap_sums = table + alignUp(@as(u64, patches) * rowBytes(tau));
        const indices = tap_sums + alignUp(@as(u64, taps) * outPadded(out_c) * 4);
        const bytes = indices + @as(u64, outPadded(out_c)) * in_c;
        return .{ .tau = tau, .out_c = out_c, .in_c = in_c, .codebook = codebook, .table = table, .tap_sums = tap_sums, .indices = indices, .bytes = bytes };
    }

    pub fn words(self: Layout) u64 {
        return (self.bytes + 7) / 8;
    }

    fn alignUp(bytes: u64) u64 {
        return (bytes + 63) / 64 * 64;
    }
};

/// Typed views of a packed layer (the buffer is 8-byte aligned; sections 64-byte offsets).
pub const Packed = struct {
    layout: Layout,
    codebook: []const u16,
    table: []const i8,
    tap_sums: []const i32,
    indices: []const u8,

    pub fn view(layout: Layout, packed_words: []const u64) Packed {
        std.debug.assert(packed_words.len >= layout.words());
        const bytes = std.mem.sliceAsBytes(packed_words);
        const out_pad = outPadded(layout.out_c);
        return .{
            .layout = layout,
            .codebook = @alignCast(std.mem.bytesAsSlice(u16, bytes[layout.codebook..][0..codebook_bytes])),
            .table = @ptrCast(bytes[layout.table..][0 .. patches * rowBytes(layout.tau)]),
            .tap_sums = @alignCast(std.mem.bytesAsSlice(i32, bytes[layout.tap_sums..][0 .. taps * out_pad * 4])),
            .indices = bytes[layout.indices..][0 .. out_pad * layout.in_c],
        };
    }

    /// The index of kernel (o, c).
    pub fn index(self: Packed, o: usize, c: usize) u8 {
        return self.indices[((o / block) * self.layout.in_c + c) * block + o % block];
    }
};

/// The response of a codeword to a patch over the taps in `valid` (all taps unless zero
/// padding removes some): valid taps that agree add 1, those that differ subtract 1.
pub fn response(patch: u32, codeword: u32, valid: u32) i32 {
    const count: i32 = @popCount(valid);
    return count - 2 * @as(i32, @popCount((patch ^ codeword) & valid));
}

test "codebook layout sections are 64-byte aligned and hold their data" {
    const layout = Layout.of(6, 65, 3);
    try std.testing.expectEqual(@as(u64, 64), layout.codebook);
    try std.testing.expectEqual(@as(u64, 576), layout.table);
    try std.testing.expectEqual(@as(u64, 576 + 512 * 64), layout.tap_sums);
    try std.testing.expectEqual(layout.tap_sums + 9 * 128 * 4, layout.indices);
    try std.testing.expectEqual(layout.indices + 128 * 3, layout.bytes);
    try std.testing.expectEqual(@as(u32, 16), rowBytes(2));
}
