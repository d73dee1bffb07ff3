//! Status codes returned by every fallible C API call: the single source of truth.
//!
//! `ok` is 0, errors are negative. Codes are append-only: a released code never changes
//! meaning, and `daemon/kernels/errors.ts` mirrors this table (a test keeps them equal).

const std = @import("std");

pub const Status = enum(i32) {
    ok = 0,
    invalid_argument = -1,
    buffer_too_small = -2,
    unsupported_cpu = -3,
    out_of_memory = -4,
    shape_mismatch = -5,
    unsupported = -6,
    thread_spawn_failed = -7,
    limit_exceeded = -8,
    null_pointer = -9,
};

/// Internal error set; every member maps to exactly one `Status` in `fromError`.
pub const Error = error{
    InvalidArgument,
    BufferTooSmall,
    UnsupportedCpu,
    OutOfMemory,
    ShapeMismatch,
    Unsupported,
    ThreadSpawnFailed,
    LimitExceeded,
    NullPointer,
};

/// Maps an internal error to its ABI status code (exhaustive: a new error must be mapped).
pub fn fromError(err: Error) Status {
    return switch (err) {
        error.InvalidArgument => .invalid_argument,
        error.BufferTooSmall => .buffer_too_small,
        error.UnsupportedCpu => .unsupported_cpu,
        error.OutOfMemory => .out_of_memory,
        error.ShapeMismatch => .shape_mismatch,
        error.Unsupported => .unsupported,
        error.ThreadSpawnFailed => .thread_spawn_failed,
        error.LimitExceeded => .limit_exceeded,
        error.NullPointer => .null_pointer,
    };
}

/// Stable snake_case name of a status, as the TypeScript side prints it.
pub fn name(status: Status) []const u8 {
    return @tagName(status);
}

test "every error maps to a distinct negative status" {
    var seen = std.AutoHashMap(i32, void).init(std.testing.allocator);
    defer seen.deinit();
    inline for (@typeInfo(Error).error_set.?) |member| {
        const code = @intFromEnum(fromError(@field(Error, member.name)));
        try std.testing.expect(code < 0);
        try std.testing.expect(!seen.contains(code));
        try seen.put(code, {});
    }
}
