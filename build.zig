//! Builds libonebit, the C-ABI kernel library loaded by the daemon through Deno FFI.
//!
//!   zig build                  libonebit-<level>.so for this machine (or -Dtarget/-Dcpu)
//!   zig build dist             the release set, one library per CPU level
//!   zig build test             kernel tests (-Dtarget=aarch64-linux-gnu -fqemu --libc-runtimes /usr
//!                              runs them under qemu-user)
//!   zig build test-build       compile the kernel tests only (a level this CPU cannot run)
//!
//! Libraries are named after their CPU level so the loader can pick one at run time.

const std = @import("std");

const Level = struct {
    name: []const u8,
    arch: std.Target.Cpu.Arch,
    model: *const std.Target.Cpu.Model,
    extra: []const std.Target.x86.Feature = &.{},
};

/// The release set. x86_64_v4 adds VPOPCNTDQ (and VNNI/BITALG found on every CPU that has
/// it) to the v4 microarchitecture level: AVX-512 CPUs without VPOPCNTDQ load x86_64_v3.
const dist_levels = [_]Level{
    .{ .name = "x86_64_baseline", .arch = .x86_64, .model = &std.Target.x86.cpu.x86_64 },
    .{ .name = "x86_64_v3", .arch = .x86_64, .model = &std.Target.x86.cpu.x86_64_v3 },
    .{ .name = "x86_64_v4", .arch = .x86_64, .model = &std.Target.x86.cpu.x86_64_v4, .extra = &.{ .avx512vpopcntdq, .avx512bitalg, .avx512vnni } },
    .{ .name = "aarch64_generic", .arch = .aarch64, .model = &std.Target.aarch64.cpu.generic },
    .{ .name = "aarch64_cortex_a76", .arch = .aarch64, .model = &std.Target.aarch64.cpu.cortex_a76 },
};

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.option(std.builtin.OptimizeMode, "optimize", "Optimization mode (default ReleaseFast)") orelse .ReleaseFast;
    const level_name = b.option([]const u8, "level", "Build this named CPU level (see dist) instead of -Dtarget/-Dcpu");
    const test_filter = b.option([]const u8, "test-filter", "Run only tests whose name contains this");

    const main_target = if (level_name) |name| resolveLevel(b, findLevel(name) orelse {
        std.debug.panic("unknown -Dlevel={s}", .{name});
    }) else target;

    // `zig build`: one library for the chosen target, named after its level.
    const lib = addLibrary(b, main_target, optimize, level_name orelse levelNameOf(main_target));
    b.installArtifact(lib);

    // `zig build dist`: every level.
    const dist = b.step("dist", "Build the release set: one library per CPU level");
    for (dist_levels) |level| {
        const dist_lib = addLibrary(b, resolveLevel(b, level), optimize, level.name);
        dist.dependOn(&b.addInstallArtifact(dist_lib, .{}).step);
    }

    // `zig build test`: all kernel tests for the chosen target.
    const test_step = b.step("test", "Run the kernel tests");
    const tests = b.addTest(.{
        .root_module = createModule(b, main_target, optimize),
        .filters = if (test_filter) |filter| b.dupeStrings(&.{filter}) else &.{},
    });
    const run_tests = b.addRunArtifact(tests);
    run_tests.skip_foreign_checks = false;
    test_step.dependOn(&run_tests.step);

    // `zig build test-build`: compile the kernel tests without running them, for a level this
    // CPU cannot execute (x86_64_v4 on an AVX2 machine): compile errors still surface, and
    // the caller reports the run as skipped, never as passed.
    const test_build_step = b.step("test-build", "Compile the kernel tests without running them");
    test_build_step.dependOn(&tests.step);
}

fn createModule(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode) *std.Build.Module {
    return b.createModule(.{
        .root_source_file = b.path("kernels/src/root.zig"),
        .target = target,
        .optimize = optimize,
        // pthreads: the pool threads live inside Deno's process, which uses glibc.
        .link_libc = true,
    });
}

fn addLibrary(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode, level: []const u8) *std.Build.Step.Compile {
    return b.addLibrary(.{
        .linkage = .dynamic,
        .name = b.fmt("onebit-{s}", .{level}),
        .root_module = createModule(b, target, optimize),
    });
}

fn findLevel(name: []const u8) ?Level {
    for (dist_levels) |level| if (std.mem.eql(u8, level.name, name)) return level;
    return null;
}

fn resolveLevel(b: *std.Build, level: Level) std.Build.ResolvedTarget {
    var add = std.Target.Cpu.Feature.Set.empty;
    for (level.extra) |feature| add.addFeature(@intFromEnum(feature));
    return b.resolveTargetQuery(.{
        .cpu_arch = level.arch,
        .os_tag = .linux,
        .abi = .gnu,
        .cpu_model = .{ .explicit = level.model },
        .cpu_features_add = add,
    });
}

/// Names a non-dist target after the level its features reach (as `cpu.zig` derives it).
fn levelNameOf(target: std.Build.ResolvedTarget) []const u8 {
    const cpu = target.result.cpu;
    return switch (cpu.arch) {
        .x86_64 => if (std.Target.x86.featureSetHasAll(cpu.features, .{ .avx512vpopcntdq, .avx512bw }))
            "x86_64_v4"
        else if (std.Target.x86.featureSetHas(cpu.features, .avx2)) "x86_64_v3" else "x86_64_baseline",
        .aarch64 => if (std.Target.aarch64.featureSetHas(cpu.features, .dotprod)) "aarch64_cortex_a76" else "aarch64_generic",
        else => "unsupported",
    };
}
