/**
 * The FFI layer of onebit: loads libonebit for the CPU level of this machine and wraps its
 * contexts, statuses, shapes and buffers. Kernel families add their modules here.
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./mod.ts";
 * using lib = openKernels();
 * using ctx = new KernelContext(lib, { threads: 2 });
 * console.log(lib.level, lib.path, ctx.variant);
 * ```
 *
 * @module
 */

export * from "./bconv.ts";
export * from "./bitpack.ts";
export * from "./buffers.ts";
export * from "./codebook.ts";
export * from "./cpu_level.ts";
export * from "./elementwise.ts";
export * from "./errors.ts";
export * from "./hamming.ts";
export * from "./library.ts";
export * from "./pool.ts";
export * from "./qconv.ts";
export * from "./roofline.ts";
export * from "./shape.ts";
export * from "./symbols.ts";
