//! Widening byte popcounts to 64-bit lanes: the step the byte-mode popcount loops (the binary
//! conv's microkernel, the roofline) take once every 31 byte additions. One definition, so the
//! roofline bounds the kernel with the very same instructions.
//!
//! On x86 the sum of the 8 bytes of each 64-bit lane is one `psadbw` against zero (SSE2 for
//! 128-bit vectors, AVX2 for 256-bit ones); LLVM does not find it in the shift-and-mask
//! form, which costs nine instructions per vector and was a quarter of the work of a 1x1 conv
//! with 256 channels (4 words per pixel). Elsewhere (NEON) the portable form is used.

const std = @import("std");
const builtin = @import("builtin");

/// Byte additions between two widenings: a byte holds at most 255 = 31 * 8 + 7, and one xor
/// popcount adds at most 8 to it.
pub const steps_max: u32 = 31;

comptime {
    std.debug.assert(steps_max * 8 <= 255);
}

extern fn @"llvm.x86.sse2.psad.bw"(@Vector(16, u8), @Vector(16, u8)) @Vector(2, u64);
extern fn @"llvm.x86.avx2.psad.bw"(@Vector(32, u8), @Vector(32, u8)) @Vector(4, u64);

/// The sum of the 8 bytes of each 64-bit lane of `bytes` (`lanes` u64 lanes).
pub inline fn byteSum(comptime lanes: comptime_int, bytes: @Vector(lanes * 8, u8)) @Vector(lanes, u64) {
    const V = @Vector(lanes, u64);
    if (comptime builtin.cpu.arch == .x86_64) {
        const zero: @Vector(lanes * 8, u8) = @splat(0);
        if (comptime lanes == 2) return @"llvm.x86.sse2.psad.bw"(bytes, zero);
        if (comptime lanes == 4 and std.Target.x86.featureSetHas(builtin.cpu.features, .avx2)) {
            return @"llvm.x86.avx2.psad.bw"(bytes, zero);
        }
    }
    var x: V = @bitCast(bytes);
    x = (x & @as(V, @splat(0x00ff00ff00ff00ff))) + ((x >> @splat(8)) & @as(V, @splat(0x00ff00ff00ff00ff)));
    x = (x & @as(V, @splat(0x0000ffff0000ffff))) + ((x >> @splat(16)) & @as(V, @splat(0x0000ffff0000ffff)));
    return (x & @as(V, @splat(0x00000000ffffffff))) + (x >> @splat(32));
}

/// The portable form, the reference of the test.
fn byteSumReference(comptime lanes: comptime_int, bytes: @Vector(lanes * 8, u8)) @Vector(lanes, u64) {
    const array: [lanes * 8]u8 = bytes;
    var sums: [lanes]u64 = @splat(0);
    for (array, 0..) |byte, i| sums[i / 8] += byte;
    return sums;
}

test "byteSum adds the 8 bytes of each lane, for every vector width" {
    var prng = std.Random.DefaultPrng.init(0x6279_7465);
    const random = prng.random();
    inline for (.{ 2, 4, 8 }) |lanes| {
        for (0..200) |round| {
            var array: [lanes * 8]u8 = undefined;
            // Round 0 is all 255: the largest sums a lane can hold.
            for (&array) |*byte| byte.* = if (round == 0) 255 else random.int(u8);
            const bytes: @Vector(lanes * 8, u8) = array;
            const got: [lanes]u64 = byteSum(lanes, bytes);
            const want: [lanes]u64 = byteSumReference(lanes, bytes);
            try std.testing.expectEqualSlices(u64, &want, &got);
        }
    }
}
