//! The shape of a 2-D sliding-window op (convolution or pool), shared by every family.
//! It crosses the ABI as a caller-owned buffer of 13 `u32` in this order, validated here.

const std = @import("std");
const limits = @import("limits.zig");
const status = @import("status.zig");
const Ctx = @import("ctx.zig").Ctx;

/// NHWC input `batch x in_h x in_w x in_c`, kernel `kernel_h x kernel_w`, explicit padding.
/// Output is `batch x out_h x out_w x out_c` with
/// `out_h = (in_h + pad_top + pad_bottom - kernel_h) / stride_h + 1` (likewise for w).
pub const Window2d = extern struct {
    batch: u32,
    in_h: u32,
    in_w: u32,
    in_c: u32,
    out_c: u32,
    kernel_h: u32,
    kernel_w: u32,
    stride_h: u32,
    stride_w: u32,
    pad_top: u32,
    pad_bottom: u32,
    pad_left: u32,
    pad_right: u32,

    pub fn outH(self: Window2d) u32 {
        return (self.in_h + self.pad_top + self.pad_bottom - self.kernel_h) / self.stride_h + 1;
    }

    pub fn outW(self: Window2d) u32 {
        return (self.in_w + self.pad_left + self.pad_right - self.kernel_w) / self.stride_w + 1;
    }

    /// Output pixels over the whole batch.
    pub fn outPixels(self: Window2d) u64 {
        return @as(u64, self.batch) * self.outH() * self.outW();
    }

    pub fn inPixels(self: Window2d) u64 {
        return @as(u64, self.batch) * self.in_h * self.in_w;
    }

    /// Checks every field against `limits` and that the window fits the padded input, naming
    /// the offending field and value in the context's message.
    pub fn validate(self: Window2d, ctx: *Ctx) status.Error!void {
        inline for (.{ "batch", "in_h", "in_w", "in_c", "out_c", "kernel_h", "kernel_w", "stride_h", "stride_w" }) |field| {
            if (@field(self, field) == 0) return ctx.fail(error.InvalidArgument, "shape." ++ field ++ " is 0", .{});
        }
        if (self.batch > limits.batch_max) return ctx.fail(error.LimitExceeded, "shape.batch is {d}, max {d}", .{ self.batch, limits.batch_max });
        inline for (.{ "in_h", "in_w" }) |field| {
            if (@field(self, field) > limits.spatial_max) return ctx.fail(error.LimitExceeded, "shape." ++ field ++ " is {d}, max {d}", .{ @field(self, field), limits.spatial_max });
        }
        inline for (.{ "in_c", "out_c" }) |field| {
            if (@field(self, field) > limits.channels_max) return ctx.fail(error.LimitExceeded, "shape." ++ field ++ " is {d}, max {d}", .{ @field(self, field), limits.channels_max });
        }
        inline for (.{ "kernel_h", "kernel_w" }) |field| {
            if (@field(self, field) > limits.kernel_max) return ctx.fail(error.LimitExceeded, "shape." ++ field ++ " is {d}, max {d}", .{ @field(self, field), limits.kernel_max });
        }
        inline for (.{ "stride_h", "stride_w" }) |field| {
            if (@field(self, field) > limits.stride_max) return ctx.fail(error.LimitExceeded, "shape." ++ field ++ " is {d}, max {d}", .{ @field(self, field), limits.stride_max });
        }
        inline for (.{ .{ "pad_top", "kernel_h" }, .{ "pad_bottom", "kernel_h" }, .{ "pad_left", "kernel_w" }, .{ "pad_right", "kernel_w" } }) |pair| {
            if (@field(self, pair[0]) >= @field(self, pair[1])) return ctx.fail(error.InvalidArgument, "shape." ++ pair[0] ++ " is {d}, must be below " ++ pair[1] ++ " {d}", .{ @field(self, pair[0]), @field(self, pair[1]) });
        }
        if (self.in_h + self.pad_top + self.pad_bottom < self.kernel_h)
            return ctx.fail(error.ShapeMismatch, "kernel_h {d} exceeds padded height {d}", .{ self.kernel_h, self.in_h + self.pad_top + self.pad_bottom });
        if (self.in_w + self.pad_left + self.pad_right < self.kernel_w)
            return ctx.fail(error.ShapeMismatch, "kernel_w {d} exceeds padded width {d}", .{ self.kernel_w, self.in_w + self.pad_left + self.pad_right });
        const elements_in = self.inPixels() * self.in_c;
        const elements_out = self.outPixels() * self.out_c;
        if (elements_in > limits.elements_max or elements_out > limits.elements_max)
            return ctx.fail(error.LimitExceeded, "tensor of {d} elements exceeds {d}", .{ @max(elements_in, elements_out), limits.elements_max });
    }
};

