import assert from "node:assert/strict";
import { ModelError, type ModelErrorCode } from "./errors.ts";
import type { Graph } from "./graph.ts";
import {
  loadModel,
  type Model,
  MODEL_LIMITS,
  modelChecksum,
  readModel,
  writeModel,
} from "./model_file.ts";
import { type DType, DTYPE_BYTES, type Tensor } from "./safetensors.ts";
import {
  everyOpModel,
  type Fixture,
  randomInt,
  rawModelBytes,
  seededRandom,
} from "./test_fixtures.ts";

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

function fixture(seed = 11): Fixture & { bytes: Uint8Array } {
  const { graph, tensors } = everyOpModel(seed);
  const bytes = writeModel(graph, tensors, {
    name: "every-op",
    task: "test",
    producer: "model_file_test",
  });
  return { graph, tensors, bytes };
}

/** Byte offset of the data section of a file. */
function dataStart(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}

function headerOf(bytes: Uint8Array): Json {
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, dataStart(bytes))));
}

/** The file with its header replaced by `header` (JSON text padded to 8), same data. */
function withHeader(bytes: Uint8Array, header: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const data = bytes.subarray(dataStart(bytes));
  const file = new Uint8Array(8 + padded + data.length).fill(0x20, 8, 8 + padded);
  new DataView(file.buffer).setBigUint64(0, BigInt(padded), true);
  file.set(json, 8);
  file.set(data, 8 + padded);
  return file;
}

function load(bytes: Uint8Array): Model {
  return loadModel(bytes, { name: "every.onebit" });
}

function assertSameTensors(
  actual: ReadonlyMap<string, Tensor>,
  expected: ReadonlyMap<string, Tensor>,
) {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [name, tensor] of expected) {
    const read = actual.get(name)!;
    assert.equal(read.dtype, tensor.dtype, name);
    assert.deepEqual(read.shape, tensor.shape, name);
    assert.deepEqual(read.data, tensor.data, name);
    assert.equal(read.data.byteOffset % DTYPE_BYTES[read.dtype], 0, `${name} is aligned`);
  }
}

Deno.test("writeModel then loadModel gives identical tensors, graph and metadata", () => {
  const { graph, tensors, bytes } = fixture();
  const model = load(bytes);
  assertSameTensors(model.tensors, tensors);
  assert.deepEqual(JSON.parse(JSON.stringify(model.graph)), JSON.parse(JSON.stringify(graph)));
  assert.equal(model.file, "every.onebit");
  assert.equal(model.name, "every-op");
  assert.equal(model.task, "test");
  assert.equal(model.producer, "model_file_test");
  assert.equal(model.formatVersion, "1");
  assert.equal(model.metadata.format, "onebit");
  assert.equal(model.checksum, modelChecksum(tensors, model.metadata));
  assert.match(model.checksum, /^sha256:[0-9a-f]{64}$/);
  assert.equal(model.fileBytes, bytes.length);
  const paramBytes = [...tensors.values()].reduce((sum, tensor) => sum + tensor.data.byteLength, 0);
  assert.equal(model.paramBytes, paramBytes);
  assert.equal(model.activations.get("hr")?.shape.join("x"), "1x16x16x3");
});

Deno.test("writeModel is deterministic and independent of tensor insertion order", () => {
  const { graph, tensors, bytes } = fixture();
  const reversed = new Map([...tensors].reverse());
  assert.deepEqual(
    writeModel(graph, reversed, { name: "every-op", task: "test", producer: "model_file_test" }),
    bytes,
  );
});

Deno.test("a loaded model is immutable and independent of the input bytes", () => {
  const { bytes, tensors } = fixture();
  const model = load(bytes);
  assert.ok(Object.isFrozen(model));
  assert.ok(Object.isFrozen(model.graph) && Object.isFrozen(model.graph.ops[3].attrs));
  assert.ok(Object.isFrozen(model.metadata));
  assert.ok(Object.isFrozen(model.tensors) && Object.isFrozen(model.activations));
  assert.equal((model.tensors as unknown as { set?: unknown }).set, undefined);
  assert.throws(() => (model.graph.ops as unknown as unknown[]).push({}), TypeError);
  bytes.fill(0);
  assertSameTensors(model.tensors, tensors);
});

