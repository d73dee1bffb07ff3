//! The codebook convolution in plain loops, straight from the contract: per output pixel and
//! input channel, read the 9 taps (or the pad value), compute the response of every codeword
//! once, then add the response each output channel's index selects. It reads only the
//! codebook and the indices of the packed layer (not its table or tap sums), so it checks
//! those too. Never fast, obviously right.

const std = @import("std");
const contract = @import("contract.zig");
const Pad = @import("../bconv/contract.zig").Pad;
const Transform = @import("../bconv/transform.zig").Transform;
const Window2d = @import("../shape.zig").Window2d;

/// `acc` holds `out_c` accumulators (the caller's scratch).
pub fn conv2d(shape: Window2d, pad: Pad, input: []const u64, layer: contract.Packed, transform: Transform, acc: []i32) void {
    std.debug.assert(shape.kernel_h == 3 and shape.kernel_w == 3 and acc.len == shape.out_c);
    const words = (shape.in_c + 63) / 64;
    const out_h = shape.outH();
    const out_w = shape.outW();
    const codewords = @as(u32, 1) << @intCast(layer.layout.tau);
    const index_mask: u8 = @intCast(codewords - 1);
    transform.clearBits(0, shape.outPixels());
    for (0..shape.batch) |n| for (0..out_h) |oy| for (0..out_w) |ox| {
        const pixel: u64 = (@as(u64, n) * out_h + oy) * out_w + ox;
        @memset(acc, 0);
        for (0..shape.in_c) |c| {
            // The channel's patch: bit t = input bit at tap t; `valid` drops zero-padded taps.
            var patch: u32 = 0;
            var valid: u32 = 0;
            for (0..3) |ky| for (0..3) |kx| {
                const t: u5 = @intCast(ky * 3 + kx);
                const iy = @as(i64, @intCast(oy * shape.stride_h + ky)) - shape.pad_top;
                const ix = @as(i64, @intCast(ox * shape.stride_w + kx)) - shape.pad_left;
                const inside = iy >= 0 and iy < shape.in_h and ix >= 0 and ix < shape.in_w;
                const bit: u32 = if (inside) blk: {
                    const word = input[((n * shape.in_h + @as(usize, @intCast(iy))) * shape.in_w + @as(usize, @intCast(ix))) * words + c / 64];
                    break :blk @intCast((word >> @intCast(c % 64)) & 1);
                } else if (pad == .minus_one) 1 else 0;
                patch |= bit << t;
                if (inside or pad != .zero) valid |= @as(u32, 1) << t;
            };
            var responses: [contract.codewords_max]i32 = undefined;
            for (0..codewords) |j| responses[j] = contract.response(patch, layer.codebook[j], valid);
            for (0..shape.out_c) |o| acc[o] += responses[layer.index(o, c) & index_mask];
        }
        for (0..shape.out_c) |o| transform.storeScalar(pixel, @intCast(o), acc[o]);
    };
}
