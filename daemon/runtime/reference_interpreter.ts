/**
 * An independent, plain TypeScript interpreter of the graph semantics (graph.ts and the
 * kernel contracts), for testing the executor. It shares no code with the executor or the
 * kernels: every activation is held as an array of numbers in NHWC order, `bits` unpacked to
 * +1 / -1, and every op is the obvious loop over output elements:
 *
 * - binary convs and dense layers: the sum of `x * w` over taps and channels with x, w in
 *   {-1, +1} and padded taps reading the pad value (+1, -1 or 0), then the output transform
 *   with f32 rounding (`Math.fround` after every f32 operation, no fused multiply-add) and
 *   round-half-even;
 * - codebook convs: the weights read from the codebook through the (bit-packed) indices, then
 *   the same;
 * - qconv2d: exact integer accumulation, then the requantization of the qconv contract;
 * - the other ops: straight from their definitions in `graph.ts` and `ops/*.ts` docs.
 *
 * Never fast (a conv is a 7-deep loop); for small graphs.
 *
 * @example
 * ```ts
 * import { referenceRun } from "./reference_interpreter.ts";
 * import { modelFromGraph } from "./executor.ts";
 * const model = modelFromGraph({
 *   inputs: [{ name: "x", dtype: "f32", shape: [1, 1, 1, 2] }],
 *   outputs: ["i"],
 *   ops: [{ op: "argmax", name: "a", inputs: ["x"], outputs: ["i"], attrs: {}, params: {} }],
 * }, new Map());
 * console.log(referenceRun(model, { x: Float32Array.of(1, 2) }).i); // Int32Array [1]
 * ```
 *
 * @module
 */

import type {
  Activation,
  ActivationDType,
  BinaryTransform,
  OpNode,
  PadValue,
  Shape4,
  WindowAttrs,
} from "./graph.ts";
import type { RunnableModel } from "./executor.ts";

/** A typed array holding an activation as the executor does (bits: packed u64 words). */
export type ReferenceArray = BigUint64Array | Uint8Array | Int8Array | Int32Array | Float32Array;

/** An activation as the interpreter holds it: numbers in NHWC order, bits as ±1. */
interface Values {
  dtype: ActivationDType;
  shape: Shape4;
  data: Float64Array;
}

function count(shape: Shape4): number {
  return shape[0] * shape[1] * shape[2] * shape[3];
}

function at(shape: Shape4, n: number, y: number, x: number, c: number): number {
  return ((n * shape[1] + y) * shape[2] + x) * shape[3] + c;
}

/** Reads bit `index` of a u64 array (BigInt arithmetic: slow and obviously right). */
function bitOf(words: BigUint64Array, word: number, bit: number): number {
  return Number((words[word] >> BigInt(bit)) & 1n);
}

function unpack(array: ReferenceArray, activation: Activation): Values {
  const shape = activation.shape;
  const data = new Float64Array(count(shape));
  if (activation.dtype === "bits") {
    const words = array as BigUint64Array;
    const perPixel = Math.ceil(shape[3] / 64);
    for (let p = 0; p < shape[0] * shape[1] * shape[2]; p++) {
      for (let c = 0; c < shape[3]; c++) {
        data[p * shape[3] + c] = bitOf(words, p * perPixel + Math.floor(c / 64), c % 64) ? -1 : 1;
      }
    }
  } else {
    const values = array as Exclude<ReferenceArray, BigUint64Array>;
    for (let i = 0; i < data.length; i++) data[i] = values[i];
  }
  return { dtype: activation.dtype, shape, data };
}

