/**
 * Vision helpers for plugins: model inputs from frames, classification (softmax, top-k),
 * CenterNet decoding, segmentation maps and masks, R2D2-style keypoints and descriptors,
 * Hamming matching through the kernel library, and RANSAC homographies.
 *
 * @example
 * ```ts ignore
 * import { imageToInput, softmax, topK } from "../../daemon/sdk/vision/mod.ts";
 * const outputs = model.run(imageToInput(frame.images[0], model));
 * const best = topK(softmax(outputs.logits as Float32Array), 3);
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./input.ts";
export * from "./classify.ts";
export * from "./centernet.ts";
export * from "./segment.ts";
export * from "./keypoints.ts";
export * from "./matching.ts";
export * from "./homography.ts";
