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
export fn ob_bconv2d_pack_weights(ctx: ?*Ctx, out_c: u32, kernel_h: u32, kernel_w: u32, in_c: u32, source: ?[*]align(1) const u64, source_len: u32, target: ?[*]align(1) u64, target_len: u32) i32 {
    return call(ctx, bconv.packWeights, .{ out_c, kernel_h, kernel_w, in_c, source, source_len, target, target_len });
}

/// Binary conv2d (`bconv/contract.zig`): pad 0 = +1, 1 = -1, 2 = zero; transform kind
/// 0 binary, 1 int32, 2 float, 3 int8, 4 join, with its per-channel parameters in `channel`.
export fn ob_bconv2d(ctx: ?*Ctx, params: ?*const Window2d, pad: u32, input: ?[*]align(1) const u64, input_len: u32, weights: ?[*]align(1) const u64, weights_len: u32, kind: u32, channel: ?[*]const u32, channel_len: u32, qmin: i32, qmax: i32, residual: ?[*]const i8, residual_len: u32, output: ?[*]u8, output_bytes: u32) i32 {
    const out: bconv.OutputArgs = .{ .kind = kind, .channel = channel, .channel_len = channel_len, .qmin = qmin, .qmax = qmax, .residual = residual, .residual_len = residual_len, .output = output, .output_bytes = output_bytes };
    return call(ctx, bconv.conv2d, .{ params, pad, input, input_len, weights, weights_len, out });
}

