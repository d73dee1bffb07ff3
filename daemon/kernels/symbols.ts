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
  /** () -> ABI version, checked against `ABI_VERSION` at load (library.ts) */
  ob_abi_version: { parameters: [], result: "u32" },
  /** () -> the `CpuLevel` number the library was built for */
  ob_cpu_level: { parameters: [], result: "u32" },
  /** () -> ok, or unsupported_cpu when this CPU lacks the build level's features */
  ob_cpu_check: { parameters: [], result: "i32" },
  /** (threads 1..64, flags: bit 0 = force scalar, out_ctx: BigUint64Array[1]) -> status */
  ob_ctx_create: { parameters: ["u32", "u32", "buffer"], result: "i32" },
  /** (ctx) -> void; the context must be idle */
  ob_ctx_destroy: { parameters: ["pointer"], result: "void" },
  /** (ctx) -> pool threads, the caller's included */
  ob_ctx_threads: { parameters: ["pointer"], result: "u32" },
  /** (ctx) -> 0 = scalar, 1 = simd */
  ob_ctx_variant: { parameters: ["pointer"], result: "u32" },
  /** (ctx, out: Uint8Array, capacity) -> bytes of the last error message written (UTF-8) */
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
  // (ctx, shape, out_bytes[1])
  ob_qconv2d_pack_weights_size: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  // (ctx, shape, weights, weights_len, packed, packed_len)
  ob_qconv2d_pack_weights: {
    parameters: ["pointer", "buffer", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  // (ctx, shape, input, input_len, x_zp, packed, packed_len, bias, bias_len, scale,
  //  scale_len, y_zp, output, output_len)
  ob_qconv2d_u8: {
    parameters: [
      "pointer",
      "buffer",
      "buffer",
      "u32",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "u32",
      "buffer",
      "u32",
    ],
    result: "i32",
  },
  // (ctx, shape, input, input_len, x_zp, packed, packed_len, bias, bias_len, output,
  //  output_len)
  ob_qconv2d_i32: {
    parameters: [
      "pointer",
      "buffer",
      "buffer",
      "u32",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
    ],
    result: "i32",
  },
  // (ctx, shape, input, input_len, x_zp, packed, packed_len, bias, bias_len, scale,
  //  scale_len, output, output_len)
  ob_qconv2d_f32: {
    parameters: [
      "pointer",
      "buffer",
      "buffer",
      "u32",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
    ],
    result: "i32",
  },
  // (ctx, shape, input, input_len, weights, weights_len, bias, bias_len, output, output_len)
  ob_conv2d_f32: {
    parameters: [
      "pointer",
      "buffer",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
    ],
    result: "i32",
  },
  // (ctx, shape, input, input_len, output, output_len)
  ob_maxpool2d_bits: {
    parameters: ["pointer", "buffer", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  ob_avgpool2d_f32: {
    parameters: ["pointer", "buffer", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  ob_avgpool2d_i8: {
    parameters: ["pointer", "buffer", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  // (ctx, batch, height, width, channels, input, input_len, output, output_len)
  ob_global_avgpool_f32: {
    parameters: ["pointer", "u32", "u32", "u32", "u32", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  ob_global_avgpool_i8: {
    parameters: ["pointer", "u32", "u32", "u32", "u32", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  // ---- end qconv, pool ----
  // ---- hamming, codebook ----
  ob_hamming_distances: {
    parameters: [
      "pointer", // ctx
      "u32", // bits per descriptor (64..1024, multiple of 64)
      "buffer", // query descriptors (u64)
      "u32",
      "u32", // query count
      "buffer", // train descriptors (u64)
      "u32",
      "u32", // train count
      "buffer", // out distances (u16, query x train)
      "u32",
    ],
    result: "i32",
  },
  ob_hamming_match: {
    parameters: [
      "pointer", // ctx
      "u32", // bits per descriptor
      "buffer", // query descriptors (u64)
      "u32",
      "u32", // query count
      "buffer", // train descriptors (u64)
      "u32",
      "u32", // train count
      "f32", // ratio (>= 1 disables the ratio test)
      "u32", // cross check (0 / 1)
      "buffer", // out train index (i32, -1 = no match)
      "u32",
      "buffer", // out best distance (u32)
      "u32",
      "buffer", // out second-best distance (u32)
      "u32",
    ],
    result: "i32",
  },
  // (ctx, tau, out_c, in_c, codebook u16, len, indices u8, len, weights u64, len)
  ob_codebook_expand: {
    parameters: ["pointer", "u32", "u32", "u32", "buffer", "u32", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  // (tau, out_c, in_c) -> packed words, 0 for invalid sizes
  ob_codebook_packed_words: { parameters: ["u32", "u32", "u32"], result: "u32" },
  // (ctx, tau, out_c, in_c, codebook u16, len, indices u8, len, packed u64, len)
  ob_codebook_pack: {
    parameters: ["pointer", "u32", "u32", "u32", "buffer", "u32", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  ob_codebook_conv2d: {
    parameters: [
      "pointer", // ctx
      "buffer", // Window2d (13 u32), kernel 3x3
      "u32", // pad
      "buffer", // input words
      "u32",
      "buffer", // packed layer (ob_codebook_pack)
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
  // ---- end hamming, codebook ----
  // ---- roofline ----
  /** (ctx, iterations, out_word_ops: BigUint64Array[1]) -> status */
  ob_roofline_popcount: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  // ---- end roofline ----
  // ---- elementwise ----
  /** (ctx, input f32, input_len, scale, zero_point, signed 0/1, output bytes, output_len) */
  ob_quantize_f32: {
    parameters: ["pointer", "buffer", "u32", "f32", "i32", "u32", "buffer", "u32"],
    result: "i32",
  },
  /** (ctx, batch, in_h, in_w, channels, scale_h, scale_w, align_corners, input, len, output, len) */
  ob_upsample_bilinear_f32: {
    parameters: [
      "pointer",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
    ],
    result: "i32",
  },
  /** (ctx, input f32, input_len, output f32, output_len) */
  ob_sigmoid_f32: { parameters: ["pointer", "buffer", "u32", "buffer", "u32"], result: "i32" },
  /** (ctx, pixels, channels, input f32, input_len, output i32, output_len) */
  ob_argmax_f32: {
    parameters: ["pointer", "u32", "u32", "buffer", "u32", "buffer", "u32"],
    result: "i32",
  },
  // ---- end elementwise ----
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library's symbol functions, typed from the table above. */
export type OnebitSymbols = Deno.DynamicLibrary<typeof symbols>["symbols"];
