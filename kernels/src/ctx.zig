//! A kernel context: a persistent thread pool, per-thread scratch memory, the chosen kernel
//! variant and the last error message. Everything is allocated in `create`; running kernels
//! never allocates. Two contexts share nothing, so two workers can each own one.

const std = @import("std");
const limits = @import("limits.zig");
const status = @import("status.zig");
const cpu = @import("cpu.zig");

const Atomic = std.atomic.Value;
const Futex = std.Thread.Futex;

/// Which implementation family the kernels of a context run.
pub const Variant = enum(u32) {
    /// Plain loops: the reference every other variant is compared against.
    scalar = 0,
    /// The widest SIMD path the build level offers.
    simd = 1,
};

/// Flags accepted by `create`.
pub const flag_force_scalar: u32 = 1;

/// A parallel job: `run(job_context, chunk_index, thread_index)` for every chunk.
pub const JobFn = *const fn (job_context: *const anyopaque, chunk: u32, thread: u32) void;

/// How long a pool thread spins for the next job before it sleeps on the futex. Ops of one
/// model follow each other within microseconds, and frames follow each other within a
/// millisecond or two under load. Waking a sleeping thread is a syscall on bare metal, but on
/// a VM (x86 gateways often are) it waits for the host to resume a halted vCPU: measured at
/// several milliseconds here, long enough that a 2-thread conv of 0.25 ms ran entirely on the
/// calling thread. 2 ms of spinning after the last job of a burst costs at most 2% of a core
/// at 10 frames per second. (OpenMP runtimes spin for 200 ms by default.)
const spin_ns_max: u64 = 2 * std.time.ns_per_ms;

/// Spin iterations between two reads of the clock.
const spin_batch: u32 = 64;

/// Spins until `done()` or `spin_ns_max`; returns whether `done()` held. Bounded by the clock,
/// and by an iteration cap in case the clock is unavailable.
inline fn spinUntil(comptime done: anytype, args: anytype) bool {
    const start = std.time.Instant.now() catch null;
    var batches: u32 = 0;
    while (batches < 1 << 20) : (batches += 1) {
        for (0..spin_batch) |_| {
            if (@call(.auto, done, args)) return true;
            std.atomic.spinLoopHint();
        }
        const begun = start orelse return false;
        const now = std.time.Instant.now() catch return false;
        if (now.since(begun) >= spin_ns_max) return false;
    }
    return false;
}

