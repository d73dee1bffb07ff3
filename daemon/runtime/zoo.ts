/**
 * The model zoo: the five task families of the BiNeal paper (Nie et al., arXiv 2202.03716)
 * built with random weights by {@linkcode GraphBuilder}, parameterized by width multiplier,
 * input size, and sparse kernel selection (Wang et al., CVPR 2023) for the 3x3 convs.
 *
 * Shared structure, as the paper prescribes: the first layer (image in) and the last layer
 * (task head out) are 8-bit `qconv2d`; everything between is binary. A *BiNeal block*
 * ({@linkcode GraphBuilder.binealBlock}) is one binary 3x3 conv plus its own binary 1x1
 * shortcut conv, joined in INT4 and binarized; a ResNet "basic block" (two 3x3 convs) is two
 * BiNeal blocks, so a ResNet-18 stage of two basic blocks is four BiNeal blocks. Where an
 * 8-bit head reads the binary trunk, a binary conv with the `float` transform (the trunk's
 * last conv, batch norm folded in) feeds a `quantize` to u8; the classifier instead pools the
 * bits (`global_avgpool` reads them as ±1) and quantizes the pooled map.
 *
 * | builder | input (default) | outputs |
 * |---|---|---|
 * | {@linkcode buildBinealResNet18} | u8 224x224x3 | `logits` f32 [1,1,1,classes] |
 * | {@linkcode buildCenterNet} | u8 448x672x3 | `heatmap` (sigmoid), `size`, `offset` f32 at 1/4 |
 * | {@linkcode buildFcn} | u8 512x1024x3 | `mask` i32 [1,H,W,1] (argmax of `classes` scores) |
 * | {@linkcode buildEdsr} | u8 256x256x3 | `upscaled` u8 [1,2H,2W,3] |
 * | {@linkcode buildR2d2} | u8 240x320x3 | `descriptors` bits, `reliability`, `repeatability` f32 |
 *
 * @example
 * ```ts
 * import { buildBinealResNet18 } from "./zoo.ts";
 * import { loadModel } from "./model_file.ts";
 * const { bytes } = buildBinealResNet18({ width: 1.5, inputSize: 64, classes: 10 });
 * console.log(loadModel(bytes).activations.get("logits")?.shape); // [1, 1, 1, 10]
 * ```
 *
 * @module
 */

import { GraphBuilder } from "./builder.ts";
import { ModelError } from "./errors.ts";

/** Options every zoo builder takes. */
export interface ZooOptions {
  /** Channel width multiplier of the binary trunk (the paper trains 1x, 1.5x, 2x). Default 1. */
  width?: number;
  /** Input `[height, width]`, or one number for a square. Default: the family's size. */
  inputSize?: number | readonly [number, number];
  /** Build every binary 3x3 conv as a codebook conv (sparse kernel selection). Default false. */
  sparse?: boolean;
  /** Codebook bits of the sparse convs, 4..6 in the paper. Default 5. */
  tau?: number;
  /** Seed of the random parameters. Default 1. */
  seed?: number;
  /** Images per batch. Default 1. */
  batch?: number;
  /** How the BiNeal blocks join their branches (see `BinealBlockOptions`). Default `"fused"`. */
  join?: "fused" | "separate";
}

/** A built zoo model. */
export interface ZooModel {
  /** Model name, e.g. `bineal_resnet18_w1.5x`, with `_sparse_tau5` when sparse. */
  name: string;
  /** Task, e.g. `classify`. */
  task: string;
  /** The model file (valid: loaded back once when written). */
  bytes: Uint8Array;
  /** The builder, for its graph, tensors and activations. */
  builder: GraphBuilder;
}

/** The fields every family resolves from {@linkcode ZooOptions}. */
interface Resolved {
  width: number;
  height: number;
  widthPx: number;
  sparse: boolean;
  tau: number;
  batch: number;
  join: "fused" | "separate";
  b: GraphBuilder;
}

function fail(problem: string): never {
  throw new ModelError("graph_invalid", problem, { file: "<zoo>", action: "write" });
}

function resolve(options: ZooOptions, size: readonly [number, number]): Resolved {
  const input = options.inputSize ?? size;
  const [height, widthPx] = typeof input === "number" ? [input, input] : input;
  const width = options.width ?? 1;
  if (!(width > 0 && width <= 8)) fail(`zoo: width multiplier ${width}, expected 0 < width <= 8`);
  const tau = options.tau ?? 5;
  return {
    width,
    height,
    widthPx,
    sparse: options.sparse ?? false,
    tau,
    batch: options.batch ?? 1,
    join: options.join ?? "fused",
    b: new GraphBuilder({ seed: options.seed ?? 1 }),
  };
}

