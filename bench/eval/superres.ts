/**
 * Super-resolution accuracy: PSNR of the 2x upscale on the held-out photo crops of the
 * training package (`python -m onebit_train evalset superres`: two fixed crops of every
 * held-out photo with detail, the HR crop, its PIL bicubic 2x downscale as the LR input and
 * the PIL bicubic 2x upscale of that LR as the baseline).
 *
 * The prediction is what the plugin returns: the LR image fed with the SDK's `imageToInput`
 * and the `upscaled` output (or the first) read with `tensorToImage`, as
 * plugins/superres/mod.ts does. PSNR is over all pixels and channels of a crop (8-bit peak
 * 255), averaged over the crops; the bicubic baseline is scored the same way. `extra` also
 * holds both without the `scale` outer pixels (`psnr_inner`: the outputs whose 3x3 input
 * window reaches into the last conv's zero padding), as the training log does.
 *
 * @module
 */

import type { Image } from "../../daemon/sdk/image.ts";
import { imageToInput, outputInfo, tensorToImage } from "../../daemon/sdk/vision/mod.ts";
import {
  type EvalAccuracy,
  type EvalContext,
  type EvalVariant,
  readEvalset,
  readRawImage,
} from "./task.ts";

/** The evalset's `manifest.json` (train/onebit_train/tasks/superres.py `write_evalset`). */
interface SuperresEvalset {
  scale: number;
  channels: number;
  lr: { height: number; width: number };
  hr: { height: number; width: number };
  /** File names of each pair, u8 HWC RGB. */
  pairs: { lr: string; hr: string; bicubic: string }[];
}

/** Smallest mean squared error scored, so identical images give a finite PSNR (148 dB). */
const MSE_MIN = 1e-10;

/**
 * PSNR in dB of two 8-bit images of the same length (all values, peak 255), as the training
 * package computes it.
 *
 * @example
 * ```ts
 * import { psnr } from "./superres.ts";
 * console.log(psnr(new Uint8Array([0, 0]), new Uint8Array([0, 10])).toFixed(2)); // 31.14
 * ```
 */
export function psnr(actual: Uint8Array, expected: Uint8Array): number {
  if (actual.length !== expected.length || expected.length === 0) {
    throw new Error(
      `psnr: images have ${actual.length} and ${expected.length} values, expected the same ` +
        "non-zero count",
    );
  }
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i] - expected[i];
    sum += d * d;
  }
  return 10 * Math.log10(255 * 255 / Math.max(sum / expected.length, MSE_MIN));
}

/**
 * The pixels of `image` without a border of `border` pixels on every side (row-major HWC).
 *
 * @example
 * ```ts
 * import { inner } from "./superres.ts";
 * const data = new Uint8Array(9).map((_, i) => i);
 * const image = { width: 3, height: 3, channels: 1 as const, data };
 * console.log(inner(image, 1)); // Uint8Array [ 4 ]
 * ```
 */
export function inner(image: Image, border: number): Uint8Array {
  const { width, height, channels, data } = image;
  if (!(border >= 0 && 2 * border < width && 2 * border < height)) {
    throw new Error(`inner: border ${border} leaves nothing of a ${width}x${height} image`);
  }
  const row = (width - 2 * border) * channels;
  const out = new Uint8Array((height - 2 * border) * row);
  for (let y = border; y < height - border; y++) {
    const start = (y * width + border) * channels;
    out.set(data.subarray(start, start + row), (y - border) * row);
  }
  return out;
}

/** Mean PSNR of every variant's 2x upscale on the first `limit` evalset crops. */
export async function evaluateSuperres(
  variants: readonly EvalVariant[],
  context: EvalContext,
): Promise<EvalAccuracy> {
  const { dir, set } = await readEvalset<SuperresEvalset>(
    "superres",
    (set) =>
      set.pairs?.length > 0 && set.channels === 3 && set.scale >= 2 &&
        set.hr.height === set.lr.height * set.scale && set.hr.width === set.lr.width * set.scale
        ? null
        : `describes ${set.pairs?.length} pairs of ${set.channels} channels, LR ` +
          `${set.lr?.height}x${set.lr?.width}, HR ${set.hr?.height}x${set.hr?.width}, ` +
          "expected RGB pairs with HR = LR x scale",
  );
  const outputs = variants.map((variant) => {
    const output = outputInfo(variant.instance, "upscaled", { dtype: "u8", fallback: 0 });
    const [, height, width] = output.shape;
    if (height !== set.hr.height || width !== set.hr.width) {
      throw new Error(
        `eval: ${variant.name} upscales to ${height}x${width} ('${output.name}' ` +
          `[${output.shape}]), the evalset's HR crops are ${set.hr.height}x${set.hr.width}`,
      );
    }
    return output;
  });
  const count = Math.min(context.limit, set.pairs.length);
  const sums = new Map(variants.map((variant) => [variant.name, { whole: 0, inner: 0 }]));
  const bicubicSum = { whole: 0, inner: 0 };
  for (let index = 0; index < count; index++) {
    const pair = set.pairs[index];
    const lr = await readRawImage(`${dir}/${pair.lr}`, set.lr.width, set.lr.height);
    const hr = await readRawImage(`${dir}/${pair.hr}`, set.hr.width, set.hr.height);
    const bicubic = await readRawImage(`${dir}/${pair.bicubic}`, set.hr.width, set.hr.height);
    const hrInner = inner(hr, set.scale);
    bicubicSum.whole += psnr(bicubic.data, hr.data);
    bicubicSum.inner += psnr(inner(bicubic, set.scale), hrInner);
    variants.forEach((variant, v) => {
      const result = variant.instance.run(imageToInput(lr, variant.instance));
      const upscaled = tensorToImage(result[outputs[v].name] as Uint8Array, outputs[v].shape);
      const sum = sums.get(variant.name)!;
      sum.whole += psnr(upscaled.data, hr.data);
      sum.inner += psnr(inner(upscaled, set.scale), hrInner);
    });
  }
  const values = Object.fromEntries(
    variants.map((variant) => [variant.name, sums.get(variant.name)!.whole / count]),
  );
  const bicubic = bicubicSum.whole / count;
  return {
    metric: "psnr_photos_x2_test",
    label: "PSNR (dB)",
    count,
    values,
    extra: {
      bicubic: { psnr_photos_x2_test: bicubic, psnr_inner: bicubicSum.inner / count },
      ...Object.fromEntries(variants.map((variant) => [variant.name, {
        gain_over_bicubic_db: values[variant.name] - bicubic,
        psnr_inner: sums.get(variant.name)!.inner / count,
      }])),
    },
    format: (value) => `${value.toFixed(2)} dB`,
    note: `Bicubic 2x upscaling (PIL) of the same ${count} inputs: ${bicubic.toFixed(2)} dB.`,
  };
}
