/**
 * Classification accuracy: top-1 on the Fashion-MNIST test set (10 000 images, from the data
 * cache of `bash scripts/fetch_data.sh`).
 *
 * @module
 */

import { gunzipSync } from "node:zlib";
import { topK } from "../../daemon/sdk/vision/mod.ts";
import { dataRoot, type EvalAccuracy, type EvalContext, type EvalVariant } from "./task.ts";

/** Reads an IDX file (optionally gzipped): the dims and the u8 payload. */
export async function readIdx(path: string): Promise<{ dims: number[]; data: Uint8Array }> {
  let bytes = await Deno.readFile(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = new Uint8Array(gunzipSync(bytes));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0 || bytes[2] !== 0x08) {
    throw new Error(`eval: ${path} is not an IDX file of u8 values`);
  }
  const rank = bytes[3];
  const dims = Array.from({ length: rank }, (_, index) => view.getUint32(4 + 4 * index));
  return { dims, data: bytes.subarray(4 + 4 * rank) };
}

/** Top-1 of every variant on the first `limit` Fashion-MNIST test images. */
export async function evaluateClassify(
  variants: readonly EvalVariant[],
  context: EvalContext,
): Promise<EvalAccuracy> {
  const folder = `${dataRoot()}/usr/share/datasets/fashion-mnist`;
  const images = await readIdx(`${folder}/t10k-images-idx3-ubyte.gz`);
  const labels = await readIdx(`${folder}/t10k-labels-idx1-ubyte.gz`);
  const pixels = images.dims[1] * images.dims[2];
  const count = Math.min(context.limit, images.dims[0]);
  const correct = new Map(variants.map((variant) => [variant.name, 0]));
  for (let index = 0; index < count; index++) {
    const image = images.data.subarray(index * pixels, (index + 1) * pixels);
    for (const variant of variants) {
      const input = variant.instance.inputs[0];
      const outputs = variant.instance.run({ [input.name]: image });
      const scores = outputs[variant.instance.outputNames[0]];
      if (topK(scores as ArrayLike<number>, 1)[0].index === labels.data[index]) {
        correct.set(variant.name, correct.get(variant.name)! + 1);
      }
    }
  }
  return {
    metric: "top1_fashion_mnist_test",
    label: "top-1",
    count,
    values: Object.fromEntries(
      variants.map((variant) => [variant.name, correct.get(variant.name)! / count]),
    ),
    format: (value) => `${(100 * value).toFixed(2)}%`,
  };
}
