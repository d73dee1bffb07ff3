//! Hamming distances and nearest-neighbour matching of binary descriptors: argument
//! validation and variant dispatch. The contract is in `contract.zig`; `reference.zig` is
//! the scalar variant and `tiled.zig` the SIMD one. Both calls run in parallel over tiles
//! of queries (`ctx.parallelFor`); every chunk writes only its own queries' outputs.

const std = @import("std");
const contract = @import("contract.zig");
const reference = @import("reference.zig");
const tiled = @import("tiled.zig");
const limits = @import("../limits.zig");
const status = @import("../status.zig");
const shape = @import("../shape.zig");
const Ctx = @import("../ctx.zig").Ctx;

/// Queries per chunk at most: their top-2 state lives on the stack of the running thread
/// (`rows_per_chunk_max * lanes * 8` bytes), and the tile transpose is paid once per chunk.
const rows_per_chunk_max: u32 = 128;

comptime {
    std.debug.assert(rows_per_chunk_max % tiled.rows_per_step == 0);
    std.debug.assert(rows_per_chunk_max * @sizeOf(tiled.Top2) <= 16 * 1024);
    std.debug.assert(tiled.tile_bytes <= limits.scratch_bytes_per_thread);
}

/// The validated descriptor sets of a call.
const Sets = struct {
    words: u32,
    query: []const u64,
    query_count: u32,
    train: []const u64,
    train_count: u32,
};

fn readSets(ctx: *Ctx, bits: u32, query: ?[*]align(1) const u64, query_len: u32, query_count: u32, train: ?[*]align(1) const u64, train_len: u32, train_count: u32) status.Error!Sets {
    if (bits == 0 or bits % 64 != 0 or bits > contract.words_max * 64)
        return ctx.fail(error.InvalidArgument, "descriptor bits is {d}, must be a multiple of 64 from 64 to {d}", .{ bits, contract.words_max * 64 });
    if (query_count > limits.descriptors_max)
        return ctx.fail(error.LimitExceeded, "query_count is {d}, max {d}", .{ query_count, limits.descriptors_max });
    if (train_count > limits.descriptors_max)
        return ctx.fail(error.LimitExceeded, "train_count is {d}, max {d}", .{ train_count, limits.descriptors_max });
    const n = bits / 64;
    const q = try shape.words(ctx, query, query_len, @as(u64, query_count) * n, "query descriptors");
    const t = try shape.words(ctx, train, train_len, @as(u64, train_count) * n, "train descriptors");
    return .{ .words = n, .query = q, .query_count = query_count, .train = t, .train_count = train_count };
}

fn alignedMut(ctx: *Ctx, comptime T: type, ptr: ?[*]align(1) T, len: u32, needed: u64, comptime what: []const u8) status.Error![]T {
    if (len < needed) return ctx.fail(error.BufferTooSmall, what ++ " holds {d} elements, needs {d}", .{ len, needed });
    if (needed == 0) return &.{};
    const p = ptr orelse return ctx.fail(error.NullPointer, what ++ " is null", .{});
    if (@intFromPtr(p) % @alignOf(T) != 0)
        return ctx.fail(error.InvalidArgument, what ++ " must be {d}-byte aligned", .{@alignOf(T)});
    const aligned: [*]T = @alignCast(p);
    return aligned[0..@intCast(needed)];
}

/// Queries per chunk: enough chunks to feed every thread a few times, each a multiple of
/// the row step. Any value gives the same result; it only balances the work.
fn rowsPerChunk(ctx: *const Ctx, rows: u32) u32 {
    const wanted = std.math.divCeil(u32, rows, ctx.threads * 4) catch unreachable;
    const rounded = std.mem.alignForward(u32, @max(wanted, 1), tiled.rows_per_step);
    return @min(rounded, rows_per_chunk_max);
}

/// Full distance matrix `out[q*train_count + t]` (u16).
pub fn distances(ctx: *Ctx, bits: u32, query: ?[*]align(1) const u64, query_len: u32, query_count: u32, train: ?[*]align(1) const u64, train_len: u32, train_count: u32, out: ?[*]align(1) u16, out_len: u32) status.Error!void {
    const sets = try readSets(ctx, bits, query, query_len, query_count, train, train_len, train_count);
    const matrix = try alignedMut(ctx, u16, out, out_len, @as(u64, query_count) * train_count, "distance matrix");
    if (query_count == 0 or train_count == 0) return;
    switch (ctx.variant) {
        .scalar => reference.distances(sets.words, sets.query, query_count, sets.train, train_count, matrix),
        .simd => {
            const job: DistancesJob = .{ .ctx = ctx, .sets = sets, .out = matrix, .rows_per_chunk = rowsPerChunk(ctx, query_count) };
            ctx.parallelFor(std.math.divCeil(u32, query_count, job.rows_per_chunk) catch unreachable, &job, DistancesJob.run);
        },
    }
}