function pack(values: Values): ReferenceArray {
  const { shape, data } = values;
  switch (values.dtype) {
    case "bits": {
      const perPixel = Math.ceil(shape[3] / 64);
      const words = new BigUint64Array(shape[0] * shape[1] * shape[2] * perPixel);
      for (let p = 0; p < shape[0] * shape[1] * shape[2]; p++) {
        for (let c = 0; c < shape[3]; c++) {
          if (data[p * shape[3] + c] < 0) {
            words[p * perPixel + Math.floor(c / 64)] |= 1n << BigInt(c % 64);
          }
        }
      }
      return words;
    }
    case "u8":
      return Uint8Array.from(data);
    case "i8":
      return Int8Array.from(data);
    case "i32":
      return Int32Array.from(data);
    case "f32":
      return Float32Array.from(data);
  }
}

/** Round half to even, written from the definition. */
function roundEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}

const f32 = Math.fround;

/** An interpreter run: the model, its activations so far, and param lookup. */
class Interpreter {
  readonly model: RunnableModel;
  readonly values = new Map<string, Values>();

  constructor(model: RunnableModel) {
    this.model = model;
  }

  input(op: OpNode, index: number): Values {
    const values = this.values.get(op.inputs[index]);
    if (values === undefined) throw new Error(`reference: '${op.inputs[index]}' is not computed`);
    return values;
  }

  param(op: OpNode, role: string): ArrayLike<number> | undefined {
    const name = op.params[role];
    if (name === undefined) return undefined;
    const tensor = this.model.tensors.get(name);
    if (tensor === undefined) throw new Error(`reference: no tensor '${name}'`);
    if (tensor.data instanceof BigUint64Array || tensor.data instanceof BigInt64Array) {
      throw new Error(`reference: tensor '${name}' is 64-bit; read it with words()`);
    }
    return tensor.data as ArrayLike<number>;
  }

  need(op: OpNode, role: string): ArrayLike<number> {
    const data = this.param(op, role);
    if (data === undefined) throw new Error(`reference: op '${op.name}' has no '${role}'`);
    return data;
  }

  words(op: OpNode, role: string): BigUint64Array {
    const tensor = this.model.tensors.get(op.params[role]);
    if (tensor === undefined) throw new Error(`reference: op '${op.name}' has no '${role}'`);
    return tensor.data as BigUint64Array;
  }

  output(op: OpNode): Activation {
    const activation = this.model.activations.get(op.outputs[0]);
    if (activation === undefined) throw new Error(`reference: no activation '${op.outputs[0]}'`);
    return activation;
  }
}

/** ±1 weights `[O][kh][kw][C]` from packed U64 rows `[O][kh][kw][ceil(C/64)]`. */
function unpackWeights(words: BigUint64Array, rows: number, channels: number): Float64Array {
  const perRow = Math.ceil(channels / 64);
  const out = new Float64Array(rows * channels);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++) {
      out[r * channels + c] = bitOf(words, r * perRow + Math.floor(c / 64), c % 64) ? -1 : 1;
    }
  }
  return out;
}

/**
 * Index `k` of tau-bit indices packed as a little-endian bit stream (graph.ts): the sum of
 * its tau stream bits, bit j of the stream being bit j%8 of byte j/8.
 */
function packedIndex(packed: ArrayLike<number>, k: number, tau: number): number {
  let index = 0;
  for (let bit = 0; bit < tau; bit++) {
    const at = k * tau + bit;
    if (Math.floor(packed[Math.floor(at / 8)] / 2 ** (at % 8)) % 2 === 1) index += 2 ** bit;
  }
  return index;
}

/** ±1 weights `[O][kh][kw][C]` of a codebook conv with tau-bit packed indices. */
function codebookWeights(
  codebook: ArrayLike<number>,
  packed: ArrayLike<number>,
  tau: number,
  outC: number,
  kh: number,
  kw: number,
  inC: number,
): Float64Array {
  const out = new Float64Array(outC * kh * kw * inC);
  for (let o = 0; o < outC; o++) {
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        for (let c = 0; c < inC; c++) {
          const codeword = codebook[packedIndex(packed, o * inC + c, tau)];
          const bit = Math.floor(codeword / 2 ** (ky * kw + kx)) % 2;
          out[((o * kh + ky) * kw + kx) * inC + c] = bit === 1 ? -1 : 1;
        }
      }
    }
  }
  return out;
}

