/**
 * The one symbol table of libonebit: every exported C function with its FFI signature.
 * Sections follow `kernels/src/root.zig`; each kernel family owns its section.
 *
 * Conventions: lengths are `u32` (cheap to pass from a JS number), statuses are `i32`
 * (see `errors.ts`), tensors are `buffer` (a TypedArray, kept alive by the caller during
 * the call), and the context handle is a `pointer`.
 *
 * @module
 */

/** FFI signatures of every symbol the daemon uses. */
export const symbols = {
  // ---- library and context ----
  ob_abi_version: { parameters: [], result: "u32" },
  ob_cpu_level: { parameters: [], result: "u32" },
  ob_cpu_check: { parameters: [], result: "i32" },
  ob_ctx_create: { parameters: ["u32", "u32", "buffer"], result: "i32" },
  ob_ctx_destroy: { parameters: ["pointer"], result: "void" },
  ob_ctx_threads: { parameters: ["pointer"], result: "u32" },
  ob_ctx_variant: { parameters: ["pointer"], result: "u32" },
  ob_ctx_last_error: { parameters: ["pointer", "buffer", "u32"], result: "u32" },
  // ---- bitpack, bconv, bdense ----
  ob_bitpack: {
    parameters: ["pointer", "u32", "u32", "u32", "buffer", "u32", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  ob_bconv2d_packed_words: { parameters: ["u32", "u32", "u32", "u32"], result: "u32" },
  ob_bconv2d_pack_weights: {
    parameters: ["pointer", "u32", "u32", "u32", "u32", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  ob_bconv2d: {
    parameters: [
      "pointer", // ctx
      "buffer", // Window2d (13 u32)
      "u32", // pad
      "buffer", // input words
      "u32",
      "buffer", // packed weights
      "u32",
      "u32", // transform kind
      "buffer", // channel parameters (4-byte values)
      "u32",
      "i32", // qmin
      "i32", // qmax
      "buffer", // residual (i8)
      "u32",
      "buffer", // output bytes
      "u32",
    ],
    result: "i32",
  },
  ob_bdense: {
    parameters: [
      "pointer", // ctx
      "u32", // batch
      "u32", // in features
      "u32", // out features
      "buffer", // input words
      "u32",
      "buffer", // packed weights
      "u32",
      "u32", // transform kind
      "buffer", // channel parameters
      "u32",
      "i32", // qmin
      "i32", // qmax
      "buffer", // residual
      "u32",
      "buffer", // output bytes
      "u32",
    ],
    result: "i32",
  },
  // ---- end bitpack, bconv, bdense ----
  // ---- qconv, pool ----
  // ---- end qconv, pool ----
  // ---- hamming, codebook ----
  // ---- end hamming, codebook ----
  // ---- roofline ----
  /** (ctx, iterations, out_word_ops: BigUint64Array[1]) -> status */
  ob_roofline_popcount: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  // ---- end roofline ----
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library's symbol functions, typed from the table above. */
export type OnebitSymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];
