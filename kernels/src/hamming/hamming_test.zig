//! The hamming family tester: the tiled variant against the reference over descriptor
//! lengths, set sizes (1, 7, 64, 1000, and tails past one tile), ratios, cross check and
//! thread counts; planted matches; hand-made tie, ratio and cross-check cases; bad
//! arguments. Outputs must match exactly; a failure prints variant, position, sizes, seed.

const std = @import("std");
const hamming = @import("hamming.zig");
const contract = @import("contract.zig");
const tiled = @import("tiled.zig");
const ctx_mod = @import("../ctx.zig");
const Ctx = ctx_mod.Ctx;

const testing = std.testing;
const allocator = testing.allocator;

const seed_base: u64 = 0x4841_4d4d;

fn randomSet(random: std.Random, count: u32, words: u32) ![]u64 {
    const set = try allocator.alloc(u64, @as(usize, count) * words);
    for (set) |*word| word.* = random.int(u64);
    return set;
}

/// Flips `flips` distinct random bits of a descriptor, so its distance to the original is
/// exactly `flips`.
fn flipBits(random: std.Random, descriptor: []u64, flips: u32) void {
    const bits: u32 = @intCast(descriptor.len * 64);
    std.debug.assert(flips < bits);
    var flipped: [contract.words_max]u64 = @splat(0);
    var done: u32 = 0;
    while (done < flips) {
        const bit = random.uintLessThan(u32, bits);
        const mask = @as(u64, 1) << @intCast(bit % 64);
        if (flipped[bit / 64] & mask != 0) continue;
        flipped[bit / 64] |= mask;
        descriptor[bit / 64] ^= mask;
        done += 1;
    }
}

const MatchOut = struct {
    index: []i32,
    best: []u32,
    second: []u32,

    fn init(count: u32) !MatchOut {
        const index = try allocator.alloc(i32, count);
        @memset(index, 0x5a5a);
        const best = try allocator.alloc(u32, count);
        @memset(best, 0x5a5a);
        const second = try allocator.alloc(u32, count);
        @memset(second, 0x5a5a);
        return .{ .index = index, .best = best, .second = second };
    }

    fn deinit(self: MatchOut) void {
        allocator.free(self.index);
        allocator.free(self.best);
        allocator.free(self.second);
    }
};

fn runMatch(ctx: *Ctx, bits: u32, query: []const u64, query_count: u32, train: []const u64, train_count: u32, ratio: f32, cross: bool, out: MatchOut) !void {
    try hamming.match(ctx, bits, query.ptr, @intCast(query.len), query_count, train.ptr, @intCast(train.len), train_count, ratio, @intFromBool(cross), out.index.ptr, query_count, out.best.ptr, query_count, out.second.ptr, query_count);
}

const Case = struct { bits: u32, query_count: u32, train_count: u32, threads: u32 };

