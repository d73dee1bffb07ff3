import assert from "node:assert/strict";
import { ModelError, type ModelErrorCode } from "./errors.ts";
import {
  DTYPE_BYTES,
  duplicateJsonKey,
  parseSafetensors,
  SAFETENSORS_LIMITS,
  serializeSafetensors,
  type Tensor,
} from "./safetensors.ts";

function rejects(code: ModelErrorCode, pattern?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ModelError, `expected a ModelError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

/** A file from a header given as JSON text (or a value to stringify) and a data section. */
function fileOf(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const file = new Uint8Array(8 + json.length + data.length);
  new DataView(file.buffer).setBigUint64(0, BigInt(json.length), true);
  file.set(json, 8);
  file.set(data, 8 + json.length);
  return file;
}

function entry(dtype: string, shape: number[], begin: number, end: number) {
  return { dtype, shape, data_offsets: [begin, end] };
}

const everyDType: Record<string, Tensor> = {
  u8: { dtype: "U8", shape: [3], data: new Uint8Array([0, 7, 255]) },
  i8: { dtype: "I8", shape: [2], data: new Int8Array([-128, 127]) },
  u16: { dtype: "U16", shape: [1, 2], data: new Uint16Array([511, 65535]) },
  i16: { dtype: "I16", shape: [2], data: new Int16Array([-32768, 5]) },
  u32: { dtype: "U32", shape: [1], data: new Uint32Array([0xffff_ffff]) },
  i32: { dtype: "I32", shape: [2, 2], data: new Int32Array([1, -2, 3, -4]) },
  u64: { dtype: "U64", shape: [2, 1, 1, 1], data: new BigUint64Array([2n ** 64n - 1n, 1n]) },
  i64: { dtype: "I64", shape: [1], data: new BigInt64Array([-(2n ** 63n)]) },
  f32: { dtype: "F32", shape: [2], data: new Float32Array([1.5, -0]) },
  f64: { dtype: "F64", shape: [], data: new Float64Array([Math.PI]) },
  empty: { dtype: "I32", shape: [0, 3], data: new Int32Array(0) },
};

Deno.test("parseSafetensors reads back every dtype serializeSafetensors writes", () => {
  const bytes = serializeSafetensors(everyDType, { metadata: { format: "onebit", note: "é" } });
  const file = parseSafetensors(bytes);
  assert.deepEqual(file.metadata, { format: "onebit", note: "é" });
  assert.deepEqual([...file.tensors.keys()].sort(), Object.keys(everyDType).sort());
  for (const [name, tensor] of Object.entries(everyDType)) {
    const read = file.tensors.get(name)!;
    assert.equal(read.dtype, tensor.dtype, name);
    assert.deepEqual(read.shape, tensor.shape, name);
    assert.deepEqual(read.data, tensor.data, name);
    assert.equal(read.data.byteOffset % DTYPE_BYTES[read.dtype], 0, `${name} is aligned`);
  }
});

Deno.test("serializeSafetensors pads the header to 8 bytes and orders tensors by size", () => {
  const bytes = serializeSafetensors(everyDType, { metadata: { a: "b" } });
  const headerBytes = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(headerBytes % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerBytes)));
  const entries = Object.entries(header).filter(([name]) => name !== "__metadata__") as [
    string,
    { dtype: keyof typeof DTYPE_BYTES; data_offsets: [number, number] },
  ][];
  entries.sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let previousSize = 8;
  for (const [name, { dtype, data_offsets }] of entries) {
    assert.equal(data_offsets[0] % DTYPE_BYTES[dtype], 0, `${name} offset is aligned`);
    assert.ok(DTYPE_BYTES[dtype] <= previousSize, `${name} follows larger elements`);
    previousSize = DTYPE_BYTES[dtype];
  }
});

Deno.test("parseSafetensors copies misaligned tensors into aligned arrays", () => {
  // A U8 [3] first puts the U64 at data offset 3: legal safetensors, but misaligned.
  const data = new Uint8Array(3 + 16);
  data.set([9, 8, 7]);
  new DataView(data.buffer).setBigUint64(3, 0x0102030405060708n, true);
  new DataView(data.buffer).setBigUint64(11, 42n, true);
  const file = parseSafetensors(fileOf({
    b: entry("U8", [3], 0, 3),
    w: entry("U64", [2], 3, 19),
  }, data));
  const w = file.tensors.get("w")!;
  assert.equal(w.data.byteOffset % 8, 0);
  assert.deepEqual(w.data, new BigUint64Array([0x0102030405060708n, 42n]));
  assert.deepEqual(file.tensors.get("b")!.data, new Uint8Array([9, 8, 7]));
});

Deno.test("parseSafetensors owns its data: changing the input afterwards changes nothing", () => {
  const bytes = serializeSafetensors({
    t: { dtype: "I32", shape: [2], data: new Int32Array([5, 6]) },
  });
  const file = parseSafetensors(bytes);
  bytes.fill(0xff, bytes.length - 8);
  assert.deepEqual(file.tensors.get("t")!.data, new Int32Array([5, 6]));
  assert.ok(Object.isFrozen(file.tensors.get("t")));
});

Deno.test("parseSafetensors reads a file whose input is a misaligned view", () => {
  const bytes = serializeSafetensors({
    t: { dtype: "U64", shape: [1], data: new BigUint64Array([7n]) },
  });
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  const file = parseSafetensors(shifted.subarray(3));
  assert.deepEqual(file.tensors.get("t")!.data, new BigUint64Array([7n]));
});

Deno.test("parseSafetensors refuses a file shorter than the length field", () => {
  assert.throws(() => parseSafetensors(new Uint8Array(5), { name: "x.onebit" }), (error) => {
    rejects("truncated")(error);
    assert.equal(
      (error as ModelError).message,
      "Cannot load model 'x.onebit': file is 5 bytes, shorter than the 8-byte header length",
    );
    return true;
  });
});

Deno.test("parseSafetensors refuses an absurd header length before allocating", () => {
  const bytes = new Uint8Array(64);
  new DataView(bytes.buffer).setBigUint64(0, 2n ** 63n, true);
  assert.throws(
    () => parseSafetensors(bytes),
    rejects("limit_exceeded", /header length is \d+ bytes, max 100000000/),
  );
  new DataView(bytes.buffer).setBigUint64(0, BigInt(SAFETENSORS_LIMITS.headerBytesMax) + 1n, true);
  assert.throws(() => parseSafetensors(bytes), rejects("limit_exceeded"));
});

Deno.test("parseSafetensors refuses a header length beyond the file as truncated", () => {
  const bytes = fileOf({ t: entry("U8", [1], 0, 1) }, new Uint8Array(1));
  assert.throws(
    () => parseSafetensors(bytes.subarray(0, 20)),
    rejects("truncated", /header length is \d+ bytes, but only 12 bytes follow it/),
  );
});

Deno.test("parseSafetensors refuses a tensor past the end of the data as truncated", () => {
  const bytes = fileOf({ t: entry("U32", [4], 0, 16) }, new Uint8Array(16));
  assert.throws(
    () => parseSafetensors(bytes.subarray(0, bytes.length - 1)),
    rejects("truncated", /tensor 't' ends at data byte 16, but the data section has only 15 bytes/),
  );
});

Deno.test("parseSafetensors refuses malformed headers", () => {
  const cases: [string | Uint8Array, RegExp][] = [
    ['[{"a": 1}]', /header starts with byte 0x5b, expected '\{'/],
    ['{"a": ', /header is not valid JSON/],
    ['{"t": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}} x', /not valid JSON/],
    ['{"__metadata__": {"k": 1}}', /__metadata__ 'k' is a number/],
    ['{"__metadata__": [1]}', /__metadata__ is an array, not an object/],
    ['{"__metadata__": {}, "__metadata__": {}}', /names key "__metadata__" twice/],
    [new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), /not valid UTF-8/],
    ["{", /too short/],
  ];
  for (const [header, pattern] of cases) {
    const bytes = typeof header === "string" ? fileOf(header) : (() => {
      const file = new Uint8Array(8 + header.length);
      new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
      file.set(header, 8);
      return file;
    })();
    assert.throws(
      () => parseSafetensors(bytes),
      rejects("header_invalid", pattern),
      String(header),
    );
  }
});

Deno.test("parseSafetensors refuses bad tensor entries", () => {
  const data = new Uint8Array(8);
  const cases: [unknown, ModelErrorCode, RegExp][] = [
    [{ t: entry("BF16", [4], 0, 8) }, "tensor_invalid", /dtype "BF16", supported: U8, I8/],
    [{ t: entry("U8", [-8], 0, 8) }, "tensor_invalid", /dimensions must be integers >= 0/],
    [{ t: entry("U8", [2.5], 0, 8) }, "tensor_invalid", /dimensions must be integers/],
    [
      { t: entry("U8", [8], 0, 7), u: entry("U8", [1], 7, 8) },
      "tensor_invalid",
      /'t' is 7 bytes, expected 8 \(U8 \[8\]\)/,
    ],
    [{ t: entry("U8", [8], 4, 0) }, "tensor_invalid", /data_offsets \[4,0\]/],
    [{ t: { dtype: "U8", shape: [8] } }, "tensor_invalid", /has no 'data_offsets'/],
    [{ t: { ...entry("U8", [8], 0, 8), extra: 1 } }, "tensor_invalid", /unknown field 'extra'/],
    [{ t: 5 }, "tensor_invalid", /'t' is a number, not an object/],
    [
      { t: entry("U8", [4], 0, 4), u: entry("U8", [4], 2, 6), v: entry("U8", [2], 6, 8) },
      "tensor_invalid",
      /inside the previous tensor/,
    ],
    [
      { t: entry("U8", [4], 0, 4), u: entry("U8", [2], 6, 8) },
      "tensor_invalid",
      /leaving a gap after byte 4/,
    ],
    [
      { t: entry("U8", [4], 0, 4) },
      "tensor_invalid",
      /data section has 8 bytes, but the tensors cover only 4/,
    ],
    [
      { t: entry("U8", [1, 1, 1, 1, 1, 1, 1, 1, 8], 0, 8) },
      "limit_exceeded",
      /9 dimensions, max 8/,
    ],
    [
      { t: entry("U64", [2 ** 20, 2 ** 20, 2 ** 20], 0, 8) },
      "limit_exceeded",
      /more than 68719476736 elements/,
    ],
    [{ t: entry("U8", [1e300], 0, 8) }, "tensor_invalid", /dimensions must be integers/],
  ];
  for (const [header, code, pattern] of cases) {
    assert.throws(
      () => parseSafetensors(fileOf(header, data)),
      rejects(code, pattern),
      JSON.stringify(header),
    );
  }
});

Deno.test("parseSafetensors refuses a name given twice", () => {
  const header = '{"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, ' +
    '"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}';
  assert.throws(
    () => parseSafetensors(fileOf(header, new Uint8Array(1))),
    rejects("header_invalid", /"t" twice/),
  );
});

Deno.test("parseSafetensors refuses a data section over dataBytesMax", () => {
  const bytes = fileOf({ t: entry("U8", [16], 0, 16) }, new Uint8Array(16));
  assert.throws(
    () => parseSafetensors(bytes, { dataBytesMax: 15 }),
    rejects("limit_exceeded", /16 bytes, max 15/),
  );
});

Deno.test("parseSafetensors accepts zero-size tensors and a file without metadata", () => {
  const file = parseSafetensors(
    fileOf({ a: entry("F32", [0], 0, 0), b: entry("U8", [0, 4], 0, 0) }),
  );
  assert.deepEqual(file.metadata, {});
  assert.equal(file.tensors.get("a")!.data.length, 0);
  assert.deepEqual(file.tensors.get("b")!.shape, [0, 4]);
});

Deno.test("duplicateJsonKey finds repeats at any depth and ignores strings that are values", () => {
  assert.equal(duplicateJsonKey('{"a": "a", "b": ["a", "a"], "c": {"a": 1}}'), undefined);
  assert.equal(duplicateJsonKey('{"x": {"a": 1, "a": 2}}'), "a");
  assert.equal(duplicateJsonKey('[{"k": 1}, {"k": 2}]'), undefined);
  assert.equal(duplicateJsonKey('{"\\u0061": 1, "a": 2}'), "a");
  assert.equal(duplicateJsonKey('{"q\\"": {"q\\"": 1}, "r": 0, "q\\"": 3}'), 'q"');
  assert.equal(duplicateJsonKey('{"a": 1, "b": {}, "b": 2}'), "b");
  // Deep nesting is scanned without recursion.
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  assert.equal(duplicateJsonKey(deep), undefined);
});

Deno.test("serializeSafetensors refuses tensors that do not match their declaration", () => {
  const cases: [Record<string, Tensor>, RegExp][] = [
    [
      { t: { dtype: "U64", shape: [2], data: new Uint32Array(4) as unknown as BigUint64Array } },
      /holds a Uint32Array, U64 needs a BigUint64Array/,
    ],
    [
      { t: { dtype: "I32", shape: [3], data: new Int32Array(2) } },
      /has 2 elements, shape \[3\] needs 3/,
    ],
    [{ "__metadata__": { dtype: "U8", shape: [1], data: new Uint8Array(1) } }, /reserved/],
    [{ "": { dtype: "U8", shape: [1], data: new Uint8Array(1) } }, /reserved/],
    [{ t: { dtype: "BF16" as "U16", shape: [1], data: new Uint16Array(1) } }, /dtype "BF16"/],
  ];
  for (const [tensors, pattern] of cases) {
    assert.throws(
      () => serializeSafetensors(tensors, { name: "out.onebit" }),
      (error) => {
        rejects("tensor_invalid", pattern)(error);
        assert.match((error as ModelError).message, /^Cannot write model 'out.onebit'/);
        return true;
      },
    );
  }
});

Deno.test("serializeSafetensors passes the finished data section to a metadata function", () => {
  let seen: Uint8Array | undefined;
  const bytes = serializeSafetensors(
    { t: { dtype: "U16", shape: [2], data: new Uint16Array([0x0102, 0x0304]) } },
    {
      metadata: (data) => {
        seen = data.slice();
        return { length: String(data.length) };
      },
    },
  );
  assert.deepEqual(seen, new Uint8Array([2, 1, 4, 3]));
  assert.equal(parseSafetensors(bytes).metadata.length, "4");
});
