//! The C API of libonebit: the only file that exports symbols. Every entry point validates
//! its arguments (through the family it calls), clears and sets the context's last error,
//! and maps the internal error union to a `Status` code. Symbols are `ob_<noun>_<verb>`.

const std = @import("std");
const status = @import("status.zig");
const cpu = @import("cpu.zig");
const Ctx = @import("ctx.zig").Ctx;

/// Bumped whenever an exported signature or a buffer layout changes.
pub const abi_version: u32 = 1;

const Status = status.Status;

fn code(result: status.Error!void) i32 {
    result catch |err| return @intFromEnum(status.fromError(err));
    return @intFromEnum(Status.ok);
}

/// Runs `func(ctx, args...)` with the context's message cleared, returning a status code.
fn call(ctx_opt: ?*Ctx, comptime func: anytype, args: anytype) i32 {
    const ctx = ctx_opt orelse return @intFromEnum(Status.null_pointer);
    ctx.clearMessage();
    return code(@call(.auto, func, .{ctx} ++ args));
}

export fn ob_abi_version() u32 {
    return abi_version;
}

/// The CPU level this library was built for (`cpu.Level`).
export fn ob_cpu_level() u32 {
    return @intFromEnum(cpu.build_level);
}

/// `ok` when the running CPU has every feature of the build level, else `unsupported_cpu`.
export fn ob_cpu_check() i32 {
    return @intFromEnum(if (cpu.supported()) Status.ok else Status.unsupported_cpu);
}

/// Creates a context with `threads` pool threads; `flags` bit 0 forces the scalar variant.
/// Writes the handle to `out_ctx[0]`.
export fn ob_ctx_create(threads: u32, flags: u32, out_ctx: ?*?*Ctx) i32 {
    const out = out_ctx orelse return @intFromEnum(Status.null_pointer);
    out.* = null;
    const ctx = Ctx.create(std.heap.c_allocator, threads, flags) catch |err| return @intFromEnum(status.fromError(err));
    out.* = ctx;
    return @intFromEnum(Status.ok);
}

/// Destroys a context made by `ob_ctx_create`. A null handle is ignored.
export fn ob_ctx_destroy(ctx: ?*Ctx) void {
    if (ctx) |live| live.destroy();
}

export fn ob_ctx_threads(ctx: ?*const Ctx) u32 {
    return if (ctx) |live| live.threads else 0;
}

/// 0 = scalar, 1 = simd (`ctx.Variant`).
export fn ob_ctx_variant(ctx: ?*const Ctx) u32 {
    return if (ctx) |live| @intFromEnum(live.variant) else 0;
}

/// Copies the last error message (UTF-8, no terminator) into `buffer`; returns bytes written.
export fn ob_ctx_last_error(ctx: ?*const Ctx, buffer: ?[*]u8, capacity: u32) u32 {
    const live = ctx orelse return 0;
    const out = buffer orelse return 0;
    const message = live.lastMessage();
    const length: u32 = @intCast(@min(message.len, capacity));
    @memcpy(out[0..length], message[0..length]);
    return length;
}

// ---- kernel families (each section is owned by its family) ----

// ---- bitpack, bconv, bdense ----
const bitpack = @import("bitpack/bitpack.zig");
const bconv = @import("bconv/bconv.zig");
const Window2d = @import("shape.zig").Window2d;

/// Packs `pixels x channels` values (dtype 0 f32, 1 i8, 2 u8) into bits: the sign bit, or
/// `x < thresholds[c]` when `thresholds` (f32 for f32, i32 otherwise) is given
/// (`bitpack/bitpack.zig`).
export fn ob_bitpack(ctx: ?*Ctx, dtype: u32, pixels: u32, channels: u32, input: ?[*]const u8, input_bytes: u32, thresholds: ?[*]const u32, thresholds_len: u32, output: ?[*]u64, output_words: u32) i32 {
    return call(ctx, bitpack.pack, .{ dtype, pixels, channels, input, input_bytes, thresholds, thresholds_len, output, output_words });
}

