//! CPU levels: which instruction set this build of the library targets, and whether the CPU
//! it runs on has it. Checked once when a context is created; kernels never look at features.

const std = @import("std");
const builtin = @import("builtin");

/// Build levels, one shared library per level (`libonebit-<name>.so`). Append-only.
pub const Level = enum(u32) {
    x86_64_baseline = 0,
    x86_64_v3 = 1,
    x86_64_v4 = 2,
    aarch64_generic = 3,
    aarch64_cortex_a76 = 4,
};

/// The level this library was compiled for, derived from the compile-time CPU features.
pub const build_level: Level = blk: {
    const features = builtin.cpu.features;
    switch (builtin.cpu.arch) {
        .x86_64 => {
            const x86 = std.Target.x86.Feature;
            if (std.Target.x86.featureSetHas(features, x86.avx512vpopcntdq) and
                std.Target.x86.featureSetHas(features, x86.avx512bw)) break :blk .x86_64_v4;
            if (std.Target.x86.featureSetHas(features, x86.avx2)) break :blk .x86_64_v3;
            break :blk .x86_64_baseline;
        },
        .aarch64 => {
            if (std.Target.aarch64.featureSetHas(features, .dotprod)) break :blk .aarch64_cortex_a76;
            break :blk .aarch64_generic;
        },
        else => @compileError("onebit supports x86_64 and aarch64 only"),
    }
};

/// Width in bytes of the widest vector register the build level uses.
pub const vector_bytes: comptime_int = switch (build_level) {
    .x86_64_v4 => 64,
    .x86_64_v3 => 32,
    .x86_64_baseline, .aarch64_generic, .aarch64_cortex_a76 => 16,
};

/// Whether popcounts are taken per byte and accumulated in bytes: every level without a
/// 64-bit lane vector popcount (AVX-512 VPOPCNTDQ is the only one with it). The binary conv's
/// microkernel (`bconv/gemm.zig`) and the roofline (`roofline.zig`) both follow it.
pub const byte_popcount: bool = vector_bytes < 64;

/// True when the running CPU has every feature the build level relies on.
pub fn supported() bool {
    return switch (builtin.cpu.arch) {
        .x86_64 => x86Supported(),
        .aarch64 => aarch64Supported(),
        else => false,
    };
}

fn cpuid(leaf: u32, subleaf: u32) [4]u32 {
    var eax: u32 = undefined;
    var ebx: u32 = undefined;
    var ecx: u32 = undefined;
    var edx: u32 = undefined;
    asm volatile ("cpuid"
        : [_] "={eax}" (eax),
          [_] "={ebx}" (ebx),
          [_] "={ecx}" (ecx),
          [_] "={edx}" (edx),
        : [_] "{eax}" (leaf),
          [_] "{ecx}" (subleaf),
    );
    return .{ eax, ebx, ecx, edx };
}

fn xgetbv0() u32 {
    var eax: u32 = undefined;
    var edx: u32 = undefined;
    asm volatile ("xgetbv"
        : [_] "={eax}" (eax),
          [_] "={edx}" (edx),
        : [_] "{ecx}" (@as(u32, 0)),
    );
    return eax;
}

fn bit(word: u32, index: u5) bool {
    return (word >> index) & 1 == 1;
}

fn x86Supported() bool {
    if (build_level == .x86_64_baseline) return true;
    const leaf1 = cpuid(1, 0);
    const osxsave = bit(leaf1[2], 27);
    if (!osxsave) return false;
    const xcr0 = xgetbv0();
    const ymm_enabled = (xcr0 & 0x6) == 0x6;
    const leaf7 = cpuid(7, 0);
    const ext1 = cpuid(0x80000001, 0);
    const v3 = ymm_enabled and bit(leaf1[2], 12) and // fma
        bit(leaf1[2], 22) and // movbe
        bit(leaf1[2], 29) and // f16c
        bit(leaf1[2], 23) and // popcnt
        bit(leaf7[1], 5) and // avx2
        bit(leaf7[1], 3) and // bmi1
        bit(leaf7[1], 8) and // bmi2
        bit(ext1[2], 5); // lzcnt
    if (build_level == .x86_64_v3) return v3;
    const zmm_enabled = (xcr0 & 0xe6) == 0xe6;
    return v3 and zmm_enabled and bit(leaf7[1], 16) and // avx512f
        bit(leaf7[1], 17) and // avx512dq
        bit(leaf7[1], 28) and // avx512cd
        bit(leaf7[1], 30) and // avx512bw
        bit(leaf7[1], 31) and // avx512vl
        bit(leaf7[2], 14) and // avx512vpopcntdq
        bit(leaf7[2], 11) and // avx512vnni (the int8 conv of this level uses vpdpbusd)
        bit(leaf7[2], 12); // avx512bitalg
}

fn aarch64Supported() bool {
    // With libc linked (always, for the .so inside Deno) Zig's own auxv pointer is never set:
    // ask the C library.
    const hwcap: usize = if (builtin.link_libc) std.c.getauxval(std.elf.AT_HWCAP) else std.os.linux.getauxval(std.elf.AT_HWCAP);
    const asimd = (hwcap >> 1) & 1 == 1;
    if (build_level == .aarch64_generic) return asimd;
    const atomics = (hwcap >> 8) & 1 == 1;
    const asimdhp = (hwcap >> 10) & 1 == 1;
    const lrcpc = (hwcap >> 15) & 1 == 1;
    const asimddp = (hwcap >> 20) & 1 == 1;
    return asimd and atomics and asimdhp and lrcpc and asimddp;
}

test "the CPU running the tests supports the build level" {
    try std.testing.expect(supported());
}