/// Reads a `Window2d` from an ABI pointer, refusing null.
pub fn read(ctx: *Ctx, params: ?*const Window2d) status.Error!Window2d {
    const shape = (params orelse return ctx.fail(error.NullPointer, "shape pointer is null", .{})).*;
    try shape.validate(ctx);
    return shape;
}

/// Packed 64-bit words per pixel for `channels` binary channels.
pub fn wordsFor(channels: u32) u32 {
    return (channels + 63) / 64;
}

/// Turns an ABI (pointer, length) pair into a read-only slice, checking the length is at
/// least `needed` elements. `what` names the buffer in the message.
pub fn slice(ctx: *Ctx, comptime T: type, ptr: ?[*]const T, len: u64, needed: u64, comptime what: []const u8) status.Error![]const T {
    if (len < needed) return ctx.fail(error.BufferTooSmall, what ++ " holds {d} elements, needs {d}", .{ len, needed });
    if (needed == 0) return &.{};
    const p = ptr orelse return ctx.fail(error.NullPointer, what ++ " is null", .{});
    return p[0..@intCast(needed)];
}

/// `slice` for an output buffer.
pub fn sliceMut(ctx: *Ctx, comptime T: type, ptr: ?[*]T, len: u64, needed: u64, comptime what: []const u8) status.Error![]T {
    if (len < needed) return ctx.fail(error.BufferTooSmall, what ++ " holds {d} elements, needs {d}", .{ len, needed });
    if (needed == 0) return &.{};
    const p = ptr orelse return ctx.fail(error.NullPointer, what ++ " is null", .{});
    return p[0..@intCast(needed)];
}

/// A u64 buffer from the ABI. Pointers are declared `align(1)` there so this alignment check
/// is real (with `[*]const u64` the compiler may assume the alignment and drop the check).
pub fn words(ctx: *Ctx, ptr: ?[*]align(1) const u64, len: u32, needed: u64, comptime what: []const u8) status.Error![]const u64 {
    if (len < needed) return ctx.fail(error.BufferTooSmall, what ++ " holds {d} elements, needs {d}", .{ len, needed });
    if (needed == 0) return &.{};
    const p = ptr orelse return ctx.fail(error.NullPointer, what ++ " is null", .{});
    if (@intFromPtr(p) % 8 != 0) return ctx.fail(error.InvalidArgument, what ++ " must be 8-byte aligned", .{});
    const aligned: [*]const u64 = @alignCast(p);
    return aligned[0..@intCast(needed)];
}

/// `words` for an output buffer.
pub fn wordsMut(ctx: *Ctx, ptr: ?[*]align(1) u64, len: u32, needed: u64, comptime what: []const u8) status.Error![]u64 {
    return @constCast(try words(ctx, ptr, len, needed, what));
}

test "outH and outW follow the padding formula" {
    const shape: Window2d = .{ .batch = 1, .in_h = 56, .in_w = 55, .in_c = 64, .out_c = 64, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 0 };
    try std.testing.expectEqual(@as(u32, 28), shape.outH());
    try std.testing.expectEqual(@as(u32, 27), shape.outW());
}

test "validate names the field that is wrong" {
    const ctx = try Ctx.create(std.testing.allocator, 1, 0);
    defer ctx.destroy();
    var shape: Window2d = .{ .batch = 1, .in_h = 8, .in_w = 8, .in_c = 64, .out_c = 64, .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1 };
    try shape.validate(ctx);
    shape.stride_w = 0;
    try std.testing.expectError(error.InvalidArgument, shape.validate(ctx));
    try std.testing.expectEqualStrings("shape.stride_w is 0", ctx.lastMessage());
    shape.stride_w = 1;
    shape.pad_left = 3;
    try std.testing.expectError(error.InvalidArgument, shape.validate(ctx));
    shape.pad_left = 0;
    shape.in_c = limits.channels_max + 1;
    try std.testing.expectError(error.LimitExceeded, shape.validate(ctx));
}
