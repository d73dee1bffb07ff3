import assert from "node:assert/strict";
import { ErrorSite, ModelError, type ModelErrorCode } from "./errors.ts";
import {
  activationBytes,
  GRAPH_LIMITS,
  OP_TYPES,
  parseGraph,
  type ValidatedGraph,
  validateGraph,
} from "./graph.ts";
import type { Tensor } from "./safetensors.ts";
import { everyOpModel, packedBits, seededRandom } from "./test_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

function rejects(code: ModelErrorCode, pattern?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ModelError, `expected a ModelError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

/** The every-op fixture as plain JSON (editable) and a copy of its tensors. */
function fixture(): { graph: Json; tensors: Map<string, Tensor> } {
  const { graph, tensors } = everyOpModel(7);
  return { graph: structuredClone(graph), tensors: new Map(tensors) };
}

function op(graph: Json, name: string): Json {
  const found = graph.ops.find((candidate: Json) => candidate.name === name);
  assert.ok(found, `fixture has op ${name}`);
  return found;
}

function validate(graph: unknown, tensors: ReadonlyMap<string, Tensor>): ValidatedGraph {
  return validateGraph(graph, tensors, { site: new ErrorSite("g.onebit") });
}

function shapeOf(result: ValidatedGraph, name: string): string {
  const activation = result.activations.get(name);
  assert.ok(activation, `activation ${name}`);
  return `${activation.dtype} ${activation.shape.join("x")}`;
}

/** A one-conv graph: bits input [1, h, w, c] → bconv2d int32 → output. */
function convGraph(
  input: [number, number, number, number],
  attrs: Json,
): { graph: Json; tensors: Map<string, Tensor> } {
  const [kh, kw] = attrs.kernel;
  const outC = attrs.out_channels;
  const random = seededRandom(3);
  const tensors = new Map<string, Tensor>([
    ["w", {
      dtype: "U64",
      shape: [outC, kh, kw, Math.ceil(input[3] / 64)],
      data: packedBits(random, outC * kh * kw, input[3]),
    }],
  ]);
  const graph = {
    inputs: [{ name: "x", dtype: "bits", shape: input }],
    outputs: ["y"],
    ops: [{
      op: "bconv2d",
      name: "conv",
      inputs: ["x"],
      outputs: ["y"],
      attrs: { pad_value: "plus_one", transform: "int32", ...attrs },
      params: { weights: "w" },
    }],
  };
  return { graph, tensors };
}

Deno.test("validateGraph infers every activation of a model that uses every op", () => {
  const { graph, tensors } = fixture();
  const usedOps = new Set(graph.ops.map((node: Json) => node.op));
  assert.deepEqual([...usedOps].sort(), [...OP_TYPES].sort(), "the fixture covers every op");
  const result = validate(graph, tensors);
  const expected: Record<string, string> = {
    image: "u8 1x8x8x3",
    stem: "u8 1x8x8x16",
    x0: "bits 1x8x8x16",
    x1: "bits 1x4x4x16",
    r: "i8 1x4x4x65",
    j1: "bits 1x4x4x65",
    j2: "bits 1x4x4x65",
    c: "bits 1x4x4x32",
    c1: "bits 1x1x1x32",
    logits: "f32 1x1x1x10",
    probs: "f32 1x1x1x10",
    g: "f32 1x1x1x32",
    gq: "u8 1x1x1x32",
    scores: "f32 1x1x1x5",
    m: "bits 1x8x8x48",
    segup: "f32 1x16x16x4",
    mask: "i32 1x16x16x1",
    smooth: "f32 1x8x8x4",
    sr: "i32 1x8x8x12",
    hr: "i32 1x16x16x3",
  };
  for (const [name, shape] of Object.entries(expected)) assert.equal(shapeOf(result, name), shape);
  assert.equal(result.activations.size, 1 + graph.ops.length);
  assert.deepEqual(
    JSON.parse(JSON.stringify(result.graph)),
    graph,
    "the rebuilt graph equals the input",
  );
  assert.ok(Object.isFrozen(result.graph) && Object.isFrozen(result.graph.ops[0].attrs));
  assert.ok(Object.isFrozen(result.activations.get("c")!.shape));
  assert.equal(result.tensorsUsed.size, tensors.size);
});

Deno.test("validateGraph follows the window formula floor((in + pads - k) / s) + 1", () => {
  const cases: [number, Json, string][] = [
    [7, { kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1] }, "1x4x4x8"],
    [7, { kernel: [3, 3], stride: [2, 2], pads: [0, 0, 0, 0] }, "1x3x3x8"],
    [8, { kernel: [3, 3], stride: [2, 2], pads: [1, 0, 0, 1] }, "1x4x4x8"],
    [5, { kernel: [5, 1], stride: [1, 3], pads: [2, 2, 0, 0] }, "1x5x2x8"],
    [1, { kernel: [1, 1], stride: [8, 8], pads: [0, 0, 0, 0] }, "1x1x1x8"],
  ];
  for (const [size, window, shape] of cases) {
    const { graph, tensors } = convGraph([1, size, size, 65], { ...window, out_channels: 8 });
    assert.equal(shapeOf(validate(graph, tensors), "y"), `i32 ${shape}`, JSON.stringify(window));
  }
});

Deno.test("activationBytes counts packed words for bits and element bytes otherwise", () => {
  assert.equal(activationBytes({ dtype: "bits", shape: [2, 3, 3, 65] }), 2 * 9 * 2 * 8);
  assert.equal(activationBytes({ dtype: "u8", shape: [1, 2, 2, 3] }), 12);
  assert.equal(activationBytes({ dtype: "f32", shape: [1, 2, 2, 3] }), 48);
});

/** An edit of the fixture and the error it must cause. */
type Case = [string, (graph: Json, tensors: Map<string, Tensor>) => void, ModelErrorCode, RegExp];

const refusals: Case[] = [
  [
    "an unknown op",
    (g) => op(g, "prob").op = "softmax3d",
    "unknown_op",
    /op 'prob' has unknown type "softmax3d"; known: binarize/,
  ],
  ["an op type that is not a string", (g) => op(g, "prob").op = 7, "unknown_op", /unknown type 7/],
  [
    "a dangling activation name",
    (g) => op(g, "prob").inputs = ["logitz"],
    "graph_invalid",
    /op 'prob' \(softmax\) reads activation 'logitz', which nothing defines/,
  ],
  [
    "an activation used before it is defined",
    (g) => op(g, "pool").inputs = ["c"],
    "graph_invalid",
    /reads activation 'c' before it is defined/,
  ],
  [
    "an activation defined twice",
    (g) => op(g, "sig").outputs = ["probs"],
    "graph_invalid",
    /activation 'probs' is defined twice: by op 'prob' and by op 'sig'/,
  ],
  [
    "an activation nobody uses",
    (g) => g.outputs.pop(),
    "graph_invalid",
    /activation 'hr' \(defined by op 'd2s'\) is never used/,
  ],
  [
    "a graph input nobody uses",
    (g) => g.inputs.push({ name: "extra", dtype: "u8", shape: [1, 1, 1, 1] }),
    "graph_invalid",
    /activation 'extra' \(defined by graph input\) is never used/,
  ],
  [
    "a graph output that nothing defines",
    (g) => g.outputs.push("nothing"),
    "graph_invalid",
    /the graph outputs reads activation 'nothing', which nothing defines/,
  ],
  [
    "a graph output listed twice",
    (g) => g.outputs.push("probs"),
    "graph_invalid",
    /graph output 'probs' is listed twice/,
  ],
  [
    "an op name used twice",
    (g) => op(g, "sig").name = "prob",
    "graph_invalid",
    /op name 'prob' is used twice/,
  ],
  [
    "an op with two outputs",
    (g) => op(g, "prob").outputs = ["probs", "p2"],
    "graph_invalid",
    /has 2 outputs; every op has exactly 1/,
  ],
  [
    "an op without inputs",
    (g) => op(g, "prob").inputs = [],
    "graph_invalid",
    /inputs has 0 entries, needs 1/,
  ],
  [
    "an unknown op key",
    (g) => op(g, "prob").attr = {},
    "graph_invalid",
    /op 10 has unknown key 'attr'/,
  ],
  [
    "an op without params",
    (g) => delete op(g, "prob").params,
    "graph_invalid",
    /op 10 has no 'params'/,
  ],
  [
    "an unknown graph key",
    (g) => g.version = 2,
    "graph_invalid",
    /graph has unknown key 'version'/,
  ],
  ["an empty op list", (g) => g.ops = [], "graph_invalid", /graph ops has 0 entries, needs 1/],
  [
    "an empty name",
    (g) => op(g, "prob").outputs = [""],
    "graph_invalid",
    /expected a name of 1 to 256 characters/,
  ],
  [
    "an unused tensor",
    (_, t) => t.set("spare", { dtype: "U8", shape: [1], data: new Uint8Array(1) }),
    "param_invalid",
    /tensor 'spare' is not used by any op/,
  ],
  [
    "a missing param",
    (g) => delete op(g, "sr").params.weights,
    "param_invalid",
    /op 'sr' \(bconv2d\) needs param 'weights' \(U64 \[12,3,3,1\]\)/,
  ],
  [
    "a param naming a tensor the file lacks",
    (g) => op(g, "sr").params.weights = "sr.w",
    "param_invalid",
    /param 'weights' names tensor 'sr.w', which the file does not hold/,
  ],
  [
    "an unknown param",
    (g) => op(g, "sr").params.extra = "stem.w",
    "param_invalid",
    /op 'sr' \(bconv2d\) has unknown param 'extra'/,
  ],
  [
    "a param of the wrong dtype",
    (g) => op(g, "cb").params.thresholds = "join2.mul",
    "param_invalid",
    /tensor 'join2.mul' \(param 'thresholds' of op 'cb' \(codebook_conv2d\)\) is F32, expected I32/,
  ],
  [
    "a param of the wrong shape",
    (g) => Object.assign(op(g, "join2").attrs, { kernel: [1, 1], pads: [0, 0, 0, 0] }),
    "param_invalid",
    /param 'weights' of op 'join2'.* has shape \[65,3,3,2\], expected \[65,1,1,2\]/,
  ],
  [
    "weights with tail bits set",
    (g, t) => {
      const name = op(g, "join2").params.weights;
      const weights = t.get(name)!;
      const data = (weights.data as BigUint64Array).slice();
      data[2 * 9 + 1] |= 1n << 1n; // row 9, second word: bit 65 is past 65 channels
      t.set(name, { ...weights, data });
    },
    "param_invalid",
    /has bits set past input channel 65 in row 9/,
  ],
  [
    "flips other than 0 or 1",
    (g, t) =>
      t.set(op(g, "join1").params.flips, {
        dtype: "I32",
        shape: [65],
        data: new Int32Array(65).fill(2),
      }),
    "param_invalid",
    /holds 2 at index 0, expected 0 or 1/,
  ],
  [
    "a non-finite scale",
    (g, t) => {
      const mul = new Float32Array(10);
      mul[3] = NaN;
      t.set(op(g, "fc").params.mul, { dtype: "F32", shape: [10], data: mul });
    },
    "param_invalid",
    /'fc.mul' .* holds NaN at index 3, expected a finite number/,
  ],
  [
    "a codeword wider than the kernel",
    (_, t) =>
      t.set("cb.codebook", { dtype: "U16", shape: [16], data: new Uint16Array(16).fill(512) }),
    "param_invalid",
    /holds 512 at index 0, expected a 9-bit codeword/,
  ],
  [
    "codebook indices one byte each instead of packed",
    (_, t) =>
      t.set("cb.indices", { dtype: "U8", shape: [32, 65], data: new Uint8Array(32 * 65).fill(1) }),
    "param_invalid",
    /tensor 'cb.indices' \(param 'indices' of op 'cb' \(codebook_conv2d\)\) has shape \[32,65\], expected \[1040\]/,
  ],
  [
    "u8 into a binary conv",
    (g) => op(g, "sr").inputs = ["stem"],
    "shape_mismatch",
    /op 'sr' \(bconv2d\) input 'stem' is u8, expected bits/,
  ],
  [
    "a concat of different heights",
    (g) => op(g, "cat").inputs = ["cu", "x1"],
    "shape_mismatch",
    /input 'x1' has shape \[1,4,4,16\], input 'cu' has \[1,8,8,32\]/,
  ],
  [
    "a concat of different dtypes",
    (g) => op(g, "cat").inputs = ["cu", "stem"],
    "shape_mismatch",
    /input 'stem' is u8, expected bits/,
  ],
  [
    "a join residual of another shape",
    (g) => op(g, "join2").attrs.stride = [2, 2],
    "shape_mismatch",
    /residual 'r' has shape \[1,4,4,65\], the output has \[1,2,2,65\]/,
  ],
  [
    "a join without its residual",
    (g) => op(g, "join2").inputs = ["j1"],
    "graph_invalid",
    /has 1 inputs, expected 2 \(the input and the i8 residual\)/,
  ],
  [
    "bdense over a spatial input",
    (g) => op(g, "fc").inputs = ["c"],
    "shape_mismatch",
    /input 'c' has shape \[1,4,4,32\], expected height and width 1/,
  ],
  [
    "depth_to_space of a channel count not divisible",
    (g) => op(g, "d2s").attrs.block = 4,
    "shape_mismatch",
    /has 12 channels, not a multiple of block² = 16/,
  ],
  [
    "a kernel larger than the padded input",
    (g) => Object.assign(op(g, "gpool").attrs, { kernel: [5, 5] }),
    "shape_mismatch",
    /has kernel \[5,5\] larger than its padded input 4x4/,
  ],
  [
    "a pad as large as the kernel",
    (g) => op(g, "sr").attrs.pads = [3, 1, 1, 1],
    "graph_invalid",
    /pads \[3,1,1,1\] must each be below the kernel size \[3,3\]/,
  ],
  [
    "a missing attribute",
    (g) => delete op(g, "sr").attrs.pad_value,
    "graph_invalid",
    /op 'sr' \(bconv2d\) has no attribute 'pad_value'/,
  ],
  [
    "an unknown attribute",
    (g) => op(g, "sr").attrs.dilation = [1, 1],
    "graph_invalid",
    /has unknown attribute 'dilation'/,
  ],
  [
    "qmin on a transform that does not clamp",
    (g) => op(g, "sr").attrs.qmin = -8,
    "graph_invalid",
    /has unknown attribute 'qmin'/,
  ],
  [
    "qmax below qmin",
    (g) => op(g, "join1").attrs.qmax = -9,
    "graph_invalid",
    /attribute 'qmax' is -9, expected an integer -8..127/,
  ],
  [
    "an unknown transform",
    (g) => op(g, "sr").attrs.transform = "int4",
    "graph_invalid",
    /attribute 'transform' is "int4", expected one of binary, int32, float, int8, join/,
  ],
  [
    "a fractional stride",
    (g) => op(g, "sr").attrs.stride = [1.5, 1],
    "graph_invalid",
    /attribute 'stride' is \[1.5,1\], expected 2 integers 1..8/,
  ],
  [
    "a non-positive quantize scale",
    (g) => op(g, "q").attrs.scale = 0,
    "graph_invalid",
    /attribute 'scale' is 0, expected a finite number > 0/,
  ],
  [
    "a y_zero_point on an f32 qconv2d",
    (g) => op(g, "head").attrs.y_zero_point = 3,
    "graph_invalid",
    /has unknown attribute 'y_zero_point'/,
  ],
  [
    "bilinear upsampling of bits",
    (g) => op(g, "segup").inputs = ["m"],
    "shape_mismatch",
    /input 'm' is bits, expected f32/,
  ],
  [
    "a kernel beyond the limit",
    (g) => op(g, "sr").attrs.kernel = [31, 3],
    "limit_exceeded",
    /attribute 'kernel' is \[31,3\], max 15 each/,
  ],
  [
    "a stride beyond the limit",
    (g) => op(g, "sr").attrs.stride = [9, 1],
    "limit_exceeded",
    /max 8 each/,
  ],
  [
    "out_channels beyond the limit",
    (g) => op(g, "sr").attrs.out_channels = 20000,
    "limit_exceeded",
    /attribute 'out_channels' is 20000, max 16384/,
  ],
  [
    "tau beyond the limit",
    (g) => op(g, "cb").attrs.tau = 9,
    "limit_exceeded",
    /attribute 'tau' is 9, max 8/,
  ],
  [
    "an absurd input shape",
    (g) => g.inputs[0].shape = [1, 100000, 100000, 3],
    "limit_exceeded",
    /activation 'image' \(graph input\) has height 100000, max 16384/,
  ],
  [
    "an absurd batch",
    (g) => g.inputs[0].shape = [5000, 8, 8, 3],
    "limit_exceeded",
    /has batch 5000, max 4096/,
  ],
  [
    "a zero dimension",
    (g) => g.inputs[0].shape = [1, 0, 8, 3],
    "shape_mismatch",
    /has height 0, must be at least 1/,
  ],
  [
    "an input shape that is not NHWC",
    (g) => g.inputs[0].shape = [8, 8, 3],
    "graph_invalid",
    /graph input 'image' has shape \[8,8,3\], expected \[batch, height, width, channels\]/,
  ],
  [
    "an unknown activation dtype",
    (g) => g.inputs[0].dtype = "f16",
    "graph_invalid",
    /dtype "f16", expected one of bits, u8, i8, i32, f32/,
  ],
];

for (const [what, edit, code, pattern] of refusals) {
  Deno.test(`validateGraph refuses ${what}`, () => {
    const { graph, tensors } = fixture();
    edit(graph, tensors);
    assert.throws(() => validate(graph, tensors), (error) => {
      rejects(code, pattern)(error);
      assert.match((error as ModelError).message, /^Cannot load model 'g.onebit': /);
      return true;
    });
  });
}

/** A one-op graph: bits [1, 1, 2, 1] → codebook_conv2d 1x2, tau 3, 3 outputs → int32. */
function codebookGraph(indices: Uint8Array): { graph: Json; tensors: Map<string, Tensor> } {
  const tensors = new Map<string, Tensor>([
    ["cb", { dtype: "U16", shape: [8], data: Uint16Array.of(0, 1, 2, 3, 0, 1, 2, 3) }],
    ["ix", { dtype: "U8", shape: [indices.length], data: indices }],
  ]);
  const graph = {
    inputs: [{ name: "x", dtype: "bits", shape: [1, 1, 2, 1] }],
    outputs: ["y"],
    ops: [{
      op: "codebook_conv2d",
      name: "c",
      inputs: ["x"],
      outputs: ["y"],
      attrs: {
        kernel: [1, 2],
        stride: [1, 1],
        pads: [0, 0, 0, 0],
        pad_value: "plus_one",
        out_channels: 3,
        transform: "int32",
        tau: 3,
      },
      params: { codebook: "cb", indices: "ix" },
    }],
  };
  return { graph, tensors };
}

Deno.test("validateGraph takes codebook indices packed at tau bits, exact length, zero tail", () => {
  // 3 indices of 3 bits (7, 0, 5): 9 bits in 2 bytes, 7 trailing bits that must be 0.
  // Stream (LSB first): 111 000 101 -> byte 0 = 0b01000111, byte 1 = 0b00000001.
  const good = codebookGraph(Uint8Array.of(0x47, 0x01));
  assert.equal(shapeOf(validate(good.graph, good.tensors), "y"), "i32 1x1x1x3");
  const cases: [string, Uint8Array, RegExp][] = [
    ["one byte short", Uint8Array.of(0x47), /has shape \[1\], expected \[2\]/],
    ["one byte long", Uint8Array.of(0x47, 0x01, 0), /has shape \[3\], expected \[2\]/],
    [
      "a trailing bit set",
      Uint8Array.of(0x47, 0x03),
      /'ix' \(param 'indices' of op 'c' \(codebook_conv2d\)\) has bits set past index 3 .*the 7 trailing bits must be 0/,
    ],
    ["the top trailing bit set", Uint8Array.of(0x47, 0x81), /bits set past index 3/],
  ];
  for (const [what, indices, pattern] of cases) {
    const { graph, tensors } = codebookGraph(indices);
    assert.throws(() => validate(graph, tensors), rejects("param_invalid", pattern), what);
  }
  // The pre-packing layout, U8 [O, C], is refused by its shape.
  const old = codebookGraph(Uint8Array.of(7, 0, 5));
  old.tensors.set("ix", { dtype: "U8", shape: [3, 1], data: Uint8Array.of(7, 0, 5) });
  assert.throws(
    () => validate(old.graph, old.tensors),
    rejects("param_invalid", /has shape \[3,1\], expected \[2\]/),
  );
});

Deno.test("validateGraph refuses an activation over the ABI's 4 GiB buffer bound", () => {
  const graph = {
    inputs: [{ name: "x", dtype: "f32", shape: [1, 16384, 16384, 8] }],
    outputs: ["y"],
    ops: [{ op: "sigmoid", name: "s", inputs: ["x"], outputs: ["y"], attrs: {}, params: {} }],
  };
  assert.throws(
    () => validate(graph, new Map()),
    rejects(
      "limit_exceeded",
      new RegExp(`is 8589934592 bytes, max ${GRAPH_LIMITS.activationBytesMax}`),
    ),
  );
});

Deno.test("validateGraph refuses an upsample past the spatial limit", () => {
  const graph = {
    inputs: [{ name: "x", dtype: "bits", shape: [1, 4096, 4, 8] }],
    outputs: ["y"],
    ops: [{
      op: "upsample_nearest",
      name: "up",
      inputs: ["x"],
      outputs: ["y"],
      attrs: { scale: [8, 1] },
      params: {},
    }],
  };
  assert.throws(
    () => validate(graph, new Map()),
    rejects("limit_exceeded", /activation 'y' \(op 'up'\) has height 32768, max 16384/),
  );
});

Deno.test("validateGraph refuses values that are not a graph", () => {
  for (const value of [null, [], "graph", 3]) {
    assert.throws(
      () => validate(value, new Map()),
      rejects("graph_invalid", /graph is .*, not an object/),
    );
  }
});

Deno.test("parseGraph refuses malformed JSON and duplicate keys", () => {
  const { graph, tensors } = fixture();
  const text = JSON.stringify(graph);
  assert.equal(parseGraph(text, tensors).activations.size, 1 + graph.ops.length);
  assert.throws(
    () => parseGraph(text.slice(0, -1), tensors),
    rejects("graph_invalid", /graph is not valid JSON/),
  );
  const doubled = text.replace('"outputs":["probs"', '"outputs":["probs"],"outputs":["probs"');
  assert.throws(
    () => parseGraph(doubled, tensors),
    rejects("graph_invalid", /names key "outputs" twice/),
  );
});

Deno.test("validateGraph accepts its own output again", () => {
  const { graph, tensors } = fixture();
  const once = validate(graph, tensors);
  const twice = validate(once.graph, tensors);
  assert.deepEqual(twice.graph, once.graph);
  assert.deepEqual([...twice.activations], [...once.activations]);
});