Deno.test("readModel reads a file and names it by its base name", async () => {
  const { bytes, tensors } = fixture();
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/detect.onebit`;
    await Deno.writeFile(path, bytes);
    const model = await readModel(path);
    assert.equal(model.file, "detect.onebit");
    assertSameTensors(model.tensors, tensors);
    await Deno.writeFile(path, bytes.subarray(0, 100));
    await assert.rejects(readModel(path), (error) => {
      rejects("truncated")(error);
      assert.match((error as Error).message, /^Cannot load model 'detect.onebit': /);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readModel refuses a missing file, a directory and an oversized file before reading", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      readModel(`${dir}/missing.onebit`),
      rejects("io_failed", /'missing.onebit': cannot read/),
    );
    await assert.rejects(readModel(dir), rejects("io_failed", /is not a file/));
    // A sparse file: the size check must come before reading it into memory.
    const huge = `${dir}/huge.onebit`;
    await Deno.writeFile(huge, new Uint8Array(0));
    await Deno.truncate(huge, MODEL_LIMITS.fileBytesMax + 1);
    await assert.rejects(readModel(huge), rejects("limit_exceeded", /file is \d+ bytes, max \d+/));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadModel refuses a truncated file", () => {
  const { bytes } = fixture();
  assert.throws(
    () => load(bytes.subarray(0, bytes.length - 10)),
    rejects(
      "truncated",
      /^Cannot load model 'every.onebit': tensor '.*' ends at data byte \d+, but the data section has only \d+ bytes$/,
    ),
  );
  assert.throws(
    () => load(bytes.subarray(0, 200)),
    rejects("truncated", /header length is \d+ bytes, but only 192 bytes follow it/),
  );
  assert.throws(() => load(bytes.subarray(0, 3)), rejects("truncated", /file is 3 bytes/));
});

Deno.test("loadModel refuses a flipped byte in the data as a checksum mismatch", () => {
  const { bytes } = fixture();
  const flipped = bytes.slice();
  flipped[dataStart(bytes) + 100] ^= 0x10;
  assert.throws(
    () => load(flipped),
    rejects(
      "checksum_mismatch",
      /checksum is sha256:[0-9a-f]{64}, but the contents hash to sha256:[0-9a-f]{64}/,
    ),
  );
});

Deno.test("loadModel refuses a flipped byte in the header as a header error", () => {
  const { bytes } = fixture();
  const brace = bytes.slice();
  brace[8] ^= 0x01;
  assert.throws(
    () => load(brace),
    rejects("header_invalid", /header starts with byte 0x7a, expected '\{'/),
  );
  const quote = bytes.slice();
  const text = new TextDecoder().decode(bytes.subarray(0, dataStart(bytes)));
  quote[text.indexOf('"data_offsets"')] ^= 0x01;
  assert.throws(() => load(quote), rejects("header_invalid", /header is not valid JSON/));
});

Deno.test("loadModel refuses a changed graph as a checksum mismatch", () => {
  const { bytes } = fixture();
  const header = headerOf(bytes);
  header.__metadata__.graph = header.__metadata__.graph.replace('"stride":[2,2]', '"stride":[1,1]');
  assert.throws(() => load(withHeader(bytes, header)), rejects("checksum_mismatch"));
});

Deno.test("loadModel refuses a wrong checksum", () => {
  const { graph, tensors } = fixture();
  const bytes = rawModelBytes(graph, tensors, { checksum: `sha256:${"0".repeat(64)}` });
  assert.throws(() => load(bytes), rejects("checksum_mismatch", /checksum is sha256:0{64}, but/));
});

Deno.test("loadModel refuses metadata that is not onebit version 1", () => {
  const { graph, tensors } = fixture();
  const cases: [Record<string, string>, RegExp][] = [
    [{ format: "pt" }, /format is 'pt', expected 'onebit'/],
    [{ format_version: "2" }, /format_version is '2', this runtime reads '1'/],
    [
      { checksum: "crc32:1234" },
      /checksum 'crc32:1234' is not 'sha256:' and 64 lowercase hex digits/,
    ],
    [{ checksum: `sha256:${"A".repeat(64)}` }, /is not 'sha256:' and 64 lowercase hex digits/],
  ];
  for (const [metadata, pattern] of cases) {
    assert.throws(
      () => load(rawModelBytes(graph, tensors, metadata)),
      rejects("format_invalid", pattern),
    );
  }
  for (const key of ["format", "format_version", "graph", "checksum"]) {
    const bytes = rawModelBytes(graph, tensors);
    const header = headerOf(bytes);
    delete header.__metadata__[key];
    assert.throws(
      () => load(withHeader(bytes, header)),
      rejects("format_invalid", new RegExp(`metadata has no '${key}'`)),
    );
  }
  const plain = withHeader(
    rawModelBytes(graph, tensors),
    (() => {
      const header = headerOf(rawModelBytes(graph, tensors));
      delete header.__metadata__;
      return header;
    })(),
  );
  assert.throws(
    () => load(plain),
    rejects("format_invalid", /metadata has no 'format'; not a onebit model/),
  );
});

Deno.test("loadModel refuses an unknown op", () => {
  const { graph, tensors } = fixture();
  const edited = structuredClone(graph) as Json;
  edited.ops[2].op = "conv3d";
  assert.throws(
    () => load(rawModelBytes(edited, tensors)),
    rejects("unknown_op", /op 'pool' has unknown type "conv3d"/),
  );
});

Deno.test("loadModel refuses a dangling tensor name and a dangling activation name", () => {
  const { graph, tensors } = fixture();
  const tensorName = structuredClone(graph) as Json;
  tensorName.ops[0].params.bias = "stem.bias";
  assert.throws(
    () => load(rawModelBytes(tensorName, tensors)),
    rejects(
      "param_invalid",
      /op 'stem' \(qconv2d\) param 'bias' names tensor 'stem.bias', which the file does not hold/,
    ),
  );
  const activation = structuredClone(graph) as Json;
  activation.ops[2].inputs = ["x9"];
  assert.throws(
    () => load(rawModelBytes(activation, tensors)),
    rejects("graph_invalid", /reads activation 'x9', which nothing defines/),
  );
});

Deno.test("loadModel refuses inconsistent shapes", () => {
  const { graph, tensors } = fixture();
  const edited = structuredClone(graph) as Json;
  edited.inputs[0].shape = [1, 6, 6, 3];
  assert.throws(
    () => load(rawModelBytes(edited, tensors)),
    rejects(
      "shape_mismatch",
      /op 'gpool' \(maxpool\) has kernel \[4,4\] larger than its padded input 3x3/,
    ),
  );
});

Deno.test("loadModel refuses a param tensor of the wrong dtype", () => {
  const { graph, tensors } = fixture();
  const edited = new Map(tensors);
  const weights = tensors.get("stem.w")!;
  edited.set("stem.w", {
    dtype: "U8",
    shape: weights.shape,
    data: new Uint8Array(weights.data.length),
  });
  assert.throws(
    () => load(rawModelBytes(graph, edited)),
    rejects(
      "param_invalid",
      /tensor 'stem.w' \(param 'weights' of op 'stem' \(qconv2d\)\) is U8, expected I8/,
    ),
  );
});

Deno.test("loadModel refuses a tensor whose bytes do not match its shape", () => {
  const { bytes } = fixture();
  const header = headerOf(bytes);
  const [name, entry] = Object.entries(header).find(([key]) => key !== "__metadata__") as [
    string,
    Json,
  ];
  entry.shape = [...entry.shape.slice(0, -1), entry.shape.at(-1) + 1];
  assert.throws(
    () => load(withHeader(bytes, header)),
    rejects("tensor_invalid", new RegExp(`tensor '${name}' is \\d+ bytes, expected \\d+`)),
  );
});

Deno.test("loadModel refuses an absurd header length", () => {
  const { bytes } = fixture();
  const edited = bytes.slice();
  new DataView(edited.buffer).setBigUint64(0, 0xffff_ffff_ffff_fff0n, true);
  assert.throws(
    () => load(edited),
    rejects("limit_exceeded", /header length is 18446744073709551600 bytes, max 100000000/),
  );
});

Deno.test("loadModel refuses absurd shapes", () => {
  const { graph, tensors, bytes } = fixture();
  const edited = structuredClone(graph) as Json;
  edited.inputs[0].shape = [1, 1_000_000, 1_000_000, 3];
  assert.throws(
    () => load(rawModelBytes(edited, tensors)),
    rejects("limit_exceeded", /activation 'image' \(graph input\) has height 1000000, max 16384/),
  );
  const header = headerOf(bytes);
  const entry = Object.entries(header).find(([key]) => key !== "__metadata__")![1] as Json;
  entry.shape = [2 ** 40, 2 ** 40];
  assert.throws(
    () => load(withHeader(bytes, header)),
    rejects("limit_exceeded", /more than 68719476736 elements/),
  );
});

Deno.test("writeModel refuses an invalid model with the loader's code", () => {
  const { graph, tensors } = fixture();
  const edited = structuredClone(graph) as Json;
  edited.ops[1].params.thresholds = "missing";
  assert.throws(() => writeModel(edited as Graph, tensors, { file: "out.onebit" }), (error) => {
    rejects(
      "param_invalid",
      /^Cannot write model 'out.onebit': op 'bin' \(binarize\) param 'thresholds' names tensor 'missing'/,
    )(error);
    return true;
  });
  const wrongArray = new Map(tensors);
  wrongArray.set("stem.b", {
    dtype: "I32",
    shape: [16],
    data: new Float32Array(16) as unknown as Int32Array,
  });
  assert.throws(
    () => writeModel(graph, wrongArray),
    rejects("tensor_invalid", /holds a Float32Array, I32 needs an Int32Array/),
  );
});

// ---- fuzz: mutated files either load a valid model or throw a ModelError ----

const POOL: unknown[] = [
  0,
  -1,
  1,
  2,
  3,
  65,
  1.5,
  2 ** 31,
  2 ** 53,
  -(2 ** 40),
  1e300,
  "",
  "x",
  "bits",
  "U64",
  "plus_one",
  "join",
  null,
  true,
  false,
  [],
  {},
  [1, 1],
  [0, 0, 0, 0],
  [1, 8, 8, 3],
];

/** Every path into a JSON value (bounded), for picking a node to mutate. */
function paths(
  value: Json,
  prefix: (string | number)[] = [],
  into: (string | number)[][] = [],
): (string | number)[][] {
  into.push(prefix);
  if (into.length > 5000 || typeof value !== "object" || value === null) return into;
  for (const key of Object.keys(value)) {
    paths(value[key], [...prefix, Array.isArray(value) ? Number(key) : key], into);
  }
  return into;
}

/** Replaces, deletes or duplicates one random node of a JSON value (never the root). */
function mutateJson(root: Json, random: () => number, names: string[]): Json {
  const all = paths(root).filter((path) => path.length > 0);
  const path = all[randomInt(random, 0, all.length - 1)];
  let parent = root;
  for (const key of path.slice(0, -1)) parent = parent[key];
  const key = path.at(-1)!;
  const action = randomInt(random, 0, 4);
  if (action === 0 && !Array.isArray(parent)) delete parent[key];
  else if (action === 0) parent.splice(key as number, 1);
  else if (action === 1 && Array.isArray(parent)) {
    parent.push(structuredClone(parent[key as number]));
  } else if (action === 2) parent[key] = names[randomInt(random, 0, names.length - 1)];
  else if (action === 3 && typeof parent[key] === "number") parent[key] += randomInt(random, -2, 2);
  else parent[key] = structuredClone(POOL[randomInt(random, 0, POOL.length - 1)]);
  return root;
}

type Mutation = { kind: string; bytes: Uint8Array; dataOnly?: boolean };

function mutate(base: Fixture & { bytes: Uint8Array }, random: () => number): Mutation {
  const { bytes } = base;
  const start = dataStart(bytes);
  const kind = randomInt(random, 0, 8);
  const at = (max: number) => randomInt(random, 0, max);
  switch (kind) {
    case 0: { // random byte flips anywhere
      const out = bytes.slice();
      const count = randomInt(random, 1, 4);
      let dataOnly = true;
      for (let index = 0; index < count; index++) {
        const position = at(out.length - 1);
        out[position] ^= randomInt(random, 1, 255);
        dataOnly &&= position >= start;
      }
      return { kind: "flip", bytes: out, dataOnly };
    }
    case 1:
      return { kind: "truncate", bytes: bytes.slice(0, at(bytes.length - 1)) };
    case 2: { // insert random bytes
      const position = at(bytes.length);
      const extra = Uint8Array.from({ length: randomInt(random, 1, 16) }, () => at(255));
      const out = new Uint8Array(bytes.length + extra.length);
      out.set(bytes.subarray(0, position));
      out.set(extra, position);
      out.set(bytes.subarray(position), position + extra.length);
      return { kind: "insert", bytes: out };
    }
    case 3: { // delete a range
      const position = at(bytes.length - 1);
      const length = randomInt(random, 1, 16);
      const out = new Uint8Array([
        ...bytes.subarray(0, position),
        ...bytes.subarray(position + length),
      ]);
      return { kind: "delete", bytes: out };
    }
    case 4: { // header length field
      const out = bytes.slice();
      const view = new DataView(out.buffer);
      const choices = [
        0n,
        1n,
        BigInt(start - 8 + randomInt(random, -9, 9)),
        2n ** 64n - 1n,
        BigInt(at(2 ** 31)),
      ];
      view.setBigUint64(0, choices[at(choices.length - 1)], true);
      return { kind: "length", bytes: out };
    }
    case 5: { // header JSON: tensor entries and metadata, same data, stale checksum
      const header = headerOf(bytes);
      return {
        kind: "header",
        bytes: withHeader(bytes, mutateJson(header, random, Object.keys(header))),
      };
    }
    case 6:
    case 7: { // the graph, with a correct checksum so graph validation runs
      const graph = mutateJson(structuredClone(base.graph), random, [
        ...base.tensors.keys(),
        "x0",
        "c",
        "image",
      ]);
      return { kind: "graph", bytes: rawModelBytes(graph, base.tensors) };
    }
    default: { // tensor values, with a correct checksum so value checks run
      const tensors = new Map(base.tensors);
      const names = [...tensors.keys()];
      const name = names[at(names.length - 1)];
      const tensor = tensors.get(name)!;
      const raw = new Uint8Array(tensor.data.byteLength);
      raw.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
      raw[at(raw.length - 1)] ^= 1 << at(7);
      const arrays: Record<DType, new (buffer: ArrayBuffer) => Tensor["data"]> = {
        U8: Uint8Array,
        I8: Int8Array,
        U16: Uint16Array,
        I16: Int16Array,
        U32: Uint32Array,
        I32: Int32Array,
        U64: BigUint64Array,
        I64: BigInt64Array,
        F32: Float32Array,
        F64: Float64Array,
      };
      tensors.set(name, { ...tensor, data: new arrays[tensor.dtype](raw.buffer) });
      return { kind: "values", bytes: rawModelBytes(base.graph, tensors) };
    }
  }
}

const SEED_ENV = "ONEBIT_FUZZ_SEED";

/** The seed from ONEBIT_FUZZ_SEED when it is set (and readable), else a random one. */
function fuzzSeed(): number {
  const granted =
    Deno.permissions.querySync({ name: "env", variable: SEED_ENV }).state === "granted";
  const given = granted ? Deno.env.get(SEED_ENV) : undefined;
  return given === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(given) >>> 0;
}

Deno.test("loadModel survives 3000 mutated files: each loads a valid model or throws ModelError", () => {
  const seed = fuzzSeed();
  console.log(`fuzz seed ${seed} (replay with ${SEED_ENV}=${seed})`);
  const random = seededRandom(seed);
  const base = fixture();
  const outcomes = new Map<string, number>();
  for (let iteration = 0; iteration < 3000; iteration++) {
    const mutation = mutate(base, random);
    let outcome: string;
    try {
      const model = load(mutation.bytes);
      // A model that loads must be fully valid: writing it again passes the same checks.
      writeModel(model.graph, model.tensors);
      outcome = "loaded";
    } catch (error) {
      if (!(error instanceof ModelError)) {
        throw new Error(`iteration ${iteration} (${mutation.kind}, seed ${seed}) threw ${error}`, {
          cause: error,
        });
      }
      outcome = error.code;
    }
    if (mutation.kind === "truncate") {
      assert.equal(outcome, "truncated", `iteration ${iteration}, seed ${seed}`);
    }
    if (mutation.dataOnly) {
      assert.equal(outcome, "checksum_mismatch", `iteration ${iteration}, seed ${seed}`);
    }
    const key = `${mutation.kind} ${outcome}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  console.log(Object.fromEntries([...outcomes].sort()));
  const reached = (code: string) =>
    [...outcomes].some(([key, count]) => key.endsWith(` ${code}`) && count > 0);
  for (
    const code of [
      "checksum_mismatch",
      "header_invalid",
      "tensor_invalid",
      "truncated",
      "graph_invalid",
      "param_invalid",
      "shape_mismatch",
    ]
  ) {
    assert.ok(reached(code), `the fuzz reached ${code}`);
  }
});