function outSize(size: number, k: number, s: number, before: number, after: number): number {
  return Math.floor((size + before + after - k) / s) + 1;
}

/** The ±1 accumulators `[N][oh][ow][O]` of a binary conv with pad value `pad`. */
function binaryAccumulators(
  input: Values,
  weights: Float64Array,
  attrs: WindowAttrs,
  outC: number,
  pad: PadValue,
): { shape: Shape4; acc: Float64Array } {
  const [n, h, w, c] = input.shape;
  const [kh, kw] = attrs.kernel;
  const [sh, sw] = attrs.stride;
  const [top, bottom, left, right] = attrs.pads;
  const oh = outSize(h, kh, sh, top, bottom);
  const ow = outSize(w, kw, sw, left, right);
  const shape: Shape4 = [n, oh, ow, outC];
  const padValue = pad === "plus_one" ? 1 : pad === "minus_one" ? -1 : 0;
  const acc = new Float64Array(count(shape));
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let o = 0; o < outC; o++) {
          let sum = 0;
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const iy = oy * sh + ky - top;
              const ix = ox * sw + kx - left;
              const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
              for (let ch = 0; ch < c; ch++) {
                const x = inside ? input.data[at(input.shape, b, iy, ix, ch)] : padValue;
                sum += x * weights[((o * kh + ky) * kw + kx) * c + ch];
              }
            }
          }
          acc[at(shape, b, oy, ox, o)] = sum;
        }
      }
    }
  }
  return { shape, acc };
}

/** The output transform of a binary op applied to accumulators (bits as ±1). */
function transform(
  run: Interpreter,
  op: OpNode,
  acc: Float64Array,
  shape: Shape4,
  attrs: { transform: BinaryTransform; qmin?: number; qmax?: number },
): Values {
  const outC = shape[3];
  const kind = attrs.transform;
  const data = new Float64Array(acc.length);
  const mul = kind === "float" || kind === "int8" || kind === "join" ? run.need(op, "mul") : [];
  const bias = kind === "float" || kind === "int8" || kind === "join" ? run.need(op, "bias") : [];
  const thresholds = kind === "binary" || kind === "join" ? run.need(op, "thresholds") : [];
  const flips = run.param(op, "flips");
  const residual = kind === "join" ? run.input(op, 1).data : undefined;
  const sign = (value: number, o: number) => {
    const flip = flips !== undefined && flips[o] === 1;
    return (flip ? value > thresholds[o] : value < thresholds[o]) ? -1 : 1;
  };
  const quantized = (value: number, o: number) => {
    const real = f32(f32(f32(value) * mul[o]) + bias[o]);
    return roundEven(clamp(real, attrs.qmin ?? -128, attrs.qmax ?? 127));
  };
  for (let i = 0; i < acc.length; i++) {
    const o = i % outC;
    switch (kind) {
      case "binary":
        data[i] = sign(acc[i], o);
        break;
      case "int32":
        data[i] = acc[i];
        break;
      case "float":
        data[i] = f32(f32(f32(acc[i]) * mul[o]) + bias[o]);
        break;
      case "int8":
        data[i] = quantized(acc[i], o);
        break;
      case "join": {
        const sum = clamp(
          quantized(acc[i], o) + (residual as Float64Array)[i],
          attrs.qmin ?? -8,
          attrs.qmax ?? 7,
        );
        data[i] = sign(sum, o);
        break;
      }
    }
  }
  const dtype: ActivationDType = kind === "binary" || kind === "join"
    ? "bits"
    : kind === "int32"
    ? "i32"
    : kind === "float"
    ? "f32"
    : "i8";
  return { dtype, shape, data };
}

/** The real taps `[begin, end)` of output index `o` on one axis. */
function taps(o: number, stride: number, pad: number, kernel: number, size: number): number[] {
  const list: number[] = [];
  for (let k = 0; k < kernel; k++) {
    const i = o * stride + k - pad;
    if (i >= 0 && i < size) list.push(i);
  }
  return list;
}