/// Words of the blocked weight buffer `ob_bconv2d_pack_weights` writes; 0 for invalid sizes.
export fn ob_bconv2d_packed_words(out_c: u32, kernel_h: u32, kernel_w: u32, in_c: u32) u32 {
    return bconv.packedWords(out_c, kernel_h, kernel_w, in_c);
}

/// Repacks `[out_c][kh][kw][ceil(in_c/64)]` weights into the kernels' blocked layout.
export fn ob_bconv2d_pack_weights(ctx: ?*Ctx, out_c: u32, kernel_h: u32, kernel_w: u32, in_c: u32, source: ?[*]const u64, source_len: u32, target: ?[*]u64, target_len: u32) i32 {
    return call(ctx, bconv.packWeights, .{ out_c, kernel_h, kernel_w, in_c, source, source_len, target, target_len });
}

/// Binary conv2d (`bconv/contract.zig`): pad 0 = +1, 1 = -1, 2 = zero; transform kind
/// 0 binary, 1 int32, 2 float, 3 int8, 4 join, with its per-channel parameters in `channel`.
export fn ob_bconv2d(ctx: ?*Ctx, params: ?*const Window2d, pad: u32, input: ?[*]const u64, input_len: u32, weights: ?[*]const u64, weights_len: u32, kind: u32, channel: ?[*]const u32, channel_len: u32, qmin: i32, qmax: i32, residual: ?[*]const i8, residual_len: u32, output: ?[*]u8, output_bytes: u32) i32 {
    const out: bconv.OutputArgs = .{ .kind = kind, .channel = channel, .channel_len = channel_len, .qmin = qmin, .qmax = qmax, .residual = residual, .residual_len = residual_len, .output = output, .output_bytes = output_bytes };
    return call(ctx, bconv.conv2d, .{ params, pad, input, input_len, weights, weights_len, out });
}

/// Binary dense layer: `batch x in_features` packed rows, weights packed as a 1x1 conv.
export fn ob_bdense(ctx: ?*Ctx, batch: u32, in_features: u32, out_features: u32, input: ?[*]const u64, input_len: u32, weights: ?[*]const u64, weights_len: u32, kind: u32, channel: ?[*]const u32, channel_len: u32, qmin: i32, qmax: i32, residual: ?[*]const i8, residual_len: u32, output: ?[*]u8, output_bytes: u32) i32 {
    const out: bconv.OutputArgs = .{ .kind = kind, .channel = channel, .channel_len = channel_len, .qmin = qmin, .qmax = qmax, .residual = residual, .residual_len = residual_len, .output = output, .output_bytes = output_bytes };
    return call(ctx, bconv.dense, .{ batch, in_features, out_features, input, input_len, weights, weights_len, out });
}
// ---- end bitpack, bconv, bdense ----

// ---- qconv, pool ----
const qconv = @import("qconv/qconv.zig");

/// Writes to `out_bytes[0]` the size of the packed weights of an int8 conv with the sizes
/// of `shape` (`out_c`, `kernel_h`, `kernel_w`, `in_c`; the rest must be valid too).
export fn ob_qconv2d_pack_weights_size(ctx: ?*Ctx, shape: ?*const qconv.Window2d, out_bytes: ?*u32) i32 {
    return call(ctx, qconv.packedSize, .{ shape, out_bytes });
}

/// Packs s8 weights `[out_c][kernel_h][kernel_w][in_c]` for `ob_qconv2d_*` (once, at model
/// load). The packed layout belongs to this library's level (`qconv/contract.zig`).
export fn ob_qconv2d_pack_weights(ctx: ?*Ctx, shape: ?*const qconv.Window2d, weights: ?[*]const i8, weights_len: u32, packed_weights: ?[*]u8, packed_len: u32) i32 {
    return call(ctx, qconv.packWeights, .{ shape, weights, weights_len, packed_weights, packed_len });
}

