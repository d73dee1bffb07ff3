//! The gather primitive of the codebook kernel: `out[l] = row[index[l]]` for every byte lane
//! of a native vector, where `row` holds a channel's 2^tau codeword responses. A table
//! lookup with run-time indices has no portable vector form, so each ISA gets its own:
//!   - x86 with SSSE3 (v3, v4): `vpshufb` on 16-entry sub-tables broadcast to every 128-bit
//!     lane, joined by a select tree on index bits 4..tau-1 (1 shuffle for tau <= 4, 2 + 1
//!     select for tau 5, 4 + 3 for tau 6, ...);
//!   - aarch64: `tbl` with 1, 2 or 4 table registers (16, 32, 64 entries) in one
//!     instruction, and for tau 7 and 8 the OR of several 64-entry `tbl`s on shifted indices
//!     (`tbl` gives 0 for an index past its table);
//!   - baseline x86_64 (SSE2, no byte shuffle): one lane at a time.

const std = @import("std");
const builtin = @import("builtin");
const cpu = @import("../cpu.zig");

/// Bytes of one native vector.
pub const width: comptime_int = cpu.vector_bytes;
pub const Bytes = @Vector(width, u8);
pub const Signed = @Vector(width, i8);
const Sub = @Vector(16, u8);

pub const Method = enum { pshufb, tbl, scalar };

pub const method: Method = switch (builtin.cpu.arch) {
    .x86_64 => if (std.Target.x86.featureSetHas(builtin.cpu.features, .ssse3)) .pshufb else .scalar,
    .aarch64 => .tbl,
    else => @compileError("onebit supports x86_64 and aarch64 only"),
};

/// Short name of the variant for test messages (`<width>__<isa>`).
pub const isa_name = switch (method) {
    .pshufb => switch (width) {
        64 => "avx512",
        32 => "avx2",
        else => "ssse3",
    },
    .tbl => "neon",
    .scalar => "scalar",
};

extern fn @"llvm.x86.ssse3.pshuf.b.128"(Sub, Sub) Sub;
extern fn @"llvm.x86.avx2.pshuf.b"(@Vector(32, u8), @Vector(32, u8)) @Vector(32, u8);
extern fn @"llvm.x86.avx512.pshuf.b.512"(@Vector(64, u8), @Vector(64, u8)) @Vector(64, u8);
extern fn @"llvm.aarch64.neon.tbl1.v16i8"(Sub, Sub) Sub;
extern fn @"llvm.aarch64.neon.tbl2.v16i8"(Sub, Sub, Sub) Sub;
extern fn @"llvm.aarch64.neon.tbl4.v16i8"(Sub, Sub, Sub, Sub, Sub) Sub;

/// `vpshufb`: per 128-bit lane, byte l = table[index[l] & 15], or 0 when bit 7 is set.
inline fn pshufb(table: Bytes, index: Bytes) Bytes {
    return switch (width) {
        16 => @"llvm.x86.ssse3.pshuf.b.128"(table, index),
        32 => @"llvm.x86.avx2.pshuf.b"(table, index),
        64 => @"llvm.x86.avx512.pshuf.b.512"(table, index),
        else => unreachable,
    };
}

inline fn loadSub(row: [*]const u8, k: usize) Sub {
    return row[16 * k ..][0..16].*;
}

const repeat_mask: [width]i32 = blk: {
    var mask: [width]i32 = undefined;
    for (&mask, 0..) |*m, i| m.* = @intCast(i % 16);
    break :blk mask;
};

/// A 16-byte sub-table repeated in every 128-bit lane (`vbroadcasti32x4` from memory).
inline fn broadcastSub(row: [*]const u8, k: usize) Bytes {
    return @shuffle(u8, loadSub(row, k), undefined, repeat_mask);
}

/// `row[index[l]]` for every lane. `row` has at least max(16, 2^tau) bytes and every index
/// is below 2^tau.
pub inline fn lookup(comptime tau: u32, row: [*]const u8, index: Bytes) Signed {
    comptime std.debug.assert(tau >= 1 and tau <= 8);
    const result: Bytes = switch (method) {
        .pshufb => blk: {
            const subs = @max(1, (1 << tau) / 16);
            // pshufb zeroes lanes whose index has bit 7 set: only tau 8 has such indices.
            const low = if (tau == 8) index & @as(Bytes, @splat(15)) else index;
            var parts: [subs]Bytes = undefined;
            inline for (0..subs) |k| parts[k] = pshufb(broadcastSub(row, k), low);
            comptime var count = subs;
            comptime var bit = 4;
            inline while (count > 1) : ({
                count /= 2;
                bit += 1;
            }) {
                const high = (index & @as(Bytes, @splat(1 << bit))) != @as(Bytes, @splat(0));
                inline for (0..count / 2) |i| parts[i] = @select(u8, high, parts[2 * i + 1], parts[2 * i]);
            }
            break :blk parts[0];
        },
        .tbl => blk: {
            comptime std.debug.assert(width == 16);
            if (tau <= 4) break :blk @"llvm.aarch64.neon.tbl1.v16i8"(loadSub(row, 0), index);
            if (tau == 5) break :blk @"llvm.aarch64.neon.tbl2.v16i8"(loadSub(row, 0), loadSub(row, 1), index);
            var out: Bytes = @splat(0);
            inline for (0..(1 << tau) / 64) |g| {
                const shifted = index -% @as(Bytes, @splat(64 * g));
                out |= @"llvm.aarch64.neon.tbl4.v16i8"(loadSub(row, 4 * g), loadSub(row, 4 * g + 1), loadSub(row, 4 * g + 2), loadSub(row, 4 * g + 3), shifted);
            }
            break :blk out;
        },
        .scalar => blk: {
            var out: [width]u8 = undefined;
            const lanes: [width]u8 = index;
            inline for (0..width) |l| out[l] = row[lanes[l]];
            break :blk out;
        },
    };
    return @bitCast(result);
}

test "codebook lookup gathers the row entry of every lane for every tau" {
    var prng = std.Random.DefaultPrng.init(0x10_0c);
    const random = prng.random();
    var row: [256]u8 = undefined;
    inline for (1..9) |tau| {
        for (0..20) |_| {
            for (&row) |*r| r.* = random.int(u8);
            var lanes: [width]u8 = undefined;
            for (&lanes) |*l| l.* = random.int(u8) & @as(u8, (1 << tau) - 1);
            lanes[0] = (1 << tau) - 1;
            const got: [width]i8 = lookup(tau, &row, lanes);
            for (0..width) |l| {
                std.testing.expectEqual(@as(i8, @bitCast(row[lanes[l]])), got[l]) catch |err| {
                    std.debug.print("lookup {d}__{s} tau {d} lane {d} index {d}\n", .{ width, isa_name, tau, l, lanes[l] });
                    return err;
                };
            }
        }
    }
}
