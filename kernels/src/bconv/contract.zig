//! Binary convolution: the contract every variant keeps.
//!
//! Bits (DESIGN.md section 3, as Larq Compute Engine): bit 1 = -1, bit 0 = +1. Activations
//! are NHWC with channels packed little-endian into u64 words (channel c is bit c%64 of word
//! c/64, `words = ceil(C/64)` per pixel) and the channel tail padded with 0 bits.
//!
//! Weights at the ABI are packed the same way per output channel: `[out_c][kh][kw][words]`
//! u64, tail bits 0. `ob_bconv2d_pack_weights` turns them, once at model load, into the
//! blocked layout the kernels read (see `packedWords`).
//!
//! Accumulator: for output pixel p and channel o, `acc = sum over taps and channels of
//! x*w` with x, w in {-1, +1}, computed as `K - 2*popcount(x XOR w)` where K counts real
//! input channels times taps. Padded taps read:
//!   - `plus_one` (default): +1, i.e. 0 bits — free;
//!   - `minus_one`: -1, i.e. 1 bits on real channels — free;
//!   - `zero`: 0; the padded taps contribute nothing, which the kernel applies as a
//!     per-position correction `-(C - 2*popcount(w[o][tap]))` for every padded tap.
//!
//! Output transforms (`transform.zig`), per output channel o:
//!   - binary: bit = flip[o] ? acc > threshold[o] : acc < threshold[o]
//!     (the sign bit of flip·(acc - threshold), so value +1 when acc reaches the threshold);
//!   - int32: acc;
//!   - float: f32(acc) * mul[o] + bias[o];
//!   - int8: rne(clamp(f32(acc) * mul[o] + bias[o], qmin, qmax)) as i8 (round half to even);
//!   - join (BiNeal block join): q = rne(clamp(f32(acc) * mul[o] + bias[o], qmin, qmax)),
//!     s = clamp(q + residual[p][o], qmin, qmax) (a saturating INT4 add with qmin=-8,
//!     qmax=7), bit = flip[o] ? s > threshold[o] : s < threshold[o].
//! f32 arithmetic is two separate IEEE operations (no fused multiply-add), so every variant
//! and every CPU level give the same bits.

const std = @import("std");

/// Spatial padding value of a binary convolution.
pub const Pad = enum(u32) {
    plus_one = 0,
    minus_one = 1,
    zero = 2,
};

/// Output transform of a binary convolution or dense layer.
pub const Kind = enum(u32) {
    binary = 0,
    int32 = 1,
    float = 2,
    int8 = 3,
    join = 4,
};

/// Output channels per weight block: one block is 8 words = one 64-byte cache line per
/// input word, and its 8 output bits form one byte of the packed output.
pub const block: u32 = 8;

/// Words of the blocked weight layout for a conv of these sizes:
/// `[ceil(out_c/8)][kh*kw*words][8]` u64 (blocks padded with zero channels), then the
/// per-tap popcounts of each weight `[kh*kw][ceil(out_c/8)*8]` u32, two per word, used by
/// zero padding.
pub fn packedWords(out_c: u32, kernel_h: u32, kernel_w: u32, in_c: u32) u64 {
    const blocks: u64 = (out_c + block - 1) / block;
    const taps: u64 = @as(u64, kernel_h) * kernel_w;
    const k_words = taps * ((in_c + 63) / 64);
    const popcounts = taps * blocks * block;
    return blocks * k_words * block + (popcounts + 1) / 2;
}

/// Number of 4-byte per-channel parameters a transform reads (thresholds, flips, mul, bias),
/// in this order within the one `channel` buffer:
///   binary: threshold i32[out_c], flip i32[out_c]
///   int32:  nothing
///   float:  mul f32[out_c], bias f32[out_c]
///   int8:   mul f32[out_c], bias f32[out_c]
///   join:   mul f32[out_c], bias f32[out_c], threshold i32[out_c], flip i32[out_c]
pub fn channelParams(kind: Kind, out_c: u32) u64 {
    const per: u64 = switch (kind) {
        .binary => 2,
        .int32 => 0,
        .float, .int8 => 2,
        .join => 4,
    };
    return per * out_c;
}

/// Bytes of the output of `pixels` output pixels.
pub fn outputBytes(kind: Kind, pixels: u64, out_c: u32) u64 {
    return switch (kind) {
        .binary, .join => pixels * ((out_c + 63) / 64) * 8,
        .int32, .float => pixels * out_c * 4,
        .int8 => pixels * out_c,
    };
}

test "packedWords counts blocks, taps and popcounts" {
    // 65 channels in and out, 3x3: 9 blocks of 8 (72 >= 65), 9 taps x 2 words.
    try std.testing.expectEqual(@as(u64, 9 * 18 * 8 + (9 * 72) / 2), packedWords(65, 3, 3, 65));
}