/// Int8 conv, u8 NHWC in (zero point `x_zp`) x packed s8 weights, optional i32 bias (null,
/// 0), requantized to u8 exactly like ONNX Runtime's QLinearConv: `scale[o]` =
/// x_scale * w_scale[o] / y_scale, output zero point `y_zp` (`qconv/contract.zig`).
export fn ob_qconv2d_u8(ctx: ?*Ctx, shape: ?*const qconv.Window2d, input: ?[*]const u8, input_len: u32, x_zp: u32, packed_weights: ?[*]const u8, packed_len: u32, bias: ?[*]const i32, bias_len: u32, scale: ?[*]const f32, scale_len: u32, y_zp: u32, output: ?[*]u8, output_len: u32) i32 {
    return call(ctx, qconv.conv2dU8, .{ qconv.Raw{ .params = shape, .input = input, .input_len = input_len, .x_zp = x_zp, .weights = packed_weights, .weights_len = packed_len, .bias = bias, .bias_len = bias_len, .scale = scale, .scale_len = scale_len, .y_zp = y_zp }, output, output_len });
}

/// Int8 conv writing the raw i32 accumulator (bias included).
export fn ob_qconv2d_i32(ctx: ?*Ctx, shape: ?*const qconv.Window2d, input: ?[*]const u8, input_len: u32, x_zp: u32, packed_weights: ?[*]const u8, packed_len: u32, bias: ?[*]const i32, bias_len: u32, output: ?[*]i32, output_len: u32) i32 {
    return call(ctx, qconv.conv2dI32, .{ qconv.Raw{ .params = shape, .input = input, .input_len = input_len, .x_zp = x_zp, .weights = packed_weights, .weights_len = packed_len, .bias = bias, .bias_len = bias_len }, output, output_len });
}

/// Int8 conv dequantized to f32: `f32(acc) * scale[o]` with `scale[o]` = x_scale * w_scale[o].
export fn ob_qconv2d_f32(ctx: ?*Ctx, shape: ?*const qconv.Window2d, input: ?[*]const u8, input_len: u32, x_zp: u32, packed_weights: ?[*]const u8, packed_len: u32, bias: ?[*]const i32, bias_len: u32, scale: ?[*]const f32, scale_len: u32, output: ?[*]f32, output_len: u32) i32 {
    return call(ctx, qconv.conv2dF32, .{ qconv.Raw{ .params = shape, .input = input, .input_len = input_len, .x_zp = x_zp, .weights = packed_weights, .weights_len = packed_len, .bias = bias, .bias_len = bias_len, .scale = scale, .scale_len = scale_len }, output, output_len });
}

/// The fp32 reference conv: NHWC f32 in, f32 weights `[out_c][kh][kw][in_c]`, optional f32
/// bias (null, 0), zero padding (`qconv/float.zig`).
export fn ob_conv2d_f32(ctx: ?*Ctx, shape: ?*const qconv.Window2d, input: ?[*]const f32, input_len: u32, weights: ?[*]const f32, weights_len: u32, bias: ?[*]const f32, bias_len: u32, output: ?[*]f32, output_len: u32) i32 {
    return call(ctx, qconv.conv2dFloat, .{ shape, input, input_len, weights, weights_len, bias, bias_len, output, output_len });
}
// ---- end qconv, pool ----

// ---- hamming, codebook ----
// ---- end hamming, codebook ----

// ---- roofline ----
const roofline = @import("roofline.zig");

/// Runs the register-only `xor + popcount + add` loop (`roofline.zig`) for `iterations`
/// iterations on every thread of the context and writes the number of 64-bit word
/// xor-popcounts executed (over all threads) to `out_word_ops[0]`; one word op is 64 binary
/// MACs. The caller times the call. `iterations` must be at least 1.
export fn ob_roofline_popcount(ctx: ?*Ctx, iterations: u32, out_word_ops: ?*u64) i32 {
    return call(ctx, roofline.popcount, .{ iterations, out_word_ops });
}
// ---- end roofline ----

// ---- end of kernel families ----

test {
    std.testing.refAllDecls(@This());
    _ = status;
    _ = cpu;
    _ = @import("ctx.zig");
    _ = @import("limits.zig");
    _ = @import("shape.zig");
    _ = @import("bconv/transform.zig");
    _ = @import("bconv/contract.zig");
    _ = @import("bconv/bconv.zig");
    _ = @import("bitpack/bitpack.zig");
}
