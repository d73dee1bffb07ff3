//! Codebook convolution (sparse kernel selection): argument validation and variant dispatch.
//! The contract is in `contract.zig`; `pack.zig` holds the load-time transforms,
//! `reference.zig` the scalar variant and `gather.zig` the SIMD one.

const std = @import("std");
const contract = @import("contract.zig");
const pack_mod = @import("pack.zig");
const reference = @import("reference.zig");
const gather = @import("gather.zig");
const bconv = @import("../bconv/bconv.zig");
const Pad = @import("../bconv/contract.zig").Pad;
const Transform = @import("../bconv/transform.zig").Transform;
const shape_mod = @import("../shape.zig");
const limits = @import("../limits.zig");
const status = @import("../status.zig");
const Ctx = @import("../ctx.zig").Ctx;

pub const Window2d = shape_mod.Window2d;
/// The output transform arguments of `conv2d`, shared with the binary conv.
pub const OutputArgs = bconv.OutputArgs;

comptime {
    // The reference keeps one i32 accumulator per output channel in a thread's scratch.
    std.debug.assert(limits.channels_max * @sizeOf(i32) <= limits.scratch_bytes_per_thread);
}

fn readLayer(ctx: *Ctx, tau: u32, out_c: u32, in_c: u32, codebook: ?[*]align(1) const u16, codebook_len: u32, indices: ?[*]const u8, indices_len: u32) status.Error!pack_mod.Layer {
    if (tau == 0 or tau > contract.tau_max)
        return ctx.fail(error.InvalidArgument, "tau is {d}, must be 1..{d}", .{ tau, contract.tau_max });
    if (out_c == 0 or in_c == 0)
        return ctx.fail(error.InvalidArgument, "out_c {d} / in_c {d} must not be 0", .{ out_c, in_c });
    if (out_c > limits.channels_max or in_c > limits.channels_max)
        return ctx.fail(error.LimitExceeded, "out_c {d} / in_c {d} exceed {d}", .{ out_c, in_c, limits.channels_max });
    const codewords = @as(u32, 1) << @intCast(tau);
    if (codebook_len < codewords)
        return ctx.fail(error.BufferTooSmall, "codebook holds {d} codewords, needs 2^tau = {d}", .{ codebook_len, codewords });
    const book_ptr = codebook orelse return ctx.fail(error.NullPointer, "codebook is null", .{});
    if (@intFromPtr(book_ptr) % 2 != 0) return ctx.fail(error.InvalidArgument, "codebook must be 2-byte aligned", .{});
    const book: []const u16 = @as([*]const u16, @alignCast(book_ptr))[0..codewords];
    for (book, 0..) |code, j| {
        if (code >= contract.patches)
            return ctx.fail(error.InvalidArgument, "codeword {d} is {d}, must be below 512 (9 bits)", .{ j, code });
    }
    const index = try shape_mod.slice(ctx, u8, indices, indices_len, @as(u64, out_c) * in_c, "indices");
    for (index, 0..) |value, i| {
        if (value >= codewords)
            return ctx.fail(error.InvalidArgument, "index of kernel ({d}, {d}) is {d}, must be below 2^tau = {d}", .{ i / in_c, i % in_c, value, codewords });
    }
    return .{ .tau = tau, .out_c = out_c, .in_c = in_c, .codebook = book, .indices = index };
}

/// Expands a codebook layer to binary conv weights `[out_c][3][3][ceil(in_c/64)]` u64.
pub fn expand(ctx: *Ctx, tau: u32, out_c: u32, in_c: u32, codebook: ?[*]align(1) const u16, codebook_len: u32, indices: ?[*]const u8, indices_len: u32, weights: ?[*]align(1) u64, weights_len: u32) status.Error!void {
    const layer = try readLayer(ctx, tau, out_c, in_c, codebook, codebook_len, indices, indices_len);
    const target = try shape_mod.wordsMut(ctx, weights, weights_len, pack_mod.expandedWords(out_c, in_c), "weights");
    pack_mod.expand(layer, target);
}

