//! The elementwise family's entry points, called by `root.zig`: argument validation and the
//! choice between the reference and the SIMD variant. The contract is in `contract.zig`.

const std = @import("std");
const status = @import("../status.zig");
const shape = @import("../shape.zig");
const limits = @import("../limits.zig");
const Ctx = @import("../ctx.zig").Ctx;
const reference = @import("reference.zig");
const simd = @import("simd.zig");

const Error = status.Error;

/// Quantizes f32 to u8 (`signed` 0) or i8 (`signed` 1, written as two's complement bytes).
pub fn quantizeF32(ctx: *Ctx, input_ptr: ?[*]const f32, input_len: u32, scale: f32, zero_point: i32, signed: u32, output_ptr: ?[*]u8, output_len: u32) Error!void {
    if (signed > 1) return ctx.fail(error.InvalidArgument, "signed is {d}, expected 0 (u8) or 1 (i8)", .{signed});
    if (!(scale > 0) or !std.math.isFinite(scale)) return ctx.fail(error.InvalidArgument, "scale is {d}, must be finite and > 0", .{scale});
    const lo: i32 = if (signed == 1) -128 else 0;
    const hi: i32 = if (signed == 1) 127 else 255;
    if (zero_point < lo or zero_point > hi) return ctx.fail(error.InvalidArgument, "zero_point is {d}, must be in {d}..{d}", .{ zero_point, lo, hi });
    const input = try shape.slice(ctx, f32, input_ptr, input_len, input_len, "input");
    const output = try shape.sliceMut(ctx, u8, output_ptr, output_len, input_len, "output");
    if (output_len != input_len) return ctx.fail(error.ShapeMismatch, "output holds {d} values, input {d}", .{ output_len, input_len });
    switch (ctx.variant) {
        .scalar => reference.quantize(input, output, scale, zero_point, lo, hi),
        .simd => {
            const job: simd.QuantizeJob = .{ .input = input, .output = output, .scale = scale, .zero_point = zero_point, .lo = lo, .hi = hi };
            ctx.parallelFor(job.chunks(), &job, simd.QuantizeJob.run);
        },
    }
}

/// Sigmoid of f32 values, `f32(1 / (1 + exp(-x)))` in f64 with fdlibm's `exp` (`contract.zig`).
pub fn sigmoidF32(ctx: *Ctx, input_ptr: ?[*]const f32, input_len: u32, output_ptr: ?[*]f32, output_len: u32) Error!void {
    const input = try shape.slice(ctx, f32, input_ptr, input_len, input_len, "input");
    const output = try shape.sliceMut(ctx, f32, output_ptr, output_len, input_len, "output");
    if (output_len != input_len) return ctx.fail(error.ShapeMismatch, "output holds {d} values, input {d}", .{ output_len, input_len });
    switch (ctx.variant) {
        .scalar => reference.sigmoid(input, output),
        .simd => {
            const job: simd.SigmoidJob = .{ .input = input, .output = output };
            ctx.parallelFor(job.chunks(), &job, simd.SigmoidJob.run);
        },
    }
}

/// Argmax over the channels of f32 pixels: `output[p]` = the first channel holding the
/// maximum (`contract.zig`).
pub fn argmaxF32(ctx: *Ctx, pixels: u32, channels: u32, input_ptr: ?[*]const f32, input_len: u32, output_ptr: ?[*]i32, output_len: u32) Error!void {
    if (pixels == 0) return ctx.fail(error.InvalidArgument, "pixels is 0", .{});
    if (channels == 0) return ctx.fail(error.InvalidArgument, "channels is 0", .{});
    if (channels > limits.channels_max) return ctx.fail(error.LimitExceeded, "channels is {d}, max {d}", .{ channels, limits.channels_max });
    const elements = @as(u64, pixels) * channels;
    const input = try shape.slice(ctx, f32, input_ptr, input_len, elements, "input");
    const output = try shape.sliceMut(ctx, i32, output_ptr, output_len, pixels, "output");
    switch (ctx.variant) {
        .scalar => reference.argmax(input, output, channels),
        .simd => {
            const job: simd.ArgmaxJob = .{ .input = input, .output = output, .channels = channels };
            ctx.parallelFor(job.chunks(), &job, simd.ArgmaxJob.run);
        },
    }
}

/// Bilinear upsample of f32 NHWC by integer factors (`contract.zig`).
pub fn upsampleBilinearF32(ctx: *Ctx, batch: u32, in_h: u32, in_w: u32, channels: u32, scale_h: u32, scale_w: u32, align_corners: u32, input_ptr: ?[*]const f32, input_len: u32, output_ptr: ?[*]f32, output_len: u32) Error!void {
    const names = [_][]const u8{ "batch", "in_h", "in_w", "channels", "scale_h", "scale_w" };
    const values = [_]u32{ batch, in_h, in_w, channels, scale_h, scale_w };
    const maxima = [_]u32{ limits.batch_max, limits.spatial_max, limits.spatial_max, limits.channels_max, limits.spatial_max, limits.spatial_max };
    inline for (names, values, maxima) |field, value, max| {
        if (value == 0) return ctx.fail(error.InvalidArgument, field ++ " is 0", .{});
        if (value > max) return ctx.fail(error.LimitExceeded, field ++ " is {d}, max {d}", .{ value, max });
    }
    if (align_corners > 1) return ctx.fail(error.InvalidArgument, "align_corners is {d}, expected 0 or 1", .{align_corners});
    const out_h = @as(u64, in_h) * scale_h;
    const out_w = @as(u64, in_w) * scale_w;
    if (out_h > limits.spatial_max or out_w > limits.spatial_max) return ctx.fail(error.LimitExceeded, "output {d}x{d} exceeds {d}", .{ out_h, out_w, limits.spatial_max });
    const in_elements = @as(u64, batch) * in_h * in_w * channels;
    const out_elements = @as(u64, batch) * out_h * out_w * channels;
    if (out_elements > limits.elements_max) return ctx.fail(error.LimitExceeded, "output of {d} elements exceeds {d}", .{ out_elements, limits.elements_max });
    const input = try shape.slice(ctx, f32, input_ptr, input_len, in_elements, "input");
    const output = try shape.sliceMut(ctx, f32, output_ptr, output_len, out_elements, "output");
    const s: reference.Upsample = .{ .batch = batch, .in_h = in_h, .in_w = in_w, .channels = channels, .scale_h = scale_h, .scale_w = scale_w, .align_corners = align_corners == 1 };
    switch (ctx.variant) {
        .scalar => reference.upsample(s, input, output),
        .simd => {
            const job: simd.UpsampleJob = .{ .shape = s, .input = input, .output = output, .ctx = ctx };
            ctx.parallelFor(batch * job.blocks(), &job, simd.UpsampleJob.run);
        },
    }
}

test {
    _ = @import("contract.zig");
    _ = @import("reference.zig");
    _ = @import("tests.zig");
}
