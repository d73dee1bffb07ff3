//! Hamming distances and matching in plain loops, straight from the contract: every pair,
//! word by word. Never fast, obviously right; the tiled variant is compared with it exactly.

const std = @import("std");
const contract = @import("contract.zig");

pub fn distance(a: []const u64, b: []const u64) u32 {
    std.debug.assert(a.len == b.len);
    var sum: u32 = 0;
    for (a, b) |x, y| sum += @popCount(x ^ y);
    return sum;
}

fn descriptor(set: []const u64, words: u32, index: usize) []const u64 {
    return set[index * words ..][0..words];
}

pub fn distances(words: u32, query: []const u64, query_count: u32, train: []const u64, train_count: u32, out: []u16) void {
    for (0..query_count) |q| {
        for (0..train_count) |t| {
            out[q * train_count + t] = @intCast(distance(descriptor(query, words, q), descriptor(train, words, t)));
        }
    }
}

const Nearest = struct { index: ?u32, best: u32, second: u32 };

/// The two nearest descriptors of `set` to `probe`, scanning in index order: a strictly
/// smaller distance is needed to replace the best, so ties keep the lowest index.
fn nearest(words: u32, probe: []const u64, set: []const u64, count: u32) Nearest {
    var result: Nearest = .{ .index = null, .best = contract.none, .second = contract.none };
    for (0..count) |i| {
        const d = distance(probe, descriptor(set, words, i));
        if (result.index == null or d < result.best) {
            result.second = result.best;
            result.best = d;
            result.index = @intCast(i);
        } else if (d < result.second) {
            result.second = d;
        }
    }
    return result;
}

pub fn match(
    words: u32,
    query: []const u64,
    query_count: u32,
    train: []const u64,
    train_count: u32,
    options: contract.MatchOptions,
    out_index: []i32,
    out_best: []u32,
    out_second: []u32,
) void {
    for (0..query_count) |q| {
        const probe = descriptor(query, words, q);
        const found = nearest(words, probe, train, train_count);
        out_best[q] = found.best;
        out_second[q] = found.second;
        out_index[q] = -1;
        const index = found.index orelse continue;
        if (!contract.ratioAccepts(options.ratio, found.best, found.second)) continue;
        if (options.cross_check) {
            const back = nearest(words, descriptor(train, words, index), query, query_count);
            if (back.index.? != q) continue;
        }
        out_index[q] = @intCast(index);
    }
}
