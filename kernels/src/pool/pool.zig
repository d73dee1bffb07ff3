//! The pool family's entry points, called by `root.zig`: argument validation and the
//! choice between the reference and the SIMD variant. The contract is in `contract.zig`.

const std = @import("std");
const status = @import("../status.zig");
const shape = @import("../shape.zig");
const limits = @import("../limits.zig");
const Ctx = @import("../ctx.zig").Ctx;
const reference = @import("reference.zig");
const simd = @import("simd.zig");

const Error = status.Error;
pub const Window2d = shape.Window2d;

/// Reads a pooling window: a valid `Window2d` whose `out_c` equals `in_c`.
fn readWindow(ctx: *Ctx, params: ?*const Window2d) Error!Window2d {
    const s = try shape.read(ctx, params);
    if (s.out_c != s.in_c) return ctx.fail(error.ShapeMismatch, "pooling keeps the channels: shape.out_c is {d}, in_c {d}", .{ s.out_c, s.in_c });
    return s;
}

/// Binary max pool over packed words (`contract.zig`).
pub fn maxPoolBits(ctx: *Ctx, params: ?*const Window2d, input_ptr: ?[*]const u64, input_len: u32, output_ptr: ?[*]u64, output_len: u32) Error!void {
    const s = try readWindow(ctx, params);
    const words = shape.wordsFor(s.in_c);
    const input = try shape.slice(ctx, u64, input_ptr, input_len, s.inPixels() * words, "input words");
    const output = try shape.sliceMut(ctx, u64, output_ptr, output_len, s.outPixels() * words, "output words");
    switch (ctx.variant) {
        .scalar => reference.maxPoolBits(s, input, output),
        .simd => {
            const job: simd.MaxPoolBitsJob = .{ .shape = s, .input = input, .output = output };
            ctx.parallelFor(s.batch * s.outH(), &job, simd.MaxPoolBitsJob.run);
        },
    }
}

pub fn avgPoolF32(ctx: *Ctx, params: ?*const Window2d, input: ?[*]const f32, input_len: u32, output: ?[*]f32, output_len: u32) Error!void {
    return avgPool(f32, ctx, params, input, input_len, output, output_len);
}

pub fn avgPoolI8(ctx: *Ctx, params: ?*const Window2d, input: ?[*]const i8, input_len: u32, output: ?[*]i8, output_len: u32) Error!void {
    return avgPool(i8, ctx, params, input, input_len, output, output_len);
}

/// Average pool of f32 or i8, padding excluded from the count (`contract.zig`).
pub fn avgPool(comptime T: type, ctx: *Ctx, params: ?*const Window2d, input_ptr: ?[*]const T, input_len: u32, output_ptr: ?[*]T, output_len: u32) Error!void {
    const s = try readWindow(ctx, params);
    const input = try shape.slice(ctx, T, input_ptr, input_len, s.inPixels() * s.in_c, "input");
    const output = try shape.sliceMut(ctx, T, output_ptr, output_len, s.outPixels() * s.in_c, "output");
    switch (ctx.variant) {
        .scalar => reference.avgPool(T, s, input, output),
        .simd => {
            const job: simd.AvgPoolJob(T) = .{ .shape = s, .input = input, .output = output };
            ctx.parallelFor(s.batch * s.outH(), &job, simd.AvgPoolJob(T).run);
        },
    }
}

pub fn globalAvgPoolF32(ctx: *Ctx, batch: u32, height: u32, width: u32, channels: u32, input: ?[*]const f32, input_len: u32, output: ?[*]f32, output_len: u32) Error!void {
    return globalAvgPool(f32, ctx, .{ batch, height, width, channels }, input, input_len, output, output_len);
}

pub fn globalAvgPoolI8(ctx: *Ctx, batch: u32, height: u32, width: u32, channels: u32, input: ?[*]const i8, input_len: u32, output: ?[*]i8, output_len: u32) Error!void {
    return globalAvgPool(i8, ctx, .{ batch, height, width, channels }, input, input_len, output, output_len);
}

/// Global average pool of f32 or i8: `[batch][height][width][channels]` -> `[batch][channels]`.
pub fn globalAvgPool(comptime T: type, ctx: *Ctx, dims: [4]u32, input_ptr: ?[*]const T, input_len: u32, output_ptr: ?[*]T, output_len: u32) Error!void {
    const names = [_][]const u8{ "batch", "height", "width", "channels" };
    const maxima = [_]u32{ limits.batch_max, limits.spatial_max, limits.spatial_max, limits.channels_max };
    inline for (names, maxima, 0..) |field, max, i| {
        if (dims[i] == 0) return ctx.fail(error.InvalidArgument, field ++ " is 0", .{});
        if (dims[i] > max) return ctx.fail(error.LimitExceeded, field ++ " is {d}, max {d}", .{ dims[i], max });
    }
    const batch = dims[0];
    const pixels = @as(u64, dims[1]) * dims[2];
    const channels = dims[3];
    const elements = batch * pixels * channels;
    if (elements > limits.elements_max) return ctx.fail(error.LimitExceeded, "tensor of {d} elements exceeds {d}", .{ elements, limits.elements_max });
    const input = try shape.slice(ctx, T, input_ptr, input_len, elements, "input");
    const output = try shape.sliceMut(ctx, T, output_ptr, output_len, @as(u64, batch) * channels, "output");
    switch (ctx.variant) {
        .scalar => reference.globalAvgPool(T, batch, pixels, channels, input, output),
        .simd => {
            const job: simd.GlobalAvgPoolJob(T) = .{ .batch = batch, .pixels = pixels, .channels = channels, .input = input, .output = output };
            ctx.parallelFor(batch * job.blocks(), &job, simd.GlobalAvgPoolJob(T).run);
        },
    }
}

test {
    _ = @import("tests.zig");
    _ = @import("contract.zig");
}
