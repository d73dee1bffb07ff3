//! The popcount roofline: how many 64-bit `xor + popcount + add` word operations per second
//! this CPU can execute when nothing but the ALU limits it. Binary convolutions are measured
//! as a fraction of this number (DESIGN.md section 8); one word op is 64 binary MACs.
//!
//! The loop keeps everything in registers: `accumulators` independent accumulator vectors
//! (enough to cover the latency of popcount + add), each fed by `acc[i] += popcount(x[i] ^ y)`.
//! `y` passes through an empty inline-asm barrier every iteration, so the compiler must assume
//! it changes: it can neither hoist `popcount(x[i] ^ y)` out of the loop nor fold the loop
//! into a multiplication, yet the barrier emits no instruction. The `x[i]` are distinct, so
//! the popcounts cannot be shared between accumulators either.
//!
//! Instructions by build level (checked in the generated code of `popcountLoop`):
//! x86_64_v4 `vpxorq` + `vpopcntq` + `vpaddq` on zmm. Levels without a 64-bit vector
//! popcount count bytes: x86_64_v3 with LLVM's `vpshufb` nibble-table lowering, baseline
//! x86_64 with SSE2 bit twiddling, aarch64 with `cnt`. There the loop adds the byte counts
//! into byte accumulators and widens them to 64-bit lanes once every `byte_sum.steps_max`
//! iterations, exactly as the binary conv's byte-mode microkernel does (bconv/gemm.zig); a
//! loop that widened every word would be slower than the kernel it is meant to bound.

const std = @import("std");
const builtin = @import("builtin");
const cpu = @import("cpu.zig");
const byte_sum = @import("byte_sum.zig");
const status = @import("status.zig");
const Ctx = @import("ctx.zig").Ctx;

/// 64-bit words in one vector register of the build level.
pub const words_per_vector: comptime_int = cpu.vector_bytes / 8;

/// Independent accumulator chains. x86 below AVX-512 has 16 vector registers, and each chain
/// holds two of them (`x[i]` and `acc[i]`) plus temporaries, so it gets 4; AVX-512 and
/// aarch64 have 32 registers and get 8, which covers `vpopcntq` latency at two per cycle.
pub const accumulators: comptime_int = switch (cpu.build_level) {
    .x86_64_v4, .aarch64_generic, .aarch64_cortex_a76 => 8,
    .x86_64_v3, .x86_64_baseline => 4,
};

/// Word operations one loop iteration executes on one thread.
pub const word_ops_per_iteration: comptime_int = accumulators * words_per_vector;

const Word = @Vector(words_per_vector, u64);
const Bytes = @Vector(words_per_vector * 8, u8);

/// Count bytes and widen them now and then (see the module comment): the choice the binary
/// conv makes for the same build level.
const byte_mode = cpu.byte_popcount;

comptime {
    std.debug.assert(words_per_vector >= 2 and std.math.isPowerOfTwo(words_per_vector));
    // Four chains are the fewest that hide a popcount + add latency of 4 cycles or less.
    std.debug.assert(accumulators >= 4);
}

/// Returns `value` unchanged, but the compiler must treat the result as unknown. The empty
/// asm ties its output to its input register: no instruction, no memory round trip.
inline fn hide(value: Word) Word {
    // "v" reaches all 32 AVX-512 registers; "x" is xmm0-15 / ymm0-15; "w" is a NEON register.
    return switch (builtin.cpu.arch) {
        .x86_64 => if (cpu.build_level == .x86_64_v4)
            asm volatile (""
                : [out] "=v" (-> Word),
                : [in] "0" (value),
            )
        else
            asm volatile (""
                : [out] "=x" (-> Word),
                : [in] "0" (value),
            ),
        .aarch64 => asm volatile (""
            : [out] "=w" (-> Word),
            : [in] "0" (value),
        ),
        else => @compileError("onebit supports x86_64 and aarch64 only"),
    };
}

/// The loop's starting operands: distinct, with a mixed bit density, from a fixed seed so the
/// total popcount is known in advance (see the test).
const Operands = struct { x: [accumulators]Word, y: Word };

fn operands() Operands {
    var prng = std.Random.SplitMix64.init(0x6f6e6562_6974_0001);
    var result: Operands = undefined;
    for (&result.x) |*x| {
        for (0..words_per_vector) |lane| x[lane] = prng.next();
    }
    for (0..words_per_vector) |lane| result.y[lane] = prng.next();
    return result;
}

