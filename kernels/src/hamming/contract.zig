//! Hamming matching of binary descriptors: the contract every variant keeps.
//!
//! Descriptors are `bits` long, `bits` a multiple of 64 from 64 to 1024 (R2D2-style binary
//! descriptors are 256 or 512 bits). A set of `count` descriptors is `[count][bits/64]` u64,
//! 8-byte aligned; descriptor i occupies words `i*words .. (i+1)*words`. Bit order inside a
//! word does not matter: the distance of two descriptors is the number of differing bits,
//! `sum over words of popcount(a[w] XOR b[w])`, a value in `0..bits`.
//!
//! Distances (`ob_hamming_distances`): `out[q*train_count + t]` = distance(query q, train t)
//! as u16 (bits <= 1024 always fits; half the bytes of u32 for a matrix that can be large).
//!
//! Matching (`ob_hamming_match`), per query q:
//!   - best = the train index with the smallest distance, ties going to the LOWEST index;
//!     best_distance its distance; second_distance = the second smallest distance in the
//!     multiset of distances (equal to best_distance when two train descriptors tie).
//!     With no train descriptor best_distance is `none`, with fewer than two
//!     second_distance is `none` (`none` = 0xFFFF_FFFF).
//!   - ratio test (Lowe): accepted when `ratio >= 1`, or when
//!     `f32(best_distance) < ratio * f32(second_distance)` as one IEEE f32 multiply (a
//!     missing second neighbour is `none`, which passes any ratio > 0). `ratio` must be
//!     > 0 and not NaN.
//!   - cross check (when on): also accepted only when q is the best query of train `best`
//!     over ALL queries, with the same rule (smallest distance, lowest query index on ties).
//!   - out_index[q] = best when accepted, else -1 (also -1 with no train descriptor).
//!     out_best[q] and out_second[q] are always written, accepted or not.
//! The full distance matrix is never stored by the match: it is scanned in tiles.

const std = @import("std");
const limits = @import("../limits.zig");

/// Words of the longest descriptor (1024 bits).
pub const words_max: u32 = 16;

/// Distance reported for a missing neighbour.
pub const none: u32 = 0xFFFF_FFFF;

/// Bits of a packed search key given to the index: `key = distance << index_bits | index`.
/// Comparing keys compares distances first and, on ties, indices, which is exactly the
/// tie rule of the contract, so top-2 tracking is two min/max operations per candidate.
pub const index_bits: u5 = 20;

/// The key no candidate reaches: the initial best and second of every search.
pub const key_none: u32 = std.math.maxInt(u32);

comptime {
    std.debug.assert(limits.descriptors_max <= 1 << index_bits);
    // The largest key (distance 1024, index 2^20 - 1) stays below `key_none`.
    std.debug.assert((@as(u64, words_max * 64) << index_bits) | ((1 << index_bits) - 1) < key_none);
}

pub fn key(distance: u32, index: u32) u32 {
    std.debug.assert(distance <= words_max * 64 and index < 1 << index_bits);
    return distance << index_bits | index;
}

pub fn keyDistance(k: u32) u32 {
    return if (k == key_none) none else k >> index_bits;
}

pub fn keyIndex(k: u32) u32 {
    std.debug.assert(k != key_none);
    return k & ((1 << index_bits) - 1);
}

/// The ratio test of the contract.
pub fn ratioAccepts(ratio: f32, best: u32, second: u32) bool {
    if (ratio >= 1) return true;
    const b: f32 = @floatFromInt(best);
    const s: f32 = @floatFromInt(second);
    return b < ratio * s;
}

/// Arguments of a match, validated.
pub const MatchOptions = struct {
    ratio: f32,
    cross_check: bool,
};

test "hamming keys order by distance, then index" {
    try std.testing.expect(key(3, 9) < key(4, 0));
    try std.testing.expect(key(3, 1) < key(3, 2));
    try std.testing.expectEqual(@as(u32, 1024), keyDistance(key(1024, (1 << index_bits) - 1)));
    try std.testing.expectEqual(none, keyDistance(key_none));
}

test "hamming ratio test accepts a missing second neighbour and refuses ties below 1" {
    try std.testing.expect(ratioAccepts(0.8, 10, none));
    try std.testing.expect(!ratioAccepts(0.8, 10, 10));
    try std.testing.expect(ratioAccepts(1.0, 10, 10));
    try std.testing.expect(ratioAccepts(0.8, 7, 9));
    try std.testing.expect(!ratioAccepts(0.8, 8, 10));
}
