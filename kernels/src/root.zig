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
// ---- end bitpack, bconv, bdense ----

// ---- qconv, pool ----
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
}
