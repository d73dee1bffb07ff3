//! Int8 convolution (u8 activations x s8 weights): the contract every variant keeps. It is
//! the 8-bit baseline of the benchmarks and the first and last layer of binary networks, and
//! it matches ONNX Runtime's QLinearConv (x u8, w s8, y u8, MLAS requantization) bit for bit.
//!
//! Shapes (`shape.Window2d`): input x is NHWC u8 `[batch][in_h][in_w][in_c]` with zero point
//! `x_zp` (0..255); weights w are s8 `[out_c][kernel_h][kernel_w][in_c]`, symmetric (zero
//! point 0, every value -128..127 allowed); optional bias is i32 `[out_c]`; the output is
//! NHWC `[batch][out_h][out_w][out_c]`. Any kernel size up to `limits.kernel_max`, any stride
//! up to `limits.stride_max`, explicit pads (each below the kernel size).
//!
//! Accumulator, for output pixel p and channel o:
//!     acc = bias[o] + sum over taps (ky, kx) and channels c of (x[iy][ix][c] - x_zp) * w[o][ky][kx][c]
//! where a padded tap reads x = x_zp, so it adds nothing. Arithmetic is int32 and wraps
//! modulo 2^32 (as MLAS): with `kernel_h * kernel_w * in_c <= 65793` (2^31 / (255 * 128), rounded down)
//! it never wraps.
//!
//! Output kinds:
//!   - `u8` (requantized, QLinearConv): with `scale[o]` = f32(x_scale * w_scale[o] / y_scale)
//!     computed by the caller (TypeScript `requantScales` rounds like ONNX Runtime does),
//!         f = f32(acc) * scale[o]                        (one f32 multiply, no FMA)
//!         f = min(max(f, f32(0 - y_zp)), f32(255 - y_zp))
//!         y = round_half_to_even(f) + y_zp                (MLAS: f + 12582912.0, take bits)
//!   - `i32`: acc itself;
//!   - `f32` (dequantized): f32(acc) * scale[o], with `scale[o]` = x_scale * w_scale[o].
//! Scales must be finite. Every variant and CPU level gives the same bits.
//!
//! Packed weights: `ob_qconv2d_pack_weights` turns the ABI layout, once at model load, into
//! the blocked layout the kernels read. The packed buffer is opaque to callers and specific
//! to the library level that packed it (the block width differs); a conv refuses packed
//! weights whose header does not match its shape or its level. Layout, byte offsets from the
//! start of the buffer:
//!     [0, 64)             `Header`
//!     [64, 64 + sums)     weight sums i32 `[blocks * block]` (sum over taps and channels of
//!                         w[o]; 0 for padding channels), `sums` rounded up to 64 bytes
//!     then                weights i8 `[blocks][taps][groups][block][4]`: output channel
//!                         `b * block + j`, tap `ky * kernel_w + kx`, channels `4g .. 4g+3`
//!                         (channels past `in_c` and output channels past `out_c` are 0).
//! `groups = ceil(in_c / 4)`. Four consecutive channels of one output channel sit in one
//! 32-bit lane: that is what `vpdpbusd` / `sdot` and the pairwise `pmaddwd` consume.

const std = @import("std");
const limits = @import("../limits.zig");

/// Identifies a packed-weight buffer: "OBQW" little-endian.
pub const magic: u32 = 0x5751_424F;

/// Fixed-size head of a packed-weight buffer.
pub const Header = extern struct {
    magic: u32,
    /// Output channels per block of the packing library (its `block`).
    block: u32,
    out_c: u32,
    kernel_h: u32,
    kernel_w: u32,
    in_c: u32,
    reserved: [10]u32 = @splat(0),
};

pub const header_bytes: usize = 64;

comptime {
    std.debug.assert(@sizeOf(Header) == header_bytes);
}

/// Output kinds of `conv2d` (see the contract above).
pub const Kind = enum { u8, i32, f32 };

/// Output element type of a kind.
pub fn Out(comptime kind: Kind) type {
    return switch (kind) {
        .u8 => u8,
        .i32 => i32,
        .f32 => f32,
    };
}

/// Sizes of a packed-weight buffer for one block width.
pub const Packing = struct {
    block: u32,
    out_c: u32,
    kernel_h: u32,
    kernel_w: u32,
    in_c: u32,

    pub fn blocks(self: Packing) u64 {
        return (self.out_c + self.block - 1) / self.block;
    }

    pub fn taps(self: Packing) u64 {
        return @as(u64, self.kernel_h) * self.kernel_w;
    }

    pub fn groups(self: Packing) u64 {
        return (self.in_c + 3) / 4;
    }

    /// Bytes of one block's weights: `[taps][groups][block][4]`.
    pub fn blockBytes(self: Packing) u64 {
        return self.taps() * self.groups() * self.block * 4;
    }

    /// Byte offset of the weight sums.
    pub fn sumsOffset(self: Packing) u64 {
        _ = self;
        return header_bytes;
    }

    /// Byte offset of the blocked weights (64-byte aligned relative to the buffer).
    pub fn weightsOffset(self: Packing) u64 {
        const sums_bytes = self.blocks() * self.block * 4;
        return header_bytes + std.mem.alignForward(u64, sums_bytes, 64);
    }

    pub fn totalBytes(self: Packing) u64 {
        return self.weightsOffset() + self.blocks() * self.blockBytes();
    }

    /// Byte offset of weight (o, ky, kx, c) inside the buffer.
    pub fn weightOffset(self: Packing, o: u32, ky: u32, kx: u32, c: u32) u64 {
        std.debug.assert(o < self.out_c and ky < self.kernel_h and kx < self.kernel_w and c < self.in_c);
        const b = o / self.block;
        const j = o % self.block;
        const tap = @as(u64, ky) * self.kernel_w + kx;
        const g = c / 4;
        return self.weightsOffset() + b * self.blockBytes() +
            ((tap * self.groups() + g) * self.block + j) * 4 + c % 4;
    }
};

/// Largest `kernel_h * kernel_w * in_c` for which the int32 accumulator cannot wrap.
pub const exact_k_max: u32 = 65793;

comptime {
    std.debug.assert(@as(u64, exact_k_max) * 255 * 128 <= std.math.maxInt(i32));
    std.debug.assert(@as(u64, exact_k_max + 1) * 255 * 128 > std.math.maxInt(i32));
    // The zero-point row of a padded tap lives in the thread's scratch.
    std.debug.assert(limits.channels_max + 64 <= limits.scratch_bytes_per_thread);
}

/// MLAS rounds with this magic number: adding 1.5 * 2^23 to a float in (-2^22, 2^22)
/// leaves the integer nearest to it (ties to even) in the low mantissa bits.
pub const rounding_magic: f32 = 12582912.0;
pub const rounding_magic_bits: i32 = 0x4B40_0000;

comptime {
    std.debug.assert(@as(i32, @bitCast(rounding_magic)) == rounding_magic_bits);
}