/** `channels x width`, rounded to a whole channel. */
function scaled(r: Resolved, channels: number): number {
  return Math.max(1, Math.round(channels * r.width));
}

function modelName(r: Resolved, base: string): string {
  const width = `w${r.width}x`;
  return `${base}_${width}${r.sparse ? `_sparse_tau${r.tau}` : ""}`;
}

function block(r: Resolved, x: string, name: string, channels: number, stride = 1): string {
  return r.b.binealBlock(x, {
    name,
    channels,
    stride,
    sparse: r.sparse,
    tau: r.tau,
    join: r.join,
  });
}

/**
 * The 8-bit stem of the ResNet-like families: u8 image, `qconv2d` 7x7 stride 2 to
 * `channels` u8, binarized, then a 3x3 stride-2 binary max pool (binarize and max pool
 * commute, and pooling bits moves 8x fewer bytes than pooling u8).
 */
function resnetStem(r: Resolved, channels: number): string {
  const image = r.b.input("image", "u8", [r.batch, r.height, r.widthPx, 3]);
  const stem = r.b.qconv2d(image, { name: "stem", outChannels: channels, kernel: 7, stride: 2 });
  const bits = r.b.binarize(stem, { name: "stem.bin" });
  return r.b.maxpool(bits, { name: "stem.pool", kernel: 3, stride: 2, pads: 1 });
}

/**
 * ResNet-18 stages of BiNeal blocks: `stages[i]` channels (before the width multiplier),
 * `blocksPerStage` BiNeal blocks each, the first block of every stage but the first with
 * stride `strides[i]`. Returns the output of every stage.
 */
function resnetStages(
  r: Resolved,
  x: string,
  stages: readonly number[],
  strides: readonly number[],
  blocksPerStage = 4,
): string[] {
  const outputs: string[] = [];
  stages.forEach((channels, stage) => {
    for (let index = 0; index < blocksPerStage; index++) {
      const stride = index === 0 ? strides[stage] : 1;
      x = block(r, x, `s${stage + 1}b${index + 1}`, scaled(r, channels), stride);
    }
    outputs.push(x);
  });
  return outputs;
}

/** An 8-bit head reading bits: binary 3x3 conv to f32, quantize, `qconv2d` 1x1 to f32. */
function int8Head(
  r: Resolved,
  x: string,
  name: string,
  hidden: number,
  out: number,
): string {
  const features = r.b.bconv2d(x, {
    name: `${name}.conv`,
    outChannels: hidden,
    kernel: 3,
    transform: "float",
  });
  const q = r.b.quantize(features, { name: `${name}.q` });
  return r.b.qconv2d(q, { name, outChannels: out, kernel: 1, output: "f32" });
}

/** Options of {@linkcode buildBinealResNet18}. */
export interface ResNetOptions extends ZooOptions {
  /** Classes of the 8-bit classifier. Default 1000 (ImageNet). */
  classes?: number;
}

/**
 * BiNeal ResNet-18 (classification, default 224x224): 8-bit 7x7/2 stem and 3x3/2 max pool,
 * four stages of 64/128/256/512 x width channels, four BiNeal blocks each (two basic
 * blocks), global average pool of the bits, quantize and an 8-bit 1x1 classifier to
 * `classes` f32 logits.
 *
 * @example
 * ```ts
 * import { buildBinealResNet18 } from "./zoo.ts";
 * const model = buildBinealResNet18({ width: 1 });
 * await Deno.writeFile("resnet18.onebit", model.bytes);
 * ```
 */
export function buildBinealResNet18(options: ResNetOptions = {}): ZooModel {
  const r = resolve(options, [224, 224]);
  const x = resnetStem(r, scaled(r, 64));
  const stages = resnetStages(r, x, [64, 128, 256, 512], [1, 2, 2, 2]);
  const pooled = r.b.globalAvgpool(stages[3], { name: "pool" });
  // The mean of ±1 values lies in [-1, 1]: 1/127 per step fills the u8 range.
  const q = r.b.quantize(pooled, { name: "pool.q", scale: 1 / 127, zeroPoint: 128 });
  const logits = r.b.qconv2d(q, {
    name: "logits",
    outChannels: options.classes ?? 1000,
    kernel: 1,
    output: "f32",
  });
  r.b.output(logits);
  const name = modelName(r, "bineal_resnet18");
  return { name, task: "classify", bytes: r.b.build({ name, task: "classify" }), builder: r.b };
}

