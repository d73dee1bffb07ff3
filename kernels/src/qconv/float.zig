//! Float convolution: the fp32 reference the int8 and binary paths are measured against.
//! Plain loops (it is a reference, never fast), spread over output rows.
//!
//! Contract: input NHWC f32 `[batch][in_h][in_w][in_c]`, weights f32
//! `[out_c][kernel_h][kernel_w][in_c]`, optional bias f32 `[out_c]`, zero padding, output NHWC
//! f32 `[batch][out_h][out_w][out_c]`. For each output value
//!     acc = 0; for ky, kx (in order, padded taps skipped), c: acc = acc + x * w   (no FMA)
//!     out = acc + bias[o]   (bias 0 when absent)
//! so the result does not depend on the thread count or the CPU level.

const std = @import("std");
const Ctx = @import("../ctx.zig").Ctx;
const Window2d = @import("../shape.zig").Window2d;

pub const Args = struct {
    shape: Window2d,
    input: []const f32,
    weights: []const f32,
    bias: ?[]const f32,
};

/// Computes output row `row` (= n * out_h + oy) of every output channel.
pub fn conv2dRow(args: Args, output: []f32, row: u32) void {
    const s = args.shape;
    const out_h = s.outH();
    const out_w = s.outW();
    const n = row / out_h;
    const oy = row % out_h;
    const taps = s.kernel_h * s.kernel_w;
    for (0..out_w) |ox| {
        const out_pixel = (@as(usize, row) * out_w + ox) * s.out_c;
        for (0..s.out_c) |o| {
            var acc: f32 = 0;
            for (0..s.kernel_h) |ky| {
                const iy = @as(i64, @intCast(oy * s.stride_h + ky)) - s.pad_top;
                if (iy < 0 or iy >= s.in_h) continue;
                for (0..s.kernel_w) |kx| {
                    const ix = @as(i64, @intCast(ox * s.stride_w + kx)) - s.pad_left;
                    if (ix < 0 or ix >= s.in_w) continue;
                    const pixel = ((@as(usize, n) * s.in_h + @as(usize, @intCast(iy))) * s.in_w + @as(usize, @intCast(ix))) * s.in_c;
                    const weight = ((o * taps) + ky * s.kernel_w + kx) * s.in_c;
                    const x = args.input[pixel..][0..s.in_c];
                    const w = args.weights[weight..][0..s.in_c];
                    for (x, w) |xv, wv| acc = acc + xv * wv;
                }
            }
            output[out_pixel + o] = acc + if (args.bias) |bias| bias[o] else 0;
        }
    }
}

pub const Job = struct {
    args: Args,
    output: []f32,

    pub fn run(job_context: *const anyopaque, chunk: u32, thread: u32) void {
        _ = thread;
        const self: *const Job = @ptrCast(@alignCast(job_context));
        conv2dRow(self.args, self.output, chunk);
    }
};

/// Runs the whole convolution, one chunk per output row.
pub fn conv2d(ctx: *Ctx, args: Args, output: []f32) void {
    const s = args.shape;
    std.debug.assert(output.len == s.outPixels() * s.out_c);
    const job: Job = .{ .args = args, .output = output };
    ctx.parallelFor(s.batch * s.outH(), &job, Job.run);
}
