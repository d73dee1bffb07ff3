//! Every upper bound the library enforces, in one place. Each bound protects an index or a
//! product from overflow and keeps per-context memory predictable; the comptime asserts
//! state the relations the kernels rely on.

const std = @import("std");

/// Threads in one context's pool. Each thread owns `scratch_bytes_per_thread`.
pub const threads_max: u32 = 64;
/// Channels of one tensor (any dtype). 16384 channels = 256 packed words per pixel.
pub const channels_max: u32 = 16384;
/// Height or width of one tensor.
pub const spatial_max: u32 = 16384;
/// Kernel height or width of a convolution or pool.
pub const kernel_max: u32 = 15;
/// Stride of a convolution or pool.
pub const stride_max: u32 = 8;
/// Images in one batch.
pub const batch_max: u32 = 4096;
/// Elements of one tensor (values, not bytes): keeps every byte offset below 2^40.
pub const elements_max: u64 = 1 << 36;
/// Per-thread scratch (im2col tiles, accumulators). 512 KiB x 64 threads = 32 MiB worst case.
pub const scratch_bytes_per_thread: usize = 512 * 1024;
/// Per-channel constants one context keeps for the call in progress: two u64 per output
/// channel (256 KiB).
pub const channel_words_max: usize = 2 * channels_max;
/// Last-error message kept by a context.
pub const message_bytes_max: usize = 256;
/// Descriptors (queries or train set) in one matching call.
pub const descriptors_max: u32 = 1 << 20;
/// Packed words of one im2col row (kernel_h * kernel_w * words per pixel).
pub const im2col_words_max: u32 = kernel_max * kernel_max * (channels_max / 64);

comptime {
    std.debug.assert(channels_max % 64 == 0);
    // A 3x3 kernel over the widest tensor must fit a tile of 8 im2col rows in one thread's
    // scratch; larger kernels on very wide tensors are refused at run time (LimitExceeded).
    std.debug.assert(3 * 3 * (channels_max / 64) * 8 * 8 <= scratch_bytes_per_thread);
    std.debug.assert(elements_max * 8 < (1 << 63));
    std.debug.assert(threads_max <= 256);
}