/// Runs distances and match (all ratio/cross combinations) with both variants on random
/// sets where some queries are noisy copies of train descriptors.
fn compareVariants(case: Case, seed: u64) !void {
    const words = case.bits / 64;
    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    const query = try randomSet(random, case.query_count, words);
    defer allocator.free(query);
    const train = try randomSet(random, case.train_count, words);
    defer allocator.free(train);
    // Plant matches and duplicates, so ties and both ratio outcomes occur.
    for (0..case.query_count) |q| {
        if (random.uintLessThan(u32, 3) == 0) continue;
        const t = random.uintLessThan(u32, case.train_count);
        @memcpy(query[q * words ..][0..words], train[t * words ..][0..words]);
        flipBits(random, query[q * words ..][0..words], random.uintLessThan(u32, 4 * words));
    }
    if (case.train_count > 2) @memcpy(train[words .. 2 * words], train[0..words]);

    const scalar = try Ctx.create(allocator, 1, ctx_mod.flag_force_scalar);
    defer scalar.destroy();
    const simd = try Ctx.create(allocator, case.threads, 0);
    defer simd.destroy();

    const cells = @as(usize, case.query_count) * case.train_count;
    const expected = try allocator.alloc(u16, cells);
    defer allocator.free(expected);
    const actual = try allocator.alloc(u16, cells);
    defer allocator.free(actual);
    @memset(actual, 0xffff);
    try hamming.distances(scalar, case.bits, query.ptr, @intCast(query.len), case.query_count, train.ptr, @intCast(train.len), case.train_count, expected.ptr, @intCast(cells));
    try hamming.distances(simd, case.bits, query.ptr, @intCast(query.len), case.query_count, train.ptr, @intCast(train.len), case.train_count, actual.ptr, @intCast(cells));
    for (expected, actual, 0..) |e, a, i| {
        if (e != a) {
            std.debug.print("hamming distances {d}x{d}__simd differs at query {d} train {d}: {d} vs reference {d} (bits {d}, queries {d}, train {d}, threads {d}, seed {x})\n", .{ tiled.rows_per_step, tiled.lanes, i / case.train_count, i % case.train_count, a, e, case.bits, case.query_count, case.train_count, case.threads, seed });
            return error.TestExpectedEqual;
        }
    }

    for ([_]f32{ 1.0, 0.8 }) |ratio| {
        for ([_]bool{ false, true }) |cross| {
            const want = try MatchOut.init(case.query_count);
            defer want.deinit();
            const got = try MatchOut.init(case.query_count);
            defer got.deinit();
            try runMatch(scalar, case.bits, query, case.query_count, train, case.train_count, ratio, cross, want);
            try runMatch(simd, case.bits, query, case.query_count, train, case.train_count, ratio, cross, got);
            for (0..case.query_count) |q| {
                if (want.index[q] != got.index[q] or want.best[q] != got.best[q] or want.second[q] != got.second[q]) {
                    std.debug.print("hamming match {d}x{d}__simd differs at query {d}: index {d} best {d} second {d} vs reference {d} {d} {d} (bits {d}, queries {d}, train {d}, ratio {d}, cross {}, threads {d}, seed {x})\n", .{ tiled.rows_per_step, tiled.lanes, q, got.index[q], got.best[q], got.second[q], want.index[q], want.best[q], want.second[q], case.bits, case.query_count, case.train_count, ratio, cross, case.threads, seed });
                    return error.TestExpectedEqual;
                }
            }
        }
    }
}

test "hamming variants match the reference on every size and descriptor length" {
    const sizes = [_]u32{ 1, 7, 64, 1000 };
    var seed = seed_base;
    for ([_]u32{ 256, 512 }) |bits| {
        for (sizes) |query_count| {
            for (sizes) |train_count| {
                seed += 1;
                try compareVariants(.{ .bits = bits, .query_count = query_count, .train_count = train_count, .threads = 3 }, seed);
            }
        }
    }
    for ([_]u32{ 64, 128, 192, 320, 448, 640, 768, 1024 }) |bits| {
        seed += 1;
        try compareVariants(.{ .bits = bits, .query_count = 37, .train_count = 301, .threads = 2 }, seed);
    }
}

test "hamming variants match the reference across several column tiles and threads" {
    // 1024-bit descriptors: 256 columns per tile, so 1500 train span 6 tiles.
    try compareVariants(.{ .bits = 1024, .query_count = 131, .train_count = 1500, .threads = 1 }, seed_base + 100);
    try compareVariants(.{ .bits = 256, .query_count = 300, .train_count = 2500, .threads = 4 }, seed_base + 101);
    try compareVariants(.{ .bits = 512, .query_count = 3, .train_count = 4100, .threads = 2 }, seed_base + 102);
}