pub const Ctx = struct {
    allocator: std.mem.Allocator,
    threads: u32,
    variant: Variant,
    workers: []std.Thread,
    /// `threads * scratch_bytes_per_thread`, 64-byte aligned; thread i owns slice i.
    scratch: []align(64) u8,
    /// Per-output-channel constants a kernel derives once per call before its parallel
    /// part (`channel_words_max` words), read-only while the pool runs.
    channel_scratch: []align(64) u64,

    job_fn: JobFn = undefined,
    job_context: *const anyopaque = undefined,
    job_chunks: u32 = 0,
    /// `generation << 32 | next chunk`: a chunk can only be claimed by a thread that saw the
    /// job's own generation, so a worker that wakes late never runs a stale job.
    work: Atomic(u64) = .init(0),
    /// Chunks of the current job that have finished; the caller waits for all of them, not
    /// for every worker, so a sleeping worker never delays a job it took no part in.
    chunks_done: Atomic(u32) = .init(0),
    /// Bumped per job (and on stop); pool threads sleep on it.
    generation: Atomic(u32) = .init(0),
    stopping: Atomic(bool) = .init(false),

    message: [limits.message_bytes_max]u8 = undefined,
    message_len: usize = 0,

    /// Creates a context with `threads` threads (the caller's thread is one of them).
    pub fn create(allocator: std.mem.Allocator, threads: u32, flags: u32) status.Error!*Ctx {
        if (threads == 0 or threads > limits.threads_max) return error.InvalidArgument;
        if (flags & ~flag_force_scalar != 0) return error.InvalidArgument;
        if (!cpu.supported()) return error.UnsupportedCpu;

        const self = allocator.create(Ctx) catch return error.OutOfMemory;
        errdefer allocator.destroy(self);
        const scratch = allocator.alignedAlloc(u8, .@"64", threads * limits.scratch_bytes_per_thread) catch
            return error.OutOfMemory;
        errdefer allocator.free(scratch);
        const channel_scratch = allocator.alignedAlloc(u64, .@"64", limits.channel_words_max) catch
            return error.OutOfMemory;
        errdefer allocator.free(channel_scratch);
        const workers = allocator.alloc(std.Thread, threads - 1) catch return error.OutOfMemory;
        errdefer allocator.free(workers);

        self.* = .{
            .allocator = allocator,
            .threads = threads,
            .variant = if (flags & flag_force_scalar != 0) .scalar else .simd,
            .workers = workers,
            .scratch = scratch,
            .channel_scratch = channel_scratch,
        };
        var spawned: usize = 0;
        errdefer self.stopWorkers(spawned);
        for (workers, 0..) |*worker, index| {
            worker.* = std.Thread.spawn(.{ .stack_size = 256 * 1024 }, workerMain, .{ self, @as(u32, @intCast(index + 1)) }) catch
                return error.ThreadSpawnFailed;
            spawned += 1;
        }
        return self;
    }

    /// Stops the pool threads and frees everything. The context must be idle.
    pub fn destroy(self: *Ctx) void {
        self.stopWorkers(self.workers.len);
        const allocator = self.allocator;
        allocator.free(self.workers);
        allocator.free(self.scratch);
        allocator.free(self.channel_scratch);
        allocator.destroy(self);
    }

    fn stopWorkers(self: *Ctx, spawned: usize) void {
        self.stopping.store(true, .release);
        _ = self.generation.fetchAdd(1, .release);
        Futex.wake(&self.generation, std.math.maxInt(u32));
        for (self.workers[0..spawned]) |worker| worker.join();
    }

    /// The scratch memory owned by pool thread `thread`.
    pub fn scratchFor(self: *Ctx, thread: u32) []align(64) u8 {
        std.debug.assert(thread < self.threads);
        const bytes = limits.scratch_bytes_per_thread;
        const start = thread * bytes;
        return @alignCast(self.scratch[start .. start + bytes]);
    }

    /// Runs `run` for chunks 0..chunks on all pool threads and returns when all are done.
    /// Chunks must write disjoint outputs, so the result does not depend on the schedule.
    pub fn parallelFor(self: *Ctx, chunks: u32, job_context: *const anyopaque, run: JobFn) void {
        if (chunks == 0) return;
        if (self.threads == 1 or chunks == 1) {
            for (0..chunks) |chunk| run(job_context, @intCast(chunk), 0);
            return;
        }
        self.job_fn = run;
        self.job_context = job_context;
        self.job_chunks = chunks;
        self.chunks_done.store(0, .monotonic);
        const generation = self.generation.load(.monotonic) +% 1;
        // Release: a thread that claims a chunk of this generation sees the job fields above.
        self.work.store(@as(u64, generation) << 32, .release);
        self.generation.store(generation, .release);
        Futex.wake(&self.generation, std.math.maxInt(u32));

        self.runChunks(generation, 0);

        if (spinUntil(allChunksDone, .{ self, chunks })) return;
        while (true) {
            const done = self.chunks_done.load(.acquire);
            if (done == chunks) break;
            Futex.wait(&self.chunks_done, done);
        }
    }

    fn allChunksDone(self: *Ctx, chunks: u32) bool {
        return self.chunks_done.load(.acquire) == chunks;
    }

    fn newGeneration(self: *Ctx, seen: u32) bool {
        return self.generation.load(.acquire) != seen;
    }

    /// Claims and runs chunks of job `generation` until none is left.
    fn runChunks(self: *Ctx, generation: u32, thread: u32) void {
        var work = self.work.load(.acquire);
        while (true) {
            if (work >> 32 != generation) return;
            const chunk: u32 = @truncate(work);
            if (chunk >= self.job_chunks) return;
            if (self.work.cmpxchgWeak(work, work + 1, .acquire, .acquire)) |current| {
                work = current;
                continue;
            }
            self.job_fn(self.job_context, chunk, thread);
            const done = self.chunks_done.fetchAdd(1, .acq_rel) + 1;
            if (done == self.job_chunks) Futex.wake(&self.chunks_done, 1);
            work = self.work.load(.acquire);
        }
    }

    fn workerMain(self: *Ctx, thread: u32) void {
        // Generation 0 is the value at creation, before any job: reading the live value here
        // instead would skip a job published before this thread got scheduled.
        var seen: u32 = 0;
        while (true) {
            if (!spinUntil(newGeneration, .{ self, seen })) {
                while (self.generation.load(.acquire) == seen) Futex.wait(&self.generation, seen);
            }
            seen = self.generation.load(.acquire);
            if (self.stopping.load(.acquire)) return;
            self.runChunks(seen, thread);
        }
    }

    /// Records a message for `ob_ctx_last_error` and returns `err`, so call sites read
    /// `return ctx.fail(error.ShapeMismatch, "...", .{...});`.
    pub fn fail(self: *Ctx, err: status.Error, comptime format: []const u8, args: anytype) status.Error {
        const written = std.fmt.bufPrint(&self.message, format, args) catch blk: {
            const ellipsis = "...";
            @memcpy(self.message[self.message.len - ellipsis.len ..], ellipsis);
            break :blk self.message[0..];
        };
        self.message_len = written.len;
        return err;
    }

    /// Clears the last error; every C API entry point calls it first.
    pub fn clearMessage(self: *Ctx) void {
        self.message_len = 0;
    }

    pub fn lastMessage(self: *const Ctx) []const u8 {
        return self.message[0..self.message_len];
    }
};

