//! The qconv family's entry points, called by `root.zig`: argument validation, weight
//! packing, and the choice between the reference and the SIMD variant. The contract is in
//! `contract.zig` (int8) and `float.zig` (f32).

const std = @import("std");
const status = @import("../status.zig");
const shape = @import("../shape.zig");
const Ctx = @import("../ctx.zig").Ctx;
const contract = @import("contract.zig");
const reference = @import("reference.zig");
const igemm = @import("igemm.zig");
const float = @import("float.zig");

const Error = status.Error;
pub const Window2d = shape.Window2d;

/// The packing this library uses for a conv of `s`'s sizes.
pub fn packingFor(s: Window2d) contract.Packing {
    return .{ .block = igemm.block, .out_c = s.out_c, .kernel_h = s.kernel_h, .kernel_w = s.kernel_w, .in_c = s.in_c };
}

fn weightCount(s: Window2d) u64 {
    return @as(u64, s.out_c) * s.kernel_h * s.kernel_w * s.in_c;
}

/// Writes to `out_bytes[0]` the size in bytes of the packed weights for `params`'s sizes.
pub fn packedSize(ctx: *Ctx, params: ?*const Window2d, out_bytes: ?*u32) Error!void {
    const out = out_bytes orelse return ctx.fail(error.NullPointer, "out_bytes is null", .{});
    const s = try shape.read(ctx, params);
    out.* = try packedBytes(ctx, s);
}

fn packedBytes(ctx: *Ctx, s: Window2d) Error!u32 {
    const total = packingFor(s).totalBytes();
    if (total > std.math.maxInt(u32))
        return ctx.fail(error.LimitExceeded, "packed weights of {d} bytes exceed 4 GiB", .{total});
    return @intCast(total);
}

/// Packs s8 weights `[out_c][kernel_h][kernel_w][in_c]` into the layout of `contract.zig`.
pub fn packWeights(ctx: *Ctx, params: ?*const Window2d, weights_ptr: ?[*]const i8, weights_len: u32, packed_ptr: ?[*]u8, packed_len: u32) Error!void {
    const s = try shape.read(ctx, params);
    const bytes = try packedBytes(ctx, s);
    const weights = try shape.slice(ctx, i8, weights_ptr, weights_len, weightCount(s), "weights");
    const out = try shape.sliceMut(ctx, u8, packed_ptr, packed_len, bytes, "packed weights");
    pack(packingFor(s), weights, out);
}

/// Plain-loop packing (runs once per model load).
pub fn pack(packing: contract.Packing, weights: []const i8, out: []u8) void {
    std.debug.assert(out.len == packing.totalBytes());
    @memset(out, 0);
    const header: contract.Header = .{
        .magic = contract.magic,
        .block = packing.block,
        .out_c = packing.out_c,
        .kernel_h = packing.kernel_h,
        .kernel_w = packing.kernel_w,
        .in_c = packing.in_c,
    };
    @memcpy(out[0..contract.header_bytes], std.mem.asBytes(&header));
    var index: usize = 0;
    for (0..packing.out_c) |o| {
        var sum: i32 = 0;
        for (0..packing.kernel_h) |ky| {
            for (0..packing.kernel_w) |kx| {
                for (0..packing.in_c) |c| {
                    const w = weights[index];
                    index += 1;
                    sum += w;
                    out[@intCast(packing.weightOffset(@intCast(o), @intCast(ky), @intCast(kx), @intCast(c)))] = @bitCast(w);
                }
            }
        }
        const at: usize = @intCast(packing.sumsOffset() + o * 4);
        std.mem.writeInt(i32, out[at..][0..4], sum, .little);
    }
}

/// Checks that `bytes` is a packed-weight buffer of this library for the sizes of `s`.
fn readPacked(ctx: *Ctx, s: Window2d, ptr: ?[*]const u8, len: u32) Error![]const u8 {
    const head = try shape.slice(ctx, u8, ptr, len, contract.header_bytes, "packed weights");
    const header = std.mem.bytesToValue(contract.Header, head[0..contract.header_bytes]);
    if (header.magic != contract.magic)
        return ctx.fail(error.InvalidArgument, "packed weights start with 0x{x:0>8}, not the packed-weight magic: pack them with ob_qconv2d_pack_weights", .{header.magic});
    if (header.block != igemm.block)
        return ctx.fail(error.InvalidArgument, "packed weights use blocks of {d} channels, this library {d}: pack them with the same library", .{ header.block, igemm.block });
    if (header.out_c != s.out_c or header.kernel_h != s.kernel_h or header.kernel_w != s.kernel_w or header.in_c != s.in_c)
        return ctx.fail(error.ShapeMismatch, "packed weights are {d}x{d}x{d}x{d} (out_c x kh x kw x in_c), shape wants {d}x{d}x{d}x{d}", .{ header.out_c, header.kernel_h, header.kernel_w, header.in_c, s.out_c, s.kernel_h, s.kernel_w, s.in_c });
    return shape.slice(ctx, u8, ptr, len, try packedBytes(ctx, s), "packed weights");
}

fn zeroPoint(ctx: *Ctx, value: u32, comptime what: []const u8) Error!u8 {
    if (value > 255) return ctx.fail(error.InvalidArgument, what ++ " is {d}, must be 0..255", .{value});
    return @intCast(value);
}

fn optionalSlice(ctx: *Ctx, comptime T: type, ptr: ?[*]const T, len: u32, needed: u64, comptime what: []const u8) Error!?[]const T {
    if (ptr == null) {
        if (len != 0) return ctx.fail(error.NullPointer, what ++ " is null but its length is {d}", .{len});
        return null;
    }
    return try shape.slice(ctx, T, ptr, len, needed, what);
}

