//! The binary convolution in plain loops, straight from the contract: for every output pixel,
//! channel and tap, read the input word (or the pad value), xor, popcount. Never fast,
//! obviously right; every other variant is compared with it bit for bit.

const std = @import("std");
const contract = @import("contract.zig");
const Transform = @import("transform.zig").Transform;
const Window2d = @import("../shape.zig").Window2d;
const Packed = @import("pack.zig").Packed;

/// Weight word k = (ky*kw + kx)*words + w of output channel o, read from the blocked layout.
fn weightAt(weights: Packed, o: usize, k: usize) u64 {
    return weights.blocked[((o / contract.block) * weights.dims.kWords() + k) * contract.block + o % contract.block];
}

pub fn conv2d(shape: Window2d, pad: contract.Pad, input: []const u64, weights: Packed, transform: Transform) void {
    const words = (shape.in_c + 63) / 64;
    const out_h = shape.outH();
    const out_w = shape.outW();
    const tail_bits = shape.in_c % 64;
    const tail_mask: u64 = if (tail_bits == 0) ~@as(u64, 0) else (@as(u64, 1) << @intCast(tail_bits)) - 1;
    transform.clearBits(0, shape.outPixels());
    for (0..shape.batch) |n| for (0..out_h) |oy| for (0..out_w) |ox| {
        const pixel: u64 = (@as(u64, n) * out_h + oy) * out_w + ox;
        for (0..shape.out_c) |o| {
            var acc: i32 = 0;
            for (0..shape.kernel_h) |ky| for (0..shape.kernel_w) |kx| {
                const iy = @as(i64, @intCast(oy * shape.stride_h + ky)) - shape.pad_top;
                const ix = @as(i64, @intCast(ox * shape.stride_w + kx)) - shape.pad_left;
                const inside = iy >= 0 and iy < shape.in_h and ix >= 0 and ix < shape.in_w;
                if (!inside and pad == .zero) continue;
                for (0..words) |w| {
                    const real_mask = if (w == words - 1) tail_mask else ~@as(u64, 0);
                    const x: u64 = if (inside)
                        input[((n * shape.in_h + @as(usize, @intCast(iy))) * shape.in_w + @as(usize, @intCast(ix))) * words + w]
                    else if (pad == .minus_one) real_mask else 0;
                    const weight = weightAt(weights, o, (ky * shape.kernel_w + kx) * words + w);
                    const bits: i32 = @popCount(real_mask);
                    acc += bits - 2 * @as(i32, @popCount((x ^ weight) & real_mask));
                }
            };
            transform.storeScalar(pixel, @intCast(o), acc);
        }
    };
}