test "hamming match finds planted noisy copies with the ratio test and cross check" {
    const seed = seed_base + 200;
    var prng = std.Random.DefaultPrng.init(seed);
    const random = prng.random();
    for ([_]u32{ 256, 512 }) |bits| {
        const words = bits / 64;
        const train_count: u32 = 1000;
        const query_count: u32 = 400;
        const train = try randomSet(random, train_count, words);
        defer allocator.free(train);
        const query = try randomSet(random, query_count, words);
        defer allocator.free(query);
        // The first 300 queries copy a distinct train descriptor with a few bits flipped;
        // the other 100 are random and must not match (random pairs are ~bits/2 apart).
        var targets: [300]u32 = undefined;
        for (&targets, 0..) |*target, i| target.* = @intCast((i * 7 + 3) % train_count);
        for (targets, 0..) |target, q| {
            @memcpy(query[q * words ..][0..words], train[target * words ..][0..words]);
            flipBits(random, query[q * words ..][0..words], random.uintLessThan(u32, bits / 16) + 1);
        }
        for ([_]u32{ ctx_mod.flag_force_scalar, 0 }) |flags| {
            const ctx = try Ctx.create(allocator, 2, flags);
            defer ctx.destroy();
            const out = try MatchOut.init(query_count);
            defer out.deinit();
            try runMatch(ctx, bits, query, query_count, train, train_count, 0.8, true, out);
            for (targets, 0..) |target, q| {
                testing.expectEqual(@as(i32, @intCast(target)), out.index[q]) catch |err| {
                    std.debug.print("planted query {d} (bits {d}, flags {d}, seed {x}): best {d} second {d}\n", .{ q, bits, flags, seed, out.best[q], out.second[q] });
                    return err;
                };
                try testing.expect(out.best[q] <= bits / 16);
            }
            for (targets.len..query_count) |q| try testing.expectEqual(@as(i32, -1), out.index[q]);
        }
    }
}

/// One-word descriptors with the given popcount patterns make distances easy to read.
fn expectMatch(query: []const u64, train: []const u64, ratio: f32, cross: bool, index: []const i32, best: []const u32, second: []const u32) !void {
    for ([_]u32{ ctx_mod.flag_force_scalar, 0 }) |flags| {
        const ctx = try Ctx.create(allocator, 1, flags);
        defer ctx.destroy();
        const out = try MatchOut.init(@intCast(query.len));
        defer out.deinit();
        try runMatch(ctx, 64, query, @intCast(query.len), train, @intCast(train.len), ratio, cross, out);
        try testing.expectEqualSlices(i32, index, out.index);
        try testing.expectEqualSlices(u32, best, out.best);
        try testing.expectEqualSlices(u32, second, out.second);
    }
}

test "hamming match breaks ties toward the lowest train index" {
    // Train 1 and 3 are both at distance 1 from the query; 1 wins, and second = best = 1.
    const query = [_]u64{0};
    const train = [_]u64{ 0b111, 0b1, 0xff, 0b10 };
    try expectMatch(&query, &train, 1.0, false, &.{1}, &.{1}, &.{1});
    // A tie fails any ratio below 1.
    try expectMatch(&query, &train, 0.99, false, &.{-1}, &.{1}, &.{1});
}

test "hamming match applies the ratio test as best < ratio * second" {
    const query = [_]u64{0};
    // best 3 (train 0), second 4 (train 1): 3 < 0.8*4 = 3.2 passes, 3 < 0.7*4 = 2.8 fails.
    const train = [_]u64{ 0b111, 0b1111, 0xffff };
    try expectMatch(&query, &train, 0.8, false, &.{0}, &.{3}, &.{4});
    try expectMatch(&query, &train, 0.7, false, &.{-1}, &.{3}, &.{4});
    // One train descriptor: no second neighbour, every ratio passes.
    try expectMatch(&query, train[0..1], 0.1, false, &.{0}, &.{3}, &.{contract.none});
    // No train descriptor at all: nothing matches.
    try expectMatch(&query, train[0..0], 0.8, false, &.{-1}, &.{contract.none}, &.{contract.none});
}

test "hamming match cross check keeps only mutual nearest neighbours" {
    // Both queries are nearest to train 0, and train 0 is nearest to query 1 (distance 0),
    // so with the cross check query 0 loses its match.
    const query = [_]u64{ 0b11, 0b1 };
    const train = [_]u64{ 0b1, 0b1111_0000 };
    try expectMatch(&query, &train, 1.0, false, &.{ 0, 0 }, &.{ 1, 0 }, &.{ 6, 5 });
    try expectMatch(&query, &train, 1.0, true, &.{ -1, 0 }, &.{ 1, 0 }, &.{ 6, 5 });
    // Two identical queries tie for train 0: the lower query index keeps it.
    const twins = [_]u64{ 0b1, 0b1 };
    try expectMatch(&twins, &train, 1.0, true, &.{ 0, -1 }, &.{ 0, 0 }, &.{ 5, 5 });
}