function pool(
  input: Values,
  attrs: WindowAttrs,
  reduce: (values: number[]) => number,
): { shape: Shape4; data: Float64Array } {
  const [n, h, w, c] = input.shape;
  const [kh, kw] = attrs.kernel;
  const [sh, sw] = attrs.stride;
  const [top, bottom, left, right] = attrs.pads;
  const shape: Shape4 = [n, outSize(h, kh, sh, top, bottom), outSize(w, kw, sw, left, right), c];
  const data = new Float64Array(count(shape));
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < shape[1]; oy++) {
      for (let ox = 0; ox < shape[2]; ox++) {
        const rows = taps(oy, sh, top, kh, h);
        const cols = taps(ox, sw, left, kw, w);
        for (let ch = 0; ch < c; ch++) {
          const window: number[] = [];
          for (const iy of rows) {
            for (const ix of cols) window.push(input.data[at(input.shape, b, iy, ix, ch)]);
          }
          data[at(shape, b, oy, ox, ch)] = reduce(window);
        }
      }
    }
  }
  return { shape, data };
}

/** Sum in order: in f32 steps for f32 data, exactly otherwise. */
function total(values: number[], dtype: ActivationDType): number {
  let sum = 0;
  for (const value of values) sum = dtype === "f32" ? f32(sum + value) : sum + value;
  return sum;
}

function bilinearSource(o: number, size: number, scale: number, alignCorners: boolean) {
  const outSize = size * scale;
  const src = alignCorners
    ? (outSize > 1 ? o * (size - 1) / (outSize - 1) : 0)
    : Math.max((o + 0.5) / scale - 0.5, 0);
  const lo = Math.floor(src);
  return { lo, hi: Math.min(lo + 1, size - 1), frac: src - lo };
}

