/**
 * Model inputs from frames and images from model outputs: {@linkcode imageToInput} fills a
 * model's u8 HWC input from an {@linkcode Image}, {@linkcode tensorToImage} turns a u8
 * NHWC output into an image, and {@linkcode frameGeometry} maps points of the fitted frame
 * back to the original image.
 *
 * @module
 */

import { convertChannels, type FitGeometry, fitGeometry, resizeBilinear } from "../../media/mod.ts";
import type { ModelInstance } from "../../runtime/executor.ts";
import type { Image, ImageChannels } from "../image.ts";
import type { Frame, PluginManifest } from "../plugin.ts";
import { VisionError } from "./errors.ts";

/** Name and NHWC shape of a model's u8 image input. */
export interface ImageInput {
  /** Graph input name. */
  readonly name: string;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/**
 * The u8 image input of `instance`: the one named `inputName`, else the one named
 * `image`, else the first u8 input of shape `[1, H, W, 1|3]`. Throws `no_input` when
 * there is none.
 */
export function imageInputOf(instance: ModelInstance, inputName?: string): ImageInput {
  const inputs = instance.inputs;
  const input = inputName !== undefined
    ? inputs.find((entry) => entry.name === inputName)
    : inputs.find((entry) => entry.name === "image" && entry.dtype === "u8") ??
      inputs.find((entry) => entry.dtype === "u8" && entry.shape.length === 4);
  const listed = inputs.map((entry) => `'${entry.name}' (${entry.dtype} [${entry.shape}])`)
    .join(", ");
  if (input === undefined) {
    throw new VisionError(
      "no_input",
      `imageInputOf: the model has no ${
        inputName === undefined ? "u8 image input" : `input '${inputName}'`
      }; its inputs are ${listed}`,
    );
  }
  const [batch, height, width, channels] = input.shape;
  if (
    input.dtype !== "u8" || input.shape.length !== 4 || batch !== 1 ||
    (channels !== 1 && channels !== 3)
  ) {
    throw new VisionError(
      "no_input",
      `imageInputOf: input '${input.name}' is ${input.dtype} [${input.shape}], expected u8 ` +
        "[1, H, W, 1|3]",
    );
  }
  return { name: input.name, height, width, channels };
}

/**
 * Fills the u8 image input of `instance` (see {@linkcode imageInputOf}) from `image` and
 * returns the inputs object for `instance.run`. The image is converted to the input's
 * channel count (gray ↔ RGB) and resized bilinearly when its size differs (a plugin whose
 * manifest input equals the model input pays for neither). `out` is reused when given.
 *
 * @example
 * ```ts ignore
 * const outputs = instance.run(imageToInput(frame.images[0], instance));
 * ```
 */
export function imageToInput(
  image: Image,
  instance: ModelInstance,
  options: { inputName?: string; out?: Uint8Array } = {},
): Record<string, Uint8Array> {
  const input = imageInputOf(instance, options.inputName);
  let fitted = image;
  if (fitted.channels !== input.channels) {
    fitted = convertChannels(fitted, input.channels as ImageChannels);
  }
  if (fitted.width !== input.width || fitted.height !== input.height) {
    fitted = resizeBilinear(fitted, input.width, input.height);
  }
  const length = input.width * input.height * input.channels;
  const out = options.out ?? new Uint8Array(length);
  if (out.length !== length) {
    throw new VisionError(
      "shape_mismatch",
      `imageToInput: out has ${out.length} bytes, expected ${length}`,
    );
  }
  out.set(fitted.data);
  return { [input.name]: out };
}

/**
 * An image of a u8 NHWC tensor `[1, H, W, 1|3]` (the `upscaled` output of a
 * super-resolver). Copies the data (model outputs are overwritten by the next run).
 *
 * @example
 * ```ts
 * import { tensorToImage } from "./input.ts";
 * const image = tensorToImage(new Uint8Array(12), [1, 2, 2, 3]);
 * console.log(image.width, image.channels); // 2 3
 * ```
 */
export function tensorToImage(data: Uint8Array, shape: readonly number[]): Image {
  const [batch, height, width, channels] = shape;
  if (shape.length !== 4 || batch !== 1 || (channels !== 1 && channels !== 3)) {
    throw new VisionError(
      "shape_mismatch",
      `tensorToImage: shape is [${shape}], expected [1, H, W, 1|3]`,
    );
  }
  if (!(data instanceof Uint8Array) || data.length !== height * width * channels) {
    throw new VisionError(
      "shape_mismatch",
      `tensorToImage: data has ${data?.length} values, expected ${height * width * channels}`,
    );
  }
  return { width, height, channels, data: data.slice() };
}

/** Maps points between a fitted frame image and its original. */
export interface FrameGeometry extends FitGeometry {
  /** Size of the original image. */
  readonly originalWidth: number;
  readonly originalHeight: number;
  /** A point of the fitted image in original pixel coordinates (not clamped). */
  toOriginal(x: number, y: number): [number, number];
}

/**
 * The placement of image `index` of `frame` inside the manifest's input (stretch,
 * letterbox or none, as the host fitted it), with a mapping back to original pixels.
 *
 * @example
 * ```ts ignore
 * const geometry = frameGeometry(frame, ctx.manifest);
 * const [x, y] = geometry.toOriginal(10, 20);
 * ```
 */
export function frameGeometry(frame: Frame, manifest: PluginManifest, index = 0): FrameGeometry {
  const original = frame.originalSizes[index];
  if (original === undefined) {
    throw new VisionError(
      "bad_argument",
      `frameGeometry: frame ${frame.id} has ${frame.originalSizes.length} images, no index ${index}`,
    );
  }
  const geometry = fitGeometry(original, {
    width: manifest.input.width,
    height: manifest.input.height,
    channels: manifest.input.channels,
    mode: manifest.input.resize ?? "stretch",
  });
  return {
    ...geometry,
    originalWidth: original.width,
    originalHeight: original.height,
    toOriginal(x, y) {
      return [(x - geometry.offsetX) / geometry.scaleX, (y - geometry.offsetY) / geometry.scaleY];
    },
  };
}

/** Dtype and shape of a model output. */
export interface OutputInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

/**
 * The output of `instance` named `name` (else, with `fallback`, the output at that index),
 * checked to have `dtype` when given. Throws `no_input` naming the outputs the model has:
 * plugins call it in `setup` so a wrong model fails the load, not every frame.
 *
 * @example
 * ```ts ignore
 * const heatmap = outputInfo(model, "heatmap", { dtype: "f32" });
 * const [, gridHeight, gridWidth, classes] = heatmap.shape;
 * ```
 */
export function outputInfo(
  instance: ModelInstance,
  name: string,
  options: { dtype?: string; fallback?: number } = {},
): OutputInfo {
  const outputs = instance.outputNames;
  const chosen = outputs.includes(name)
    ? name
    : options.fallback !== undefined
    ? outputs[options.fallback]
    : undefined;
  const activation = chosen === undefined ? undefined : instance.model.activations.get(chosen);
  const listed = outputs.map((output) => {
    const info = instance.model.activations.get(output);
    return `'${output}' (${info?.dtype} [${info?.shape}])`;
  }).join(", ");
  if (chosen === undefined || activation === undefined) {
    throw new VisionError(
      "no_input",
      `the model has no output '${name}'; its outputs are ${listed}`,
    );
  }
  if (options.dtype !== undefined && activation.dtype !== options.dtype) {
    throw new VisionError(
      "shape_mismatch",
      `output '${chosen}' is ${activation.dtype} [${activation.shape}], expected ${options.dtype}`,
    );
  }
  return { name: chosen, dtype: activation.dtype, shape: activation.shape };
}

/**
 * Labels from a text file, one per line (blank lines and `#` comments skipped); `[]` when
 * the file does not exist. A plugin names classes by these and falls back to `class N`.
 */
export async function readLabels(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) =>
    line !== "" && !line.startsWith("#")
  );
}

/** `labels[id]`, or `class <id>` past the end. */
export function labelOf(labels: readonly string[], id: number): string {
  return labels[id] ?? `class ${id}`;
}
