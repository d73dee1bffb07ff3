//! Binary convolution and binary dense layer: argument validation and variant dispatch.
//! The contract is in `contract.zig`; `reference.zig` is the scalar variant and `gemm.zig`
//! the SIMD one.

const std = @import("std");
const contract = @import("contract.zig");
const pack_mod = @import("pack.zig");
const reference = @import("reference.zig");
const gemm = @import("gemm.zig");
const transform_mod = @import("transform.zig");
const shape_mod = @import("../shape.zig");
const limits = @import("../limits.zig");
const status = @import("../status.zig");
const Ctx = @import("../ctx.zig").Ctx;
const Window2d = shape_mod.Window2d;

/// The output transform arguments as they cross the ABI (see `transform.Transform.init`).
pub const OutputArgs = struct {
    kind: u32,
    channel: ?[*]const u32,
    channel_len: u32,
    qmin: i32,
    qmax: i32,
    residual: ?[*]const i8,
    residual_len: u32,
    output: ?[*]u8,
    output_bytes: u32,
};

fn dimsChecked(ctx: *Ctx, out_c: u32, kernel_h: u32, kernel_w: u32, in_c: u32) status.Error!pack_mod.Dims {
    if (out_c == 0 or kernel_h == 0 or kernel_w == 0 or in_c == 0)
        return ctx.fail(error.InvalidArgument, "weight dims {d}x{d}x{d}x{d} contain a 0", .{ out_c, kernel_h, kernel_w, in_c });
    if (out_c > limits.channels_max or in_c > limits.channels_max or kernel_h > limits.kernel_max or kernel_w > limits.kernel_max)
        return ctx.fail(error.LimitExceeded, "weight dims {d}x{d}x{d}x{d} exceed the limits", .{ out_c, kernel_h, kernel_w, in_c });
    return .{ .out_c = out_c, .kernel_h = kernel_h, .kernel_w = kernel_w, .in_c = in_c };
}

/// Words of the packed (blocked) weights; 0 when a size is 0 or over the limits.
pub fn packedWords(out_c: u32, kernel_h: u32, kernel_w: u32, in_c: u32) u32 {
    if (out_c == 0 or kernel_h == 0 or kernel_w == 0 or in_c == 0) return 0;
    if (out_c > limits.channels_max or in_c > limits.channels_max or kernel_h > limits.kernel_max or kernel_w > limits.kernel_max) return 0;
    return @intCast(contract.packedWords(out_c, kernel_h, kernel_w, in_c));
}

/// Packs ABI-layout weights `[out_c][kh][kw][ceil(in_c/64)]` into the blocked layout.
pub fn packWeights(ctx: *Ctx, out_c: u32, kernel_h: u32, kernel_w: u32, in_c: u32, source: ?[*]align(1) const u64, source_len: u32, target: ?[*]align(1) u64, target_len: u32) status.Error!void {
    const dims = try dimsChecked(ctx, out_c, kernel_h, kernel_w, in_c);
    const src = try shape_mod.words(ctx, source, source_len, dims.abiWords(), "weights");
    const dst = try shape_mod.wordsMut(ctx, target, target_len, dims.packedWords(), "packed weights");
    try pack_mod.pack(ctx, dims, src, dst);
}

/// Binary 2-D convolution of packed NHWC input with packed weights (see `contract.zig`).
pub fn conv2d(ctx: *Ctx, params: ?*const Window2d, pad_raw: u32, input: ?[*]align(1) const u64, input_len: u32, weights: ?[*]align(1) const u64, weights_len: u32, out: OutputArgs) status.Error!void {
    const shape = try shape_mod.read(ctx, params);
    const pad = std.meta.intToEnum(contract.Pad, pad_raw) catch
        return ctx.fail(error.InvalidArgument, "pad mode {d} is unknown (0 plus_one, 1 minus_one, 2 zero)", .{pad_raw});
    try run(ctx, shape, pad, input, input_len, weights, weights_len, out);
}

/// Binary dense layer: `batch x in_features` packed rows times `out_features` packed weight
/// rows (packed as a 1x1 conv), with the same output transforms.
pub fn dense(ctx: *Ctx, batch: u32, in_features: u32, out_features: u32, input: ?[*]align(1) const u64, input_len: u32, weights: ?[*]align(1) const u64, weights_len: u32, out: OutputArgs) status.Error!void {
    const shape: Window2d = .{ .batch = batch, .in_h = 1, .in_w = 1, .in_c = in_features, .out_c = out_features, .kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1, .pad_top = 0, .pad_bottom = 0, .pad_left = 0, .pad_right = 0 };
    try shape.validate(ctx);
    try run(ctx, shape, .plus_one, input, input_len, weights, weights_len, out);
}

fn run(ctx: *Ctx, shape: Window2d, pad: contract.Pad, input: ?[*]align(1) const u64, input_len: u32, weights: ?[*]align(1) const u64, weights_len: u32, out: OutputArgs) status.Error!void {
    const dims: pack_mod.Dims = .{ .out_c = shape.out_c, .kernel_h = shape.kernel_h, .kernel_w = shape.kernel_w, .in_c = shape.in_c };
    const in = try shape_mod.words(ctx, input, input_len, shape.inPixels() * dims.words(), "input");
    const w = try shape_mod.words(ctx, weights, weights_len, dims.packedWords(), "packed weights");
    const transform = try transform_mod.Transform.init(ctx, out.kind, shape.out_c, shape.outPixels(), out.channel, out.channel_len, out.qmin, out.qmax, out.residual, out.residual_len, out.output, out.output_bytes);
    const view = pack_mod.Packed.view(dims, w);
    switch (ctx.variant) {
        .scalar => reference.conv2d(shape, pad, in, view, transform),
        .simd => gemm.conv2d(gemm.native, ctx, shape, pad, in, view, transform) catch
            return ctx.fail(error.LimitExceeded, "im2col row of {d} words does not fit the scratch of a thread", .{dims.kWords()}),
    }
}

test {
    _ = @import("bconv_test.zig");
    _ = pack_mod;
}