function runOp(run: Interpreter, op: OpNode): Values {
  const output = run.output(op);
  const x = run.input(op, 0);
  const shape = output.shape;
  const data = new Float64Array(count(shape));
  switch (op.op) {
    case "binarize": {
      const thresholds = run.param(op, "thresholds");
      for (let i = 0; i < data.length; i++) {
        const value = x.data[i];
        const negative = thresholds !== undefined
          ? value < thresholds[i % x.shape[3]]
          : value < 0 || Object.is(value, -0);
        data[i] = negative ? -1 : 1;
      }
      break;
    }
    case "quantize": {
      const { scale, zero_point: zp, dtype } = op.attrs;
      const [lo, hi] = dtype === "u8" ? [0, 255] : [-128, 127];
      for (let i = 0; i < data.length; i++) {
        const q = roundEven(f32(x.data[i] / f32(scale))) + zp;
        data[i] = Number.isNaN(q) ? zp : clamp(q, lo, hi);
      }
      break;
    }
    case "bconv2d":
    case "codebook_conv2d": {
      const [kh, kw] = op.attrs.kernel;
      const outC = op.attrs.out_channels;
      const c = x.shape[3];
      const weights = op.op === "bconv2d"
        ? unpackWeights(run.words(op, "weights"), outC * kh * kw, c)
        : codebookWeights(
          run.need(op, "codebook"),
          run.need(op, "indices"),
          op.attrs.tau,
          outC,
          kh,
          kw,
          c,
        );
      const { acc, shape: accShape } = binaryAccumulators(
        x,
        weights,
        op.attrs,
        outC,
        op.attrs.pad_value,
      );
      return transform(run, op, acc, accShape, op.attrs);
    }
    case "bdense": {
      const [n, , , c] = x.shape;
      const outC = op.attrs.out_channels;
      const weights = unpackWeights(run.words(op, "weights"), outC, c);
      const acc = new Float64Array(n * outC);
      for (let b = 0; b < n; b++) {
        for (let o = 0; o < outC; o++) {
          let sum = 0;
          for (let ch = 0; ch < c; ch++) sum += x.data[b * c + ch] * weights[o * c + ch];
          acc[b * outC + o] = sum;
        }
      }
      return transform(run, op, acc, [n, 1, 1, outC], op.attrs);
    }
    case "qconv2d": {
      const [n, h, w, c] = x.shape;
      const [kh, kw] = op.attrs.kernel;
      const [sh, sw] = op.attrs.stride;
      const [top, , left] = op.attrs.pads;
      const weights = run.need(op, "weights");
      const bias = run.param(op, "bias");
      const scale = run.param(op, "scale");
      const xzp = op.attrs.x_zero_point;
      const yzp = op.attrs.y_zero_point ?? 0;
      const outC = shape[3];
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < shape[1]; oy++) {
          for (let ox = 0; ox < shape[2]; ox++) {
            for (let o = 0; o < outC; o++) {
              let acc = bias === undefined ? 0 : bias[o];
              for (let ky = 0; ky < kh; ky++) {
                for (let kx = 0; kx < kw; kx++) {
                  const iy = oy * sh + ky - top;
                  const ix = ox * sw + kx - left;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  for (let ch = 0; ch < c; ch++) {
                    acc += (x.data[at(x.shape, b, iy, ix, ch)] - xzp) *
                      weights[((o * kh + ky) * kw + kx) * c + ch];
                  }
                }
              }
              let value: number;
              if (op.attrs.output === "i32") {
                value = acc | 0;
              } else if (op.attrs.output === "f32") {
                value = f32(f32(acc) * (scale as ArrayLike<number>)[o]);
              } else {
                const real = f32(f32(acc) * (scale as ArrayLike<number>)[o]);
                value = roundEven(clamp(real, -yzp, 255 - yzp)) + yzp;
              }
              data[at(shape, b, oy, ox, o)] = value;
            }
          }
        }
      }
      break;
    }
    case "maxpool":
      return {
        dtype: output.dtype,
        ...pool(x, op.attrs, (values) => values.reduce((a, b) => (b > a ? b : a))),
      };
    case "avgpool": {
      const area = op.attrs.kernel[0] * op.attrs.kernel[1];
      const include = op.attrs.count_include_pad;
      return {
        dtype: "f32",
        ...pool(
          x,
          op.attrs,
          (values) => f32(total(values, x.dtype) / (include ? area : values.length)),
        ),
      };
    }
    case "global_avgpool": {
      const [n, h, w, c] = x.shape;
      for (let b = 0; b < n; b++) {
        for (let ch = 0; ch < c; ch++) {
          const values: number[] = [];
          for (let y = 0; y < h; y++) {
            for (let xx = 0; xx < w; xx++) values.push(x.data[at(x.shape, b, y, xx, ch)]);
          }
          data[b * c + ch] = f32(total(values, x.dtype) / (h * w));
        }
      }
      break;
    }
    case "upsample_nearest": {
      const [sh, sw] = op.attrs.scale;
      for (let b = 0; b < shape[0]; b++) {
        for (let y = 0; y < shape[1]; y++) {
          for (let xx = 0; xx < shape[2]; xx++) {
            for (let ch = 0; ch < shape[3]; ch++) {
              data[at(shape, b, y, xx, ch)] =
                x.data[at(x.shape, b, Math.floor(y / sh), Math.floor(xx / sw), ch)];
            }
          }
        }
      }
      break;
    }
    case "upsample_bilinear": {
      const [sh, sw] = op.attrs.scale;
      const align = op.attrs.align_corners;
      for (let b = 0; b < shape[0]; b++) {
        for (let y = 0; y < shape[1]; y++) {
          const r = bilinearSource(y, x.shape[1], sh, align);
          for (let xx = 0; xx < shape[2]; xx++) {
            const q = bilinearSource(xx, x.shape[2], sw, align);
            for (let ch = 0; ch < shape[3]; ch++) {
              const v = (iy: number, ix: number) => x.data[at(x.shape, b, iy, ix, ch)];
              const upper = (1 - q.frac) * v(r.lo, q.lo) + q.frac * v(r.lo, q.hi);
              const lower = (1 - q.frac) * v(r.hi, q.lo) + q.frac * v(r.hi, q.hi);
              data[at(shape, b, y, xx, ch)] = f32((1 - r.frac) * upper + r.frac * lower);
            }
          }
        }
      }
      break;
    }
    case "concat": {
      let offset = 0;
      op.inputs.forEach((_, index) => {
        const part = run.input(op, index);
        const c = part.shape[3];
        for (let p = 0; p < shape[0] * shape[1] * shape[2]; p++) {
          for (let ch = 0; ch < c; ch++) data[p * shape[3] + offset + ch] = part.data[p * c + ch];
        }
        offset += c;
      });
      break;
    }
    case "depth_to_space": {
      const b = op.attrs.block;
      const outC = shape[3];
      for (let n = 0; n < shape[0]; n++) {
        for (let y = 0; y < shape[1]; y++) {
          for (let xx = 0; xx < shape[2]; xx++) {
            for (let c = 0; c < outC; c++) {
              const by = y % b;
              const bx = xx % b;
              const source = op.attrs.mode === "dcr"
                ? (by * b + bx) * outC + c
                : c * b * b + by * b + bx;
              data[at(shape, n, y, xx, c)] = x.data[
                at(x.shape, n, Math.floor(y / b), Math.floor(xx / b), source)
              ];
            }
          }
        }
      }
      break;
    }
    case "softmax": {
      const c = shape[3];
      for (let p = 0; p < data.length / c; p++) {
        const row = Array.from(x.data.subarray(p * c, (p + 1) * c));
        const max = row.reduce((a, b) => (b > a ? b : a));
        const exps = row.map((value) => Math.exp(value - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        exps.forEach((e, ch) => (data[p * c + ch] = f32(e / sum)));
      }
      break;
    }
    case "sigmoid":
      for (let i = 0; i < data.length; i++) data[i] = f32(1 / (1 + Math.exp(-x.data[i])));
      break;
    case "argmax": {
      const c = x.shape[3];
      for (let p = 0; p < data.length; p++) {
        let best = 0;
        for (let ch = 1; ch < c; ch++) if (x.data[p * c + ch] > x.data[p * c + best]) best = ch;
        data[p] = best;
      }
      break;
    }
    case "bineal_join": {
      const y = run.input(op, 1);
      const thresholds = run.need(op, "thresholds");
      const flips = run.param(op, "flips");
      const c = shape[3];
      for (let i = 0; i < data.length; i++) {
        const s = clamp(x.data[i] + y.data[i], op.attrs.qmin, op.attrs.qmax);
        const flip = flips !== undefined && flips[i % c] === 1;
        data[i] = (flip ? s > thresholds[i % c] : s < thresholds[i % c]) ? -1 : 1;
      }
      break;
    }
  }
  return { dtype: output.dtype, shape, data };
}

/**
 * Runs `model` on `inputs` (typed arrays as {@linkcode ModelInstance.run} takes them) with
 * the reference semantics and returns every graph output as a new typed array of its dtype
 * (bits packed). Throws an `Error` for a missing input.
 */
export function referenceRun(
  model: RunnableModel,
  inputs: Readonly<Record<string, ReferenceArray>>,
): Record<string, ReferenceArray> {
  const run = new Interpreter(model);
  for (const input of model.graph.inputs) {
    const array = inputs[input.name];
    if (array === undefined) throw new Error(`reference: input '${input.name}' is missing`);
    run.values.set(input.name, unpack(array, input));
  }
  for (const op of model.graph.ops) run.values.set(op.outputs[0], runOp(run, op));
  const outputs: Record<string, ReferenceArray> = {};
  for (const name of model.graph.outputs) {
    outputs[name] = pack(run.values.get(name) as Values);
  }
  return outputs;
}
