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
  // ---- end bitpack, bconv, bdense ----
  // ---- qconv, pool ----
  // ---- end qconv, pool ----
  // ---- hamming, codebook ----
  // ---- end hamming, codebook ----
  // ---- roofline ----
  // ---- end roofline ----
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library's symbol functions, typed from the table above. */
export type OnebitSymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];