/** Options of {@linkcode buildCenterNet}. */
export interface CenterNetOptions extends ZooOptions {
  /** Object classes (heatmap channels). Default 80 (COCO). */
  classes?: number;
  /** Channels of each head's hidden binary conv. Default 64. */
  headChannels?: number;
}

/**
 * A CenterNet-style detector (default 448x672, the paper's size): the BiNeal ResNet-18
 * trunk to stride 32, a neck of three (nearest x2 upsample, BiNeal block) steps to
 * 256/128/64 x width channels at stride 4, and three heads, each a binary 3x3 conv to
 * `headChannels` f32, quantize, and an 8-bit 1x1 conv: `heatmap` (`classes`, sigmoid),
 * `size` (2) and `offset` (2).
 *
 * @example
 * ```ts
 * import { buildCenterNet } from "./zoo.ts";
 * const detector = buildCenterNet({ classes: 20 });
 * ```
 */
export function buildCenterNet(options: CenterNetOptions = {}): ZooModel {
  const r = resolve(options, [448, 672]);
  const x = resnetStem(r, scaled(r, 64));
  let y = resnetStages(r, x, [64, 128, 256, 512], [1, 2, 2, 2])[3];
  [256, 128, 64].forEach((channels, index) => {
    y = r.b.upsampleNearest(y, { name: `neck${index + 1}.up`, scale: 2 });
    y = block(r, y, `neck${index + 1}`, scaled(r, channels));
  });
  const hidden = options.headChannels ?? 64;
  const heatmap = r.b.sigmoid(
    int8Head(r, y, "heatmap.logits", hidden, options.classes ?? 80),
    { name: "heatmap" },
  );
  const size = int8Head(r, y, "size", hidden, 2);
  const offset = int8Head(r, y, "offset", hidden, 2);
  r.b.output(heatmap, size, offset);
  const name = modelName(r, "bineal_centernet");
  return { name, task: "detect", bytes: r.b.build({ name, task: "detect" }), builder: r.b };
}

/** Options of {@linkcode buildFcn}. */
export interface FcnOptions extends ZooOptions {
  /** Segmentation classes. Default 19 (Cityscapes). */
  classes?: number;
}

/**
 * An FCN segmenter (default 512x1024; height and width must be multiples of 16): the BiNeal
 * trunk's first three stages (64/128/256 x width, strides 4, 8, 16), an FCN-style skip
 * (the stride-16 bits upsampled x2 and concatenated with the stride-8 bits, then a BiNeal
 * block to 128 x width), an 8-bit classifier head at stride 8 (binary 3x3 conv to 64 f32,
 * quantize, 1x1 `qconv2d` to `classes` f32), a bilinear x8 upsample to the input size and
 * argmax: `mask`, i32 `[N, H, W, 1]`.
 *
 * @example
 * ```ts
 * import { buildFcn } from "./zoo.ts";
 * const segmenter = buildFcn({ inputSize: [256, 512] });
 * ```
 */
export function buildFcn(options: FcnOptions = {}): ZooModel {
  const r = resolve(options, [512, 1024]);
  if (r.height % 16 !== 0 || r.widthPx % 16 !== 0) {
    fail(`buildFcn: input ${r.height}x${r.widthPx}, height and width must be multiples of 16`);
  }
  const x = resnetStem(r, scaled(r, 64));
  const [, stride8, stride16] = resnetStages(r, x, [64, 128, 256], [1, 2, 2]);
  const up = r.b.upsampleNearest(stride16, { name: "skip.up", scale: 2 });
  const fused = r.b.concat([up, stride8], { name: "skip.cat" });
  const features = block(r, fused, "skip", scaled(r, 128));
  const scores = int8Head(r, features, "scores", 64, options.classes ?? 19);
  const full = r.b.upsampleBilinear(scores, { name: "scores.up", scale: 8 });
  const mask = r.b.argmax(full, { name: "mask" });
  r.b.output(mask);
  const name = modelName(r, "bineal_fcn");
  return { name, task: "segment", bytes: r.b.build({ name, task: "segment" }), builder: r.b };
}

/** Options of {@linkcode buildEdsr}. */
export interface EdsrOptions extends ZooOptions {
  /** BiNeal blocks of the body. Default 16. */
  blocks?: number;
  /** Upscaling factor (depth-to-space block), 2..8. Default 2. */
  scale?: number;
}