test "hamming distances of hand-made descriptors" {
    const query = [_]u64{ 0, 0, 0, ~@as(u64, 0) };
    const train = [_]u64{ 0b1, 0, 0b11, 0, 0, 0 };
    for ([_]u32{ ctx_mod.flag_force_scalar, 0 }) |flags| {
        const ctx = try Ctx.create(allocator, 1, flags);
        defer ctx.destroy();
        var out: [6]u16 = @splat(0);
        // 128-bit descriptors: query 0 = {0, 0}, query 1 = {0, ~0}; train {1,0}, {3,0}, {0,0}.
        try hamming.distances(ctx, 128, &query, 4, 2, &train, 6, 3, &out, 6);
        try testing.expectEqualSlices(u16, &.{ 1, 2, 0, 65, 66, 64 }, &out);
    }
}

test "hamming refuses bad arguments with a message" {
    const ctx = try Ctx.create(allocator, 1, 0);
    defer ctx.destroy();
    var set: [16]u64 = @splat(0);
    var out16: [16]u16 = undefined;
    var index: [4]i32 = undefined;
    var dist: [4]u32 = undefined;
    const d = hamming.distances;
    try testing.expectError(error.InvalidArgument, d(ctx, 100, &set, 16, 1, &set, 16, 1, &out16, 16));
    try testing.expectEqualStrings("descriptor bits is 100, must be a multiple of 64 from 64 to 1024", ctx.lastMessage());
    try testing.expectError(error.InvalidArgument, d(ctx, 0, &set, 16, 1, &set, 16, 1, &out16, 16));
    try testing.expectError(error.InvalidArgument, d(ctx, 1088, &set, 16, 1, &set, 16, 1, &out16, 16));
    try testing.expectError(error.BufferTooSmall, d(ctx, 256, &set, 7, 2, &set, 16, 1, &out16, 16));
    try testing.expectEqualStrings("query descriptors holds 7 elements, needs 8", ctx.lastMessage());
    try testing.expectError(error.BufferTooSmall, d(ctx, 256, &set, 16, 4, &set, 16, 4, &out16, 15));
    try testing.expectError(error.NullPointer, d(ctx, 256, null, 16, 1, &set, 16, 1, &out16, 16));
    try testing.expectError(error.LimitExceeded, d(ctx, 64, &set, 16, (1 << 20) + 1, &set, 16, 1, &out16, 16));
    const unaligned: [*]align(1) const u64 = @ptrFromInt(@intFromPtr(&set) + 4);
    try testing.expectError(error.InvalidArgument, d(ctx, 64, unaligned, 8, 1, &set, 16, 1, &out16, 16));
    try testing.expectEqualStrings("query descriptors must be 8-byte aligned", ctx.lastMessage());

    const m = hamming.match;
    try testing.expectError(error.InvalidArgument, m(ctx, 256, &set, 16, 4, &set, 16, 4, 0, 0, &index, 4, &dist, 4, &dist, 4));
    try testing.expectEqualStrings("ratio is 0, must be > 0 (>= 1 disables the ratio test)", ctx.lastMessage());
    try testing.expectError(error.InvalidArgument, m(ctx, 256, &set, 16, 4, &set, 16, 4, std.math.nan(f32), 0, &index, 4, &dist, 4, &dist, 4));
    try testing.expectError(error.InvalidArgument, m(ctx, 256, &set, 16, 4, &set, 16, 4, 0.8, 2, &index, 4, &dist, 4, &dist, 4));
    try testing.expectError(error.BufferTooSmall, m(ctx, 256, &set, 16, 4, &set, 16, 4, 0.8, 1, &index, 3, &dist, 4, &dist, 4));
    try testing.expectEqualStrings("out_index holds 3 elements, needs 4", ctx.lastMessage());
    try testing.expectError(error.NullPointer, m(ctx, 256, &set, 16, 4, &set, 16, 4, 0.8, 1, &index, 4, null, 4, &dist, 4));
    // Empty query sets are fine and write nothing.
    try m(ctx, 256, &set, 16, 0, &set, 16, 4, 0.8, 1, &index, 0, &dist, 0, &dist, 0);
    try d(ctx, 256, &set, 16, 0, &set, 16, 4, &out16, 0);
}