fn scales(ctx: *Ctx, ptr: ?[*]const f32, len: u32, out_c: u32) Error![]const f32 {
    const scale = try shape.slice(ctx, f32, ptr, len, out_c, "scale");
    for (scale, 0..) |value, o| {
        if (!std.math.isFinite(value)) return ctx.fail(error.InvalidArgument, "scale[{d}] is {d}, must be finite", .{ o, value });
    }
    return scale;
}

/// Raw ABI arguments shared by the three output kinds.
pub const Raw = struct {
    params: ?*const Window2d,
    input: ?[*]const u8,
    input_len: u32,
    x_zp: u32,
    weights: ?[*]const u8,
    weights_len: u32,
    bias: ?[*]const i32,
    bias_len: u32,
    scale: ?[*]const f32 = null,
    scale_len: u32 = 0,
    y_zp: u32 = 0,
};

/// Int8 convolution with output kind `kind` (see `contract.zig`).
pub fn conv2d(comptime kind: contract.Kind, ctx: *Ctx, raw: Raw, output_ptr: ?[*]contract.Out(kind), output_len: u32) Error!void {
    const s = try shape.read(ctx, raw.params);
    const args: reference.Args = .{
        .shape = s,
        .input = try shape.slice(ctx, u8, raw.input, raw.input_len, s.inPixels() * s.in_c, "input"),
        .x_zp = try zeroPoint(ctx, raw.x_zp, "x_zero_point"),
        .weights = try readPacked(ctx, s, raw.weights, raw.weights_len),
        .packing = packingFor(s),
        .bias = try optionalSlice(ctx, i32, raw.bias, raw.bias_len, s.out_c, "bias"),
        .scale = if (kind == .i32) &.{} else try scales(ctx, raw.scale, raw.scale_len, s.out_c),
        .y_zp = if (kind == .u8) try zeroPoint(ctx, raw.y_zp, "y_zero_point") else 0,
    };
    const output = try shape.sliceMut(ctx, contract.Out(kind), output_ptr, output_len, s.outPixels() * s.out_c, "output");
    run(kind, ctx, args, output);
}

/// `conv2d` for each output kind, with the context first as `root.zig` calls it.
pub fn conv2dU8(ctx: *Ctx, raw: Raw, output: ?[*]u8, output_len: u32) Error!void {
    return conv2d(.u8, ctx, raw, output, output_len);
}

pub fn conv2dI32(ctx: *Ctx, raw: Raw, output: ?[*]i32, output_len: u32) Error!void {
    return conv2d(.i32, ctx, raw, output, output_len);
}

pub fn conv2dF32(ctx: *Ctx, raw: Raw, output: ?[*]f32, output_len: u32) Error!void {
    return conv2d(.f32, ctx, raw, output, output_len);
}

/// Runs a validated conv on the context's variant.
pub fn run(comptime kind: contract.Kind, ctx: *Ctx, args: reference.Args, output: []contract.Out(kind)) void {
    switch (ctx.variant) {
        .scalar => reference.conv2d(kind, args, output),
        .simd => {
            const pixels = args.shape.outPixels();
            const tile_pixels = tilePixels(pixels, ctx.threads);
            const tiles = std.math.divCeil(u64, pixels, tile_pixels) catch unreachable;
            // Too few tiles for four chunks per thread: split the output channels too.
            const blocks: u32 = @intCast(args.packing.blocks());
            const wanted: u64 = @as(u64, ctx.threads) * 4;
            const groups: u32 = if (tiles >= wanted) 1 else @intCast(@min(blocks, std.math.divCeil(u64, wanted, tiles) catch unreachable));
            const blocks_per_chunk = std.math.divCeil(u32, blocks, groups) catch unreachable;
            const job: igemm.Job(kind) = .{ .ctx = ctx, .args = args, .output = output, .tile_pixels = tile_pixels, .blocks_per_chunk = blocks_per_chunk, .im2col = igemm.usesIm2col(args.shape, tile_pixels) };
            const chunks = tiles * (std.math.divCeil(u32, blocks, blocks_per_chunk) catch unreachable);
            ctx.parallelFor(@intCast(chunks), &job, igemm.Job(kind).run);
        },
    }
}

/// Output pixels per parallel chunk: up to 8 microkernel rows, fewer when that leaves every
/// thread about four chunks, more when the chunk count would pass 2^20.
fn tilePixels(pixels: u64, threads: u32) u32 {
    const mr: u64 = igemm.config.mr;
    const row_groups = std.math.divCeil(u64, pixels, mr) catch unreachable;
    const per_chunk = std.math.clamp(std.math.divCeil(u64, row_groups, @as(u64, threads) * 4) catch unreachable, 1, 8);
    const at_least = std.math.divCeil(u64, row_groups, 1 << 20) catch unreachable;
    return @intCast(@max(per_chunk, at_least) * mr);
}

/// f32 convolution (see `float.zig`).
pub fn conv2dFloat(ctx: *Ctx, params: ?*const Window2d, input: ?[*]const f32, input_len: u32, weights: ?[*]const f32, weights_len: u32, bias: ?[*]const f32, bias_len: u32, output_ptr: ?[*]f32, output_len: u32) Error!void {
    const s = try shape.read(ctx, params);
    const args: float.Args = .{
        .shape = s,
        .input = try shape.slice(ctx, f32, input, input_len, s.inPixels() * s.in_c, "input"),
        .weights = try shape.slice(ctx, f32, weights, weights_len, weightCount(s), "weights"),
        .bias = try optionalSlice(ctx, f32, bias, bias_len, s.out_c, "bias"),
    };
    const output = try shape.sliceMut(ctx, f32, output_ptr, output_len, s.outPixels() * s.out_c, "output");
    float.conv2d(ctx, args, output);
}

test {
    _ = @import("tests.zig");
    _ = reference;
}