/// Best and second-best train descriptor of every query with the ratio test and optional
/// cross check (see `contract.zig`).
pub fn match(
    ctx: *Ctx,
    bits: u32,
    query: ?[*]align(1) const u64,
    query_len: u32,
    query_count: u32,
    train: ?[*]align(1) const u64,
    train_len: u32,
    train_count: u32,
    ratio: f32,
    cross_check: u32,
    out_index: ?[*]align(1) i32,
    out_index_len: u32,
    out_best: ?[*]align(1) u32,
    out_best_len: u32,
    out_second: ?[*]align(1) u32,
    out_second_len: u32,
) status.Error!void {
    const sets = try readSets(ctx, bits, query, query_len, query_count, train, train_len, train_count);
    if (std.math.isNan(ratio) or ratio <= 0)
        return ctx.fail(error.InvalidArgument, "ratio is {d}, must be > 0 (>= 1 disables the ratio test)", .{ratio});
    if (cross_check > 1)
        return ctx.fail(error.InvalidArgument, "cross_check is {d}, must be 0 or 1", .{cross_check});
    const index = try alignedMut(ctx, i32, out_index, out_index_len, query_count, "out_index");
    const best = try alignedMut(ctx, u32, out_best, out_best_len, query_count, "out_best");
    const second = try alignedMut(ctx, u32, out_second, out_second_len, query_count, "out_second");
    const options: contract.MatchOptions = .{ .ratio = ratio, .cross_check = cross_check == 1 };
    if (query_count == 0) return;
    if (train_count == 0) {
        @memset(index, -1);
        @memset(best, contract.none);
        @memset(second, contract.none);
        return;
    }
    switch (ctx.variant) {
        .scalar => reference.match(sets.words, sets.query, query_count, sets.train, train_count, options, index, best, second),
        .simd => {
            const job: MatchJob = .{ .ctx = ctx, .sets = sets, .options = options, .index = index, .best = best, .second = second, .rows_per_chunk = rowsPerChunk(ctx, query_count) };
            ctx.parallelFor(std.math.divCeil(u32, query_count, job.rows_per_chunk) catch unreachable, &job, MatchJob.run);
        },
    }
}

fn tileOf(ctx: *Ctx, thread: u32) []tiled.Words {
    const scratch = ctx.scratchFor(thread);
    return std.mem.bytesAsSlice(tiled.Words, scratch[0..tiled.tile_bytes]);
}

const DistancesJob = struct {
    ctx: *Ctx,
    sets: Sets,
    out: []u16,
    rows_per_chunk: u32,

    fn run(job_context: *const anyopaque, chunk: u32, thread: u32) void {
        const job: *const DistancesJob = @ptrCast(@alignCast(job_context));
        const first = chunk * job.rows_per_chunk;
        const count = @min(job.rows_per_chunk, job.sets.query_count - first);
        std.debug.assert(first < job.sets.query_count);
        var rows: [rows_per_chunk_max]u32 = undefined;
        for (0..count) |i| rows[i] = (first + @as(u32, @intCast(i))) * job.sets.words;
        const columns: tiled.Set = .{ .words = job.sets.train, .count = job.sets.train_count };
        const stride: usize = job.sets.train_count;
        const out = job.out[first * stride ..][0 .. count * stride];
        switch (job.sets.words) {
            inline 1...contract.words_max => |W| tiled.scanDistances(W, job.sets.query, rows[0..count], columns, tileOf(job.ctx, thread), out),
            else => unreachable,
        }
    }
};

const MatchJob = struct {
    ctx: *Ctx,
    sets: Sets,
    options: contract.MatchOptions,
    index: []i32,
    best: []u32,
    second: []u32,
    rows_per_chunk: u32,

    fn run(job_context: *const anyopaque, chunk: u32, thread: u32) void {
        const job: *const MatchJob = @ptrCast(@alignCast(job_context));
        switch (job.sets.words) {
            inline 1...contract.words_max => |W| job.runWords(W, chunk, thread),
            else => unreachable,
        }
    }

    fn runWords(job: *const MatchJob, comptime W: usize, chunk: u32, thread: u32) void {
        const sets = job.sets;
        const first = chunk * job.rows_per_chunk;
        const count = @min(job.rows_per_chunk, sets.query_count - first);
        std.debug.assert(first < sets.query_count);
        const tile = tileOf(job.ctx, thread);

        var rows: [rows_per_chunk_max]u32 = undefined;
        var state: [rows_per_chunk_max]tiled.Top2 = @splat(.{});
        for (0..count) |i| rows[i] = (first + @as(u32, @intCast(i))) * sets.words;
        const trains: tiled.Set = .{ .words = sets.train, .count = sets.train_count };
        tiled.scanTop2(W, sets.query, rows[0..count], trains, tile, state[0..count]);

        // Queries that pass the ratio test; with the cross check on, their best train
        // descriptors are then matched back against all queries.
        var pending: [rows_per_chunk_max]u32 = undefined;
        var pending_count: usize = 0;
        for (0..count) |i| {
            const q = first + @as(u32, @intCast(i));
            const top = state[i].finish();
            std.debug.assert(top.best != contract.key_none);
            const best = contract.keyDistance(top.best);
            const second = contract.keyDistance(top.second);
            job.best[q] = best;
            job.second[q] = second;
            job.index[q] = -1;
            if (!contract.ratioAccepts(job.options.ratio, best, second)) continue;
            job.index[q] = @intCast(contract.keyIndex(top.best));
            pending[pending_count] = q;
            pending_count += 1;
        }
        if (!job.options.cross_check or pending_count == 0) return;

        var back: [rows_per_chunk_max]tiled.Top2 = @splat(.{});
        for (pending[0..pending_count], 0..) |q, i| rows[i] = @as(u32, @intCast(job.index[q])) * sets.words;
        const queries: tiled.Set = .{ .words = sets.query, .count = sets.query_count };
        tiled.scanTop2(W, sets.train, rows[0..pending_count], queries, tile, back[0..pending_count]);
        for (pending[0..pending_count], 0..) |q, i| {
            const mutual = contract.keyIndex(back[i].finish().best) == q;
            if (!mutual) job.index[q] = -1;
        }
    }
};

test {
    _ = contract;
    _ = @import("hamming_test.zig");
}