/**
 * An EDSR-style super-resolver (default 256x256 in, x2 out): 8-bit 3x3 first conv to
 * 64 x width u8, binarized; a body of `blocks` BiNeal blocks at full resolution; a binary
 * 3x3 conv to 64 f32 and quantize; the 8-bit last conv 3x3 to 3*scale² u8 channels; and
 * depth-to-space by `scale` (ESPCN's pixel shuffle): `upscaled` u8 `[N, H*scale, W*scale, 3]`.
 *
 * @example
 * ```ts
 * import { buildEdsr } from "./zoo.ts";
 * const sr = buildEdsr({ inputSize: [180, 320], blocks: 8 });
 * ```
 */
export function buildEdsr(options: EdsrOptions = {}): ZooModel {
  const r = resolve(options, [256, 256]);
  const scale = options.scale ?? 2;
  const image = r.b.input("image", "u8", [r.batch, r.height, r.widthPx, 3]);
  const head = r.b.qconv2d(image, { name: "head", outChannels: scaled(r, 64), kernel: 3 });
  let x = r.b.binarize(head, { name: "head.bin" });
  for (let index = 0; index < (options.blocks ?? 16); index++) {
    x = block(r, x, `body${index + 1}`, scaled(r, 64));
  }
  const features = r.b.bconv2d(x, {
    name: "tail.conv",
    outChannels: 64,
    kernel: 3,
    transform: "float",
  });
  const q = r.b.quantize(features, { name: "tail.q" });
  const pixels = r.b.qconv2d(q, {
    name: "tail",
    outChannels: 3 * scale * scale,
    kernel: 3,
    output: "u8",
  });
  const out = r.b.depthToSpace(pixels, { name: "upscaled", block: scale, mode: "dcr" });
  r.b.output(out);
  const name = modelName(r, `bineal_edsr_x${scale}`);
  return {
    name,
    task: "super_resolve",
    bytes: r.b.build({ name, task: "super_resolve" }),
    builder: r.b,
  };
}

/** Options of {@linkcode buildR2d2}. */
export interface R2d2Options extends ZooOptions {
  /** Bits per binary descriptor: 128 or 256. Default 128. */
  descriptorBits?: 128 | 256;
}

/**
 * An R2D2-style descriptor net (default 240x320): 8-bit 3x3 first conv to 32 x width u8,
 * binarized; BiNeal blocks of 32/64/64/128/128/128 x width channels, all at full
 * resolution (R2D2 keeps it); `descriptors`, a binary 1x1 conv with the `binary` transform
 * to `descriptorBits` bits per pixel; and two 8-bit heads sharing a binary 1x1 conv to 32
 * f32 and a quantize: `reliability` and `repeatability`, each a 1x1 `qconv2d` to one f32
 * channel and a sigmoid.
 *
 * @example
 * ```ts
 * import { buildR2d2 } from "./zoo.ts";
 * const matcher = buildR2d2({ descriptorBits: 256 });
 * ```
 */
export function buildR2d2(options: R2d2Options = {}): ZooModel {
  const r = resolve(options, [240, 320]);
  const bits = options.descriptorBits ?? 128;
  if (bits !== 128 && bits !== 256) fail(`buildR2d2: descriptorBits ${bits}, expected 128 or 256`);
  const image = r.b.input("image", "u8", [r.batch, r.height, r.widthPx, 3]);
  const head = r.b.qconv2d(image, { name: "head", outChannels: scaled(r, 32), kernel: 3 });
  let x = r.b.binarize(head, { name: "head.bin" });
  [32, 64, 64, 128, 128, 128].forEach((channels, index) => {
    x = block(r, x, `b${index + 1}`, scaled(r, channels));
  });
  const descriptors = r.b.bconv2d(x, {
    name: "descriptors",
    outChannels: bits,
    kernel: 1,
    transform: "binary",
  });
  const features = r.b.bconv2d(x, {
    name: "maps.conv",
    outChannels: 32,
    kernel: 1,
    transform: "float",
  });
  const q = r.b.quantize(features, { name: "maps.q" });
  const map = (name: string) =>
    r.b.sigmoid(
      r.b.qconv2d(q, { name: `${name}.logits`, outChannels: 1, kernel: 1, output: "f32" }),
      { name },
    );
  r.b.output(descriptors, map("reliability"), map("repeatability"));
  const name = modelName(r, `bineal_r2d2_d${bits}`);
  return { name, task: "match", bytes: r.b.build({ name, task: "match" }), builder: r.b };
}

/** Every zoo family by a short name (for the CLI and benchmarks). */
export const ZOO: Readonly<Record<string, (options?: ZooOptions) => ZooModel>> = Object.freeze({
  resnet18: buildBinealResNet18,
  centernet: buildCenterNet,
  fcn: buildFcn,
  edsr: buildEdsr,
  r2d2: buildR2d2,
});