/// Binary dense layer: `batch x in_features` packed rows, weights packed as a 1x1 conv.
export fn ob_bdense(ctx: ?*Ctx, batch: u32, in_features: u32, out_features: u32, input: ?[*]align(1) const u64, input_len: u32, weights: ?[*]align(1) const u64, weights_len: u32, kind: u32, channel: ?[*]const u32, channel_len: u32, qmin: i32, qmax: i32, residual: ?[*]const i8, residual_len: u32, output: ?[*]u8, output_bytes: u32) i32 {
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
const pool = @import("pool/pool.zig");

/// Binary max pool over packed bits (`pool/contract.zig`): NHWC u64 words, `ceil(C/64)` per
/// pixel, `shape.out_c == in_c`; an output word is the AND of the window's real words.
export fn ob_maxpool2d_bits(ctx: ?*Ctx, shape: ?*const pool.Window2d, input: ?[*]const u64, input_len: u32, output: ?[*]u64, output_len: u32) i32 {
    return call(ctx, pool.maxPoolBits, .{ shape, input, input_len, output, output_len });
}

/// f32 average pool, NHWC, padding excluded from the count, `shape.out_c == in_c`.
export fn ob_avgpool2d_f32(ctx: ?*Ctx, shape: ?*const pool.Window2d, input: ?[*]const f32, input_len: u32, output: ?[*]f32, output_len: u32) i32 {
    return call(ctx, pool.avgPoolF32, .{ shape, input, input_len, output, output_len });
}

/// int8 average pool, NHWC, padding excluded from the count, mean rounded half away from 0.
export fn ob_avgpool2d_i8(ctx: ?*Ctx, shape: ?*const pool.Window2d, input: ?[*]const i8, input_len: u32, output: ?[*]i8, output_len: u32) i32 {
    return call(ctx, pool.avgPoolI8, .{ shape, input, input_len, output, output_len });
}

/// f32 global average pool: `[batch][height][width][channels]` -> `[batch][channels]`.
export fn ob_global_avgpool_f32(ctx: ?*Ctx, batch: u32, height: u32, width: u32, channels: u32, input: ?[*]const f32, input_len: u32, output: ?[*]f32, output_len: u32) i32 {
    return call(ctx, pool.globalAvgPoolF32, .{ batch, height, width, channels, input, input_len, output, output_len });
}

/// int8 global average pool, mean rounded half away from zero: `[N][H][W][C]` -> `[N][C]`.
export fn ob_global_avgpool_i8(ctx: ?*Ctx, batch: u32, height: u32, width: u32, channels: u32, input: ?[*]const i8, input_len: u32, output: ?[*]i8, output_len: u32) i32 {
    return call(ctx, pool.globalAvgPoolI8, .{ batch, height, width, channels, input, input_len, output, output_len });
}
// ---- end qconv, pool ----

// ---- hamming, codebook ----
const hamming = @import("hamming/hamming.zig");
const codebook = @import("codebook/codebook.zig");

/// Hamming distance matrix of binary descriptors (`hamming/contract.zig`): `bits` a multiple
/// of 64 up to 1024, sets `[count][bits/64]` u64; writes u16 `out[q*train_count + t]`.
export fn ob_hamming_distances(ctx: ?*Ctx, bits: u32, query: ?[*]align(1) const u64, query_len: u32, query_count: u32, train: ?[*]align(1) const u64, train_len: u32, train_count: u32, out: ?[*]align(1) u16, out_len: u32) i32 {
    return call(ctx, hamming.distances, .{ bits, query, query_len, query_count, train, train_len, train_count, out, out_len });
}

/// Nearest train descriptor of every query (ties: lowest index) with Lowe's ratio test
/// (`best < ratio * second`, ratio >= 1 disables) and an optional cross check (1 = mutual
/// nearest only). Writes the train index or -1, the best and the second-best distance
/// (0xFFFFFFFF when missing) per query. Never stores the full matrix.
export fn ob_hamming_match(ctx: ?*Ctx, bits: u32, query: ?[*]align(1) const u64, query_len: u32, query_count: u32, train: ?[*]align(1) const u64, train_len: u32, train_count: u32, ratio: f32, cross_check: u32, out_index: ?[*]align(1) i32, out_index_len: u32, out_best: ?[*]align(1) u32, out_best_len: u32, out_second: ?[*]align(1) u32, out_second_len: u32) i32 {
    return call(ctx, hamming.match, .{ bits, query, query_len, query_count, train, train_len, train_count, ratio, cross_check, out_index, out_index_len, out_best, out_best_len, out_second, out_second_len });
}

/// Expands a codebook layer (2^tau u16 codewords, u8 indices `[out_c][in_c]`) to binary
/// conv weights `[out_c][3][3][ceil(in_c/64)]` u64 for `ob_bconv2d_pack_weights`
/// (`codebook/contract.zig`).
export fn ob_codebook_expand(ctx: ?*Ctx, tau: u32, out_c: u32, in_c: u32, codebook_words: ?[*]align(1) const u16, codebook_len: u32, indices: ?[*]const u8, indices_len: u32, weights: ?[*]align(1) u64, weights_len: u32) i32 {
    return call(ctx, codebook.expand, .{ tau, out_c, in_c, codebook_words, codebook_len, indices, indices_len, weights, weights_len });
}

/// Words of the packed layer `ob_codebook_pack` writes; 0 for invalid sizes.
export fn ob_codebook_packed_words(tau: u32, out_c: u32, in_c: u32) u32 {
    return codebook.packedWords(tau, out_c, in_c);
}

/// Packs a codebook layer (response table, tap sums, blocked indices) for
/// `ob_codebook_conv2d`, once at model load. The layout is the same on every CPU level.
export fn ob_codebook_pack(ctx: ?*Ctx, tau: u32, out_c: u32, in_c: u32, codebook_words: ?[*]align(1) const u16, codebook_len: u32, indices: ?[*]const u8, indices_len: u32, packed_words: ?[*]align(1) u64, packed_len: u32) i32 {
    return call(ctx, codebook.pack, .{ tau, out_c, in_c, codebook_words, codebook_len, indices, indices_len, packed_words, packed_len });
}

/// The gather codebook conv: a 3x3 binary conv (pads, transforms and outputs exactly as
/// `ob_bconv2d`) whose weight (o, c) is codeword indices[o][c], read from a packed layer.
export fn ob_codebook_conv2d(ctx: ?*Ctx, params: ?*const codebook.Window2d, pad: u32, input: ?[*]align(1) const u64, input_len: u32, packed_words: ?[*]align(1) const u64, packed_len: u32, kind: u32, channel: ?[*]const u32, channel_len: u32, qmin: i32, qmax: i32, residual: ?[*]const i8, residual_len: u32, output: ?[*]u8, output_bytes: u32) i32 {
    const out: codebook.OutputArgs = .{ .kind = kind, .channel = channel, .channel_len = channel_len, .qmin = qmin, .qmax = qmax, .residual = residual, .residual_len = residual_len, .output = output, .output_bytes = output_bytes };
    return call(ctx, codebook.conv2d, .{ params, pad, input, input_len, packed_words, packed_len, out });
}

test {
    _ = hamming;
    _ = codebook;
}
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

// ---- elementwise ----
const elementwise = @import("elementwise/elementwise.zig");

/// Quantizes f32 to u8 (`signed` 0) or i8 (`signed` 1, two's complement bytes) as ONNX
/// Runtime's QuantizeLinear (`elementwise/contract.zig`): `clamp(round_half_even(x / scale)
/// + zero_point)`, NaN -> zero_point; `output_len` must equal `input_len`.
export fn ob_quantize_f32(ctx: ?*Ctx, input: ?[*]const f32, input_len: u32, scale: f32, zero_point: i32, signed: u32, output: ?[*]u8, output_len: u32) i32 {
    return call(ctx, elementwise.quantizeF32, .{ input, input_len, scale, zero_point, signed, output, output_len });
}

/// Bilinear upsample of f32 NHWC by integer factors (PyTorch `interpolate`, f64 arithmetic,
/// one rounding to f32; `elementwise/contract.zig`); `align_corners` 0 or 1.
export fn ob_upsample_bilinear_f32(ctx: ?*Ctx, batch: u32, in_h: u32, in_w: u32, channels: u32, scale_h: u32, scale_w: u32, align_corners: u32, input: ?[*]const f32, input_len: u32, output: ?[*]f32, output_len: u32) i32 {
    return call(ctx, elementwise.upsampleBilinearF32, .{ batch, in_h, in_w, channels, scale_h, scale_w, align_corners, input, input_len, output, output_len });
}

/// Sigmoid of f32 values: `f32(1 / (1 + exp(-x)))` in f64 with fdlibm's `exp` (the bits of
/// JavaScript's `Math.exp`); `output_len` must equal `input_len`.
export fn ob_sigmoid_f32(ctx: ?*Ctx, input: ?[*]const f32, input_len: u32, output: ?[*]f32, output_len: u32) i32 {
    return call(ctx, elementwise.sigmoidF32, .{ input, input_len, output, output_len });
}

/// Argmax over the channels of f32 pixels `[pixels][channels]` -> i32 `[pixels]`: the first
/// channel holding the maximum (`>`; NaN never chosen after channel 0).
export fn ob_argmax_f32(ctx: ?*Ctx, pixels: u32, channels: u32, input: ?[*]const f32, input_len: u32, output: ?[*]i32, output_len: u32) i32 {
    return call(ctx, elementwise.argmaxF32, .{ pixels, channels, input, input_len, output, output_len });
}

test {
    _ = elementwise;
}
// ---- end elementwise ----

// ---- end of kernel families ----

test {
    std.testing.refAllDecls(@This());
    _ = status;
    _ = cpu;
    _ = @import("ctx.zig");
    _ = @import("byte_sum.zig");
    _ = @import("limits.zig");
    _ = @import("shape.zig");
    _ = @import("bconv/transform.zig");
    _ = @import("bconv/contract.zig");
    _ = @import("bconv/bconv.zig");
    _ = @import("bitpack/bitpack.zig");
}