// ---- interop with Python's safetensors ----

const PYTHON_ENV = "ONEBIT_PYTHON";

/** A Python with safetensors and numpy, or why the interop test cannot run. */
function findPython(): { python: string } | { reason: string } {
  for (const name of ["run", "read", "write"] as const) {
    if (Deno.permissions.querySync({ name }).state !== "granted") {
      return { reason: `no --allow-${name} permission` };
    }
  }
  const envGranted =
    Deno.permissions.querySync({ name: "env", variable: PYTHON_ENV }).state === "granted";
  const python = (envGranted ? Deno.env.get(PYTHON_ENV) : undefined) ?? "python3";
  try {
    const result = new Deno.Command(python, {
      args: ["-c", "import safetensors, numpy"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    if (result.success) return { python };
    return {
      reason: `${python} cannot import safetensors and numpy (not installed globally on purpose; ` +
        `the training issue adds a venv: set ${PYTHON_ENV} to its python)`,
    };
  } catch (error) {
    return { reason: `${python} cannot be run: ${(error as Error).message}` };
  }
}

const PY_COMMON = `
import hashlib, json, struct, sys
import numpy as np
NP = {"U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16, "U32": np.uint32,
      "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F32": np.float32, "F64": np.float64}
NAMES = {np.dtype(v): k for k, v in NP.items()}
def checksum(tensors, metadata):
    def item(h, b):
        h.update(struct.pack("<Q", len(b)))
        h.update(b)
    h = hashlib.sha256()
    for name in sorted(tensors):
        a = tensors[name]
        item(h, name.encode()); item(h, NAMES[a.dtype].encode())
        item(h, struct.pack(f"<{a.ndim}Q", *a.shape)); item(h, a.tobytes())
    for key in ("format", "format_version", "graph", "name", "task", "producer"):
        item(h, metadata.get(key, "").encode())
    return "sha256:" + h.hexdigest()
`;

const PY_WRITE = PY_COMMON + `
from safetensors.numpy import save_file
spec = json.load(sys.stdin)
tensors = {}
for name, t in spec["tensors"].items():
    values = [int(v) for v in t["values"]] if t["dtype"] in ("U64", "I64") else t["values"]
    tensors[name] = np.array(values, dtype=NP[t["dtype"]]).reshape(t["shape"])
metadata = {"format": "onebit", "format_version": "1", "graph": spec["graph"],
            "name": "from-python", "task": "test", "producer": "python safetensors"}
metadata["checksum"] = checksum(tensors, metadata)
save_file(tensors, spec["path"], metadata=metadata)
`;

const PY_READ = PY_COMMON + `
from safetensors import safe_open
from safetensors.numpy import load_file
path = sys.argv[1]
with safe_open(path, framework="np") as f:
    metadata = f.metadata()
tensors = load_file(path)
out = {"metadata": metadata, "checksum": checksum(tensors, metadata), "tensors": {}}
for name, a in tensors.items():
    values = [str(v) for v in a.reshape(-1).tolist()] if a.dtype.itemsize == 8 and a.dtype.kind in "iu" else a.reshape(-1).tolist()
    out["tensors"][name] = {"dtype": NAMES[a.dtype], "shape": list(a.shape), "values": values}
print(json.dumps(out))
`;

function valuesOf(tensor: Tensor): unknown[] {
  return Array.from(
    tensor.data as ArrayLike<number | bigint>,
    (value) => typeof value === "bigint" ? String(value) : value,
  );
}

const python = findPython();
if ("reason" in python) console.log(`Python safetensors interop skipped: ${python.reason}`);

Deno.test({
  name: "model files round trip through Python's safetensors in both directions",
  ignore: "reason" in python,
  fn: async () => {
    const command = (python as { python: string }).python;
    const { graph, tensors, bytes } = fixture();
    const dir = await Deno.makeTempDir();
    try {
      // Python writes with its own writer and our checksum recipe; we load it.
      const spec = {
        path: `${dir}/from_python.onebit`,
        graph: JSON.stringify(graph),
        tensors: Object.fromEntries(
          [...tensors].map((
            [name, t],
          ) => [name, { dtype: t.dtype, shape: t.shape, values: valuesOf(t) }]),
        ),
      };
      const writer = new Deno.Command(command, {
        args: ["-c", PY_WRITE],
        stdin: "piped",
        stderr: "piped",
      }).spawn();
      const stdin = writer.stdin.getWriter();
      await stdin.write(new TextEncoder().encode(JSON.stringify(spec)));
      await stdin.close();
      const written = await writer.output();
      assert.ok(written.success, new TextDecoder().decode(written.stderr));
      const model = await readModel(spec.path);
      assertSameTensors(model.tensors, tensors);
      assert.equal(model.producer, "python safetensors");
      assert.deepEqual(JSON.parse(JSON.stringify(model.graph)), JSON.parse(JSON.stringify(graph)));

      // We write; Python reads with its own reader and recomputes our checksum.
      const path = `${dir}/from_deno.onebit`;
      await Deno.writeFile(path, bytes);
      const read = await new Deno.Command(command, {
        args: ["-c", PY_READ, path],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(read.success, new TextDecoder().decode(read.stderr));
      const result = JSON.parse(new TextDecoder().decode(read.stdout));
      const ours = load(bytes);
      assert.deepEqual(result.metadata, { ...ours.metadata });
      assert.equal(result.checksum, ours.checksum);
      assert.deepEqual(Object.keys(result.tensors).sort(), [...tensors.keys()].sort());
      for (const [name, tensor] of tensors) {
        const theirs = result.tensors[name];
        assert.equal(theirs.dtype, tensor.dtype, name);
        assert.deepEqual(theirs.shape, tensor.shape, name);
        assert.deepEqual(theirs.values, valuesOf(tensor), name);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