/// Words of the packed layer `pack` writes; 0 for invalid sizes.
pub fn packedWords(tau: u32, out_c: u32, in_c: u32) u32 {
    if (tau == 0 or tau > contract.tau_max) return 0;
    if (out_c == 0 or in_c == 0 or out_c > limits.channels_max or in_c > limits.channels_max) return 0;
    return @intCast(contract.Layout.of(tau, out_c, in_c).words());
}

/// Packs a codebook layer for `conv2d` (once, at model load).
pub fn pack(ctx: *Ctx, tau: u32, out_c: u32, in_c: u32, codebook: ?[*]align(1) const u16, codebook_len: u32, indices: ?[*]const u8, indices_len: u32, packed_words: ?[*]align(1) u64, packed_len: u32) status.Error!void {
    const layer = try readLayer(ctx, tau, out_c, in_c, codebook, codebook_len, indices, indices_len);
    const target = try shape_mod.wordsMut(ctx, packed_words, packed_len, contract.Layout.of(tau, out_c, in_c).words(), "packed layer");
    pack_mod.pack(layer, target);
}

/// Reads and checks the header of a packed layer against the conv's shape.
fn readPacked(ctx: *Ctx, shape: Window2d, packed_words: ?[*]align(1) const u64, packed_len: u32) status.Error!contract.Packed {
    const head = try shape_mod.words(ctx, packed_words, packed_len, contract.header_bytes / 8, "packed layer");
    const header: []const u32 = std.mem.bytesAsSlice(u32, std.mem.sliceAsBytes(head));
    if (header[0] != contract.magic or header[1] != contract.version)
        return ctx.fail(error.InvalidArgument, "packed layer has magic 0x{x} version {d}, not a layer made by ob_codebook_pack", .{ header[0], header[1] });
    const tau = header[2];
    if (tau == 0 or tau > contract.tau_max) return ctx.fail(error.InvalidArgument, "packed layer has tau {d}", .{tau});
    if (header[3] != shape.out_c or header[4] != shape.in_c)
        return ctx.fail(error.ShapeMismatch, "packed layer is {d}x{d} (out_c x in_c), shape is {d}x{d}", .{ header[3], header[4], shape.out_c, shape.in_c });
    const layout = contract.Layout.of(tau, shape.out_c, shape.in_c);
    const all = try shape_mod.words(ctx, packed_words, packed_len, layout.words(), "packed layer");
    return contract.Packed.view(layout, all);
}

/// The gather codebook conv2d (see `contract.zig`) of packed NHWC input with a packed layer.
pub fn conv2d(ctx: *Ctx, params: ?*const Window2d, pad_raw: u32, input: ?[*]align(1) const u64, input_len: u32, packed_words: ?[*]align(1) const u64, packed_len: u32, out: OutputArgs) status.Error!void {
    const shape = try shape_mod.read(ctx, params);
    if (shape.kernel_h != 3 or shape.kernel_w != 3)
        return ctx.fail(error.InvalidArgument, "codebook conv kernel is {d}x{d}, must be 3x3", .{ shape.kernel_h, shape.kernel_w });
    const pad = std.meta.intToEnum(Pad, pad_raw) catch
        return ctx.fail(error.InvalidArgument, "pad mode {d} is unknown (0 plus_one, 1 minus_one, 2 zero)", .{pad_raw});
    const in = try shape_mod.words(ctx, input, input_len, shape.inPixels() * shape_mod.wordsFor(shape.in_c), "input");
    const layer = try readPacked(ctx, shape, packed_words, packed_len);
    const transform = try Transform.init(ctx, out.kind, shape.out_c, shape.outPixels(), out.channel, out.channel_len, out.qmin, out.qmax, out.residual, out.residual_len, out.output, out.output_bytes);
    switch (ctx.variant) {
        .scalar => {
            const acc: []i32 = std.mem.bytesAsSlice(i32, ctx.scratchFor(0)[0 .. @as(usize, shape.out_c) * @sizeOf(i32)]);
            reference.conv2d(shape, pad, in, layer, transform, acc);
        },
        .simd => gather.conv2d(ctx, shape, pad, in, layer, transform),
    }
}

test {
    _ = contract;
    _ = @import("lookup.zig");
    _ = @import("codebook_test.zig");
}