/// Runs `iterations` iterations of the register-only loop on the calling thread and returns
/// the total popcount it summed (so the work is observable and checkable).
pub fn popcountLoop(iterations: u32) u64 {
    const start = operands();
    const x = start.x;
    var y = start.y;
    var acc: [accumulators]Word = @splat(@as(Word, @splat(0)));
    var remaining = iterations;
    if (byte_mode) {
        while (remaining > 0) {
            const steps = @min(byte_sum.steps_max, remaining);
            var bytes: [accumulators]Bytes = @splat(@as(Bytes, @splat(0)));
            for (0..steps) |_| {
                y = hide(y);
                inline for (0..accumulators) |i| {
                    bytes[i] +%= @popCount(@as(Bytes, @bitCast(x[i] ^ y)));
                }
            }
            inline for (0..accumulators) |i| acc[i] +%= byte_sum.byteSum(words_per_vector, bytes[i]);
            remaining -= steps;
        }
    } else {
        while (remaining > 0) : (remaining -= 1) {
            y = hide(y);
            inline for (0..accumulators) |i| {
                acc[i] +%= @as(Word, @intCast(@popCount(x[i] ^ y)));
            }
        }
    }
    var total: Word = @splat(0);
    inline for (acc) |lane| total +%= lane;
    return @reduce(.Add, total);
}

const Job = struct {
    iterations: u32,
    /// The popcount sum of each chunk; one chunk per thread, written by that chunk only.
    sums: []u64,

    fn run(job_context: *const anyopaque, chunk: u32, thread: u32) void {
        const job: *const Job = @ptrCast(@alignCast(job_context));
        std.debug.assert(chunk < job.sums.len);
        _ = thread;
        job.sums[chunk] = popcountLoop(job.iterations);
    }
};

/// Runs the loop on every thread of `ctx` (one chunk per thread) and writes the number of
/// 64-bit word xor-popcounts executed to `out_word_ops.*`. The caller times the call.
pub fn popcount(ctx: *Ctx, iterations: u32, out_word_ops: ?*u64) status.Error!void {
    const out = out_word_ops orelse return ctx.fail(error.NullPointer, "out_word_ops is null", .{});
    if (iterations == 0) return ctx.fail(error.InvalidArgument, "iterations is 0, must be at least 1", .{});
    std.debug.assert(ctx.threads >= 1 and ctx.threads <= 64);

    var sums: [64]u64 = @splat(0);
    const job: Job = .{ .iterations = iterations, .sums = sums[0..ctx.threads] };
    ctx.parallelFor(ctx.threads, &job, Job.run);

    // Every chunk ran the same loop on the same operands: equal sums prove each one ran.
    for (job.sums) |sum| std.debug.assert(sum == job.sums[0]);
    std.mem.doNotOptimizeAway(job.sums[0]);
    out.* = @as(u64, iterations) * word_ops_per_iteration * ctx.threads;
}

fn expectedSum(iterations: u32) u64 {
    const start = operands();
    var per_iteration: u64 = 0;
    for (start.x) |x| {
        for (0..words_per_vector) |lane| per_iteration += @popCount(x[lane] ^ start.y[lane]);
    }
    return per_iteration * iterations;
}

test "roofline loop sums exactly the popcounts it claims to execute" {
    for ([_]u32{ 1, 2, 3, 30, 31, 32, 62, 63, 1000, 65_537 }) |iterations| {
        try std.testing.expectEqual(expectedSum(iterations), popcountLoop(iterations));
    }
}

test "roofline popcount counts word ops over every thread" {
    for ([_]u32{ 1, 2, 3 }) |threads| {
        const ctx = try Ctx.create(std.testing.allocator, threads, 0);
        defer ctx.destroy();
        var word_ops: u64 = 0;
        try popcount(ctx, 1000, &word_ops);
        try std.testing.expectEqual(@as(u64, 1000) * word_ops_per_iteration * threads, word_ops);
    }
}

test "roofline popcount refuses zero iterations and a null output" {
    const ctx = try Ctx.create(std.testing.allocator, 1, 0);
    defer ctx.destroy();
    var word_ops: u64 = 7;
    try std.testing.expectError(error.InvalidArgument, popcount(ctx, 0, &word_ops));
    try std.testing.expect(std.mem.indexOf(u8, ctx.lastMessage(), "iterations is 0") != null);
    try std.testing.expectEqual(@as(u64, 7), word_ops);
    try std.testing.expectError(error.NullPointer, popcount(ctx, 10, null));
}