test "parallelFor runs every chunk exactly once on every thread count" {
    const Counter = struct {
        hits: [257]Atomic(u32),
        fn run(job_context: *const anyopaque, chunk: u32, thread: u32) void {
            const counter: *@This() = @ptrCast(@alignCast(@constCast(job_context)));
            std.debug.assert(thread < limits.threads_max);
            _ = counter.hits[chunk].fetchAdd(1, .monotonic);
        }
    };
    for ([_]u32{ 1, 2, 3, 4 }) |threads| {
        const ctx = try Ctx.create(std.testing.allocator, threads, 0);
        defer ctx.destroy();
        for ([_]u32{ 1, 2, 7, 64, 257 }) |chunks| {
            var counter: Counter = undefined;
            for (&counter.hits) |*hit| hit.* = .init(0);
            for (0..3) |_| ctx.parallelFor(chunks, &counter, Counter.run);
            for (counter.hits[0..chunks]) |hit| try std.testing.expectEqual(@as(u32, 3), hit.load(.monotonic));
            for (counter.hits[chunks..]) |hit| try std.testing.expectEqual(@as(u32, 0), hit.load(.monotonic));
        }
    }
}

test "create refuses zero and too many threads and unknown flags" {
    try std.testing.expectError(error.InvalidArgument, Ctx.create(std.testing.allocator, 0, 0));
    try std.testing.expectError(error.InvalidArgument, Ctx.create(std.testing.allocator, limits.threads_max + 1, 0));
    try std.testing.expectError(error.InvalidArgument, Ctx.create(std.testing.allocator, 1, 0x80));
}

test "fail keeps a truncated message when it is too long" {
    const ctx = try Ctx.create(std.testing.allocator, 1, 0);
    defer ctx.destroy();
    const long = "x" ** 400;
    try std.testing.expectError(error.InvalidArgument, @as(status.Error!void, ctx.fail(error.InvalidArgument, "{s}", .{long})));
    try std.testing.expectEqual(limits.message_bytes_max, ctx.lastMessage().len);
    try std.testing.expect(std.mem.endsWith(u8, ctx.lastMessage(), "..."));
}
