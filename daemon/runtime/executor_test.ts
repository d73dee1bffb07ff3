/**
 * The executor against the independent reference interpreter on random graphs of every op
 * and on everyOpModel: every output compared byte for byte (bits, integers and floats: all
 * float ops are defined with one rounding order that both sides follow, so equality is
 * exact). Also determinism over variants and thread counts, the model-file round trip, bad
 * inputs, output views, profiles and codebook path choices.
 */

import assert from "node:assert/strict";
import { hostCpuLevels } from "../kernels/cpu_level.ts";
import { KernelError } from "../kernels/errors.ts";
import { KernelContext, type KernelLibrary, openKernels } from "../kernels/library.ts";
import {
  type ActivationArray,
  InputError,
  modelFromGraph,
  ModelInstance,
  type ModelInstanceOptions,
  type RunnableModel,
} from "./executor.ts";
import type { Graph } from "./graph.ts";
import { loadModel, writeModel } from "./model_file.ts";
import { OP_MODEL_TYPES, opModel, randomInputs } from "./op_fixtures.ts";
import { referenceRun } from "./reference_interpreter.ts";
import type { Tensor } from "./safetensors.ts";
import { everyOpModel, packedBits } from "./test_fixtures.ts";
import { seededRandom } from "./test_fixtures.ts";

const SEEDS_PER_OP = 24;

function bytesOf(array: ActivationArray): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** Asserts two output sets are equal byte for byte, naming the first differing element. */
function assertSameOutputs(
  actual: Readonly<Record<string, ActivationArray>>,
  expected: Readonly<Record<string, ActivationArray>>,
  what: string,
): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), what);
  for (const name of Object.keys(expected)) {
    const a = actual[name];
    const e = expected[name];
    assert.equal(a.constructor, e.constructor, `${what}: output '${name}' type`);
    assert.equal(a.length, e.length, `${what}: output '${name}' length`);
    const ab = bytesOf(a);
    const eb = bytesOf(e);
    for (let i = 0; i < eb.length; i++) {
      if (ab[i] !== eb[i]) {
        const element = Math.floor(i / (eb.length / e.length));
        assert.fail(
          `${what}: output '${name}' differs at element ${element}: ` +
            `got ${a[element]}, expected ${e[element]}`,
        );
      }
    }
  }
}

function withKernels(
  fn: (lib: KernelLibrary, ctx: KernelContext) => void,
  options: { threads?: number; forceScalar?: boolean } = {},
): void {
  const lib = openKernels();
  const ctx = new KernelContext(lib, { threads: options.threads ?? 2, ...options });
  try {
    fn(lib, ctx);
  } finally {
    ctx.destroy();
    lib.close();
  }
}

function fixtureModel(fixture: { graph: Graph; tensors: Map<string, Tensor> }): RunnableModel {
  return modelFromGraph(fixture.graph, fixture.tensors);
}

for (const type of OP_MODEL_TYPES) {
  Deno.test(`executor matches the reference interpreter on random ${type} graphs`, () => {
    withKernels((_lib, ctx) => {
      for (let seed = 1; seed <= SEEDS_PER_OP; seed++) {
        const model = fixtureModel(opModel(type, seed));
        const op = model.graph.ops[0];
        const what = `${type} seed ${seed} ${JSON.stringify(op.attrs)} inputs ${
          JSON.stringify(model.graph.inputs.map((i) => [i.dtype, i.shape]))
        }`;
        const modes: ModelInstanceOptions["codebook"][] = type === "codebook_conv2d"
          ? ["expand", "gather"]
          : ["auto"];
        for (const codebook of modes) {
          const instance = new ModelInstance(model, ctx, { codebook });
          for (let run = 0; run < 2; run++) {
            const inputs = randomInputs(model.graph.inputs, seed * 100 + run);
            assertSameOutputs(
              instance.run(inputs),
              referenceRun(model, inputs),
              `${what} codebook ${codebook} run ${run}`,
            );
          }
        }
      }
    });
  });
}

Deno.test("executor matches the reference interpreter on everyOpModel", () => {
  withKernels((_lib, ctx) => {
    for (let seed = 1; seed <= 4; seed++) {
      const model = fixtureModel(everyOpModel(seed));
      const inputs = randomInputs(model.graph.inputs, seed);
      const expected = referenceRun(model, inputs);
      for (const codebook of ["expand", "gather", "auto"] as const) {
        const instance = new ModelInstance(model, ctx, { codebook });
        assertSameOutputs(instance.run(inputs), expected, `seed ${seed} codebook ${codebook}`);
      }
    }
  });
});

Deno.test("executor gives the same bits on the scalar variant and 1 and 2 threads", () => {
  const models = [
    fixtureModel(everyOpModel(5)),
    ...["bconv2d", "codebook_conv2d", "bdense", "qconv2d", "maxpool", "avgpool", "binarize"]
      .flatMap((type) => [1, 2, 3].map((seed) => fixtureModel(opModel(type as never, seed)))),
  ];
  const results: Record<string, ActivationArray>[][] = [];
  for (const options of [{ forceScalar: true, threads: 1 }, { threads: 1 }, { threads: 2 }]) {
    withKernels((_lib, ctx) => {
      assert.equal(ctx.variant, options.forceScalar ? "scalar" : "simd");
      results.push(
        models.map((model, index) => {
          const instance = new ModelInstance(model, ctx, { codebook: "auto" });
          return { ...instance.run(randomInputs(model.graph.inputs, index)) };
        }).map((outputs) => {
          // Copy before the context (and the instance) goes away.
          const copies: Record<string, ActivationArray> = {};
          for (const [name, value] of Object.entries(outputs)) copies[name] = value.slice();
          return copies;
        }),
      );
    }, options);
  }
  for (let index = 0; index < models.length; index++) {
    assertSameOutputs(results[1][index], results[0][index], `model ${index}: 1 thread vs scalar`);
    assertSameOutputs(results[2][index], results[0][index], `model ${index}: 2 threads vs scalar`);
  }
});

Deno.test("executor gives the same bits on every CPU level whose library is built", () => {
  const levels = hostCpuLevels();
  const model = fixtureModel(everyOpModel(6));
  const inputs = randomInputs(model.graph.inputs, 6);
  const expected = referenceRun(model, inputs);
  let ran = 0;
  for (const level of levels) {
    let lib: KernelLibrary;
    try {
      lib = openKernels({ level });
    } catch (error) {
      // Only the best level of this machine is built by default; others are optional.
      console.log(`skipped level ${level}: ${(error as Error).message}`);
      continue;
    }
    const ctx = new KernelContext(lib, { threads: 2 });
    try {
      assertSameOutputs(new ModelInstance(model, ctx).run(inputs), expected, level);
      ran++;
    } finally {
      ctx.destroy();
      lib.close();
    }
  }
  assert.ok(ran >= 1, "no CPU level could be loaded");
});

Deno.test("executor gives identical outputs after a model file round trip", () => {
  withKernels((_lib, ctx) => {
    const fixture = everyOpModel(7);
    const inMemory = fixtureModel(fixture);
    const bytes = writeModel(fixture.graph, fixture.tensors, { name: "every-op" });
    const loaded = loadModel(bytes, { name: "every-op.onebit" });
    const inputs = randomInputs(fixture.graph.inputs, 7);
    const a = new ModelInstance(inMemory, ctx).run(inputs);
    const b = new ModelInstance(loaded, ctx).run(inputs);
    assertSameOutputs(b, a, "round trip");
  });
});

Deno.test("ModelInstance refuses bad inputs with clear errors and keeps working", () => {
  withKernels((_lib, ctx) => {
    const model = fixtureModel(everyOpModel(8));
    const instance = new ModelInstance(model, ctx);
    const good = randomInputs(model.graph.inputs, 8);
    const expected = referenceRun(model, good);
    const cases: [Record<string, ActivationArray>, string, RegExp][] = [
      [{}, "input_missing", /input 'image' \(u8 \[1, 8, 8, 3\]\) is missing/],
      [
        { image: new Float32Array(192) },
        "input_dtype",
        /input 'image' .* is a Float32Array, expected a Uint8Array/,
      ],
      [{ image: new Uint8Array(191) }, "input_size", /has 191 values, expected 192/],
      [
        { image: good.image, extra: new Uint8Array(1) },
        "input_unknown",
        /'extra' is not an input of the model; its inputs are 'image'/,
      ],
    ];
    for (const [inputs, code, message] of cases) {
      assert.throws(() => instance.run(inputs), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.code, code);
        assert.match(error.message, message);
        return true;
      });
      assertSameOutputs(instance.run(good), expected, `after ${code}`);
    }
    assert.equal(instance.runs, cases.length);
  });
});

Deno.test("ModelInstance refuses bits inputs with tail bits set", () => {
  withKernels((_lib, ctx) => {
    let tested = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const model = fixtureModel(opModel("bconv2d", seed));
      const input = model.graph.inputs[0];
      const channels = input.shape[3];
      if (channels % 64 === 0) continue;
      const instance = new ModelInstance(model, ctx);
      const inputs = randomInputs(model.graph.inputs, seed);
      const words = (inputs[input.name] as BigUint64Array).slice();
      const perPixel = Math.ceil(channels / 64);
      words[words.length - 1] |= 1n << 63n; // past the last channel of the last pixel
      assert.throws(
        () => instance.run({ ...inputs, [input.name]: words }),
        (error: unknown) =>
          error instanceof InputError && error.code === "input_bits" &&
          error.message.includes(
            `past channel ${channels} in pixel ${words.length / perPixel - 1}`,
          ),
      );
      assertSameOutputs(instance.run(inputs), referenceRun(model, inputs), "after tail bits");
      tested++;
    }
    assert.ok(tested >= 3, `only ${tested} fixtures with a channel tail`);
  });
});

Deno.test("ModelInstance returns arena views that the next run overwrites", () => {
  withKernels((_lib, ctx) => {
    const model = fixtureModel(everyOpModel(9));
    const instance = new ModelInstance(model, ctx);
    const first = randomInputs(model.graph.inputs, 1);
    const second = randomInputs(model.graph.inputs, 2);
    const views = instance.run(first);
    const kept = instance.copyOutputs();
    assertSameOutputs(kept, referenceRun(model, first), "copy of run 1");
    const again = instance.run(second);
    assert.equal(again, views, "the same views every run");
    assert.equal(again.probs, views.probs);
    assertSameOutputs(again, referenceRun(model, second), "run 2");
    assertSameOutputs(kept, referenceRun(model, first), "copy survives run 2");
    for (const view of Object.values(views)) {
      assert.equal(view.buffer, views.probs.buffer, "every output lives in the one arena");
      assert.equal(view.byteOffset % 64, views.probs.byteOffset % 64, "aligned alike");
    }
  });
});

Deno.test("ModelInstance places every activation 64-byte aligned in one arena", () => {
  withKernels((_lib, ctx) => {
    const model = fixtureModel(everyOpModel(10));
    const instance = new ModelInstance(model, ctx);
    for (const name of model.activations.keys()) {
      const view = instance.activation(name);
      const address = Deno.UnsafePointer.value(Deno.UnsafePointer.of(view));
      assert.equal(Number(BigInt(address) % 64n), 0, `${name} is aligned`);
      assert.equal(view.buffer.byteLength, instance.plan.peakBytes + 64);
    }
  });
});

Deno.test("ModelInstance profiles every op with its kernel, work and time", () => {
  withKernels((_lib, ctx) => {
    const model = fixtureModel(everyOpModel(11));
    const instance = new ModelInstance(model, ctx, { profile: true });
    const inputs = randomInputs(model.graph.inputs, 11);
    instance.run(inputs);
    instance.run(inputs);
    const profile = instance.profile();
    assert.equal(profile.runs, 2);
    assert.deepEqual(profile.rows.map((row) => row.name), model.graph.ops.map((op) => op.name));
    const row = (name: string) => profile.rows.find((r) => r.name === name)!;
    // 'join2': 3x3 bconv, 8x8 -> 4x4 after the pool, 65 in, 65 out.
    assert.equal(row("join2").kernel, "ob_bconv2d");
    assert.equal(row("join2").bitOps, 4 * 4 * 65 * 3 * 3 * 65);
    assert.equal(row("fc").kernel, "ob_bdense");
    assert.equal(row("fc").bitOps, 10 * 32);
    assert.equal(row("stem").kernel, "ob_qconv2d_u8");
    assert.equal(row("stem").intOps, 2 * 8 * 8 * 16 * 3 * 3 * 3);
    assert.equal(row("pool").kernel, "ob_maxpool2d_bits");
    assert.equal(row("prob").kernel, "ts");
    assert.ok(["ob_bconv2d", "ob_codebook_conv2d"].includes(row("cb").kernel));
    for (const r of profile.rows) {
      assert.equal(r.calls, 2, r.name);
      assert.ok(r.totalMs >= 0 && r.meanMs >= 0, r.name);
      assert.ok(r.bytesWritten > 0 && r.bytesRead > 0, r.name);
    }
    assert.equal(
      profile.totals.bitOps,
      profile.rows.reduce((sum, r) => sum + r.bitOps, 0),
    );
    instance.resetProfile();
    assert.equal(instance.profile().runs, 0);
    assert.equal(instance.profile().totals.totalMs, 0);
  });
});

Deno.test("ModelInstance records how each codebook conv runs", () => {
  withKernels((_lib, ctx) => {
    const model = fixtureModel(everyOpModel(12));
    const auto = new ModelInstance(model, ctx).codebookChoices;
    assert.equal(auto.length, 1);
    assert.equal(auto[0].op, "cb");
    assert.equal(auto[0].reason, "measured");
    assert.ok(auto[0].expandMs !== undefined && auto[0].expandMs >= 0);
    assert.ok(auto[0].gatherMs !== undefined && auto[0].gatherMs >= 0);
    assert.equal(auto[0].path, auto[0].gatherMs! < auto[0].expandMs! ? "gather" : "expand");
    const forced = new ModelInstance(model, ctx, { codebook: "gather" }).codebookChoices;
    assert.deepEqual(forced, [{ op: "cb", path: "gather", reason: "forced" }]);
    // A 1x2 codebook kernel has no gather kernel: it is expanded.
    for (let seed = 1; seed <= 40; seed++) {
      const fixture = opModel("codebook_conv2d", seed);
      const [kh, kw] = (fixture.graph.ops[0].attrs as unknown as { kernel: number[] }).kernel;
      if (kh === 3 && kw === 3) continue;
      const choices = new ModelInstance(fixtureModel(fixture), ctx, { codebook: "gather" })
        .codebookChoices;
      assert.deepEqual(choices, [{
        op: "codebook_conv2d",
        path: "expand",
        reason: "gather_unavailable",
      }]);
      return;
    }
    assert.fail("no codebook fixture with a kernel other than 3x3");
  });
});

Deno.test("ModelInstance refuses an unknown codebook mode", () => {
  withKernels((_lib, ctx) => {
    const model = fixtureModel(everyOpModel(1));
    assert.throws(
      () => new ModelInstance(model, ctx, { codebook: "fast" as never }),
      /codebook is 'fast', expected auto, expand or gather/,
    );
  });
});

Deno.test("ModelInstance throws the context's error after the context is destroyed", () => {
  const lib = openKernels();
  const ctx = new KernelContext(lib, { threads: 1 });
  const model = fixtureModel(everyOpModel(2));
  const instance = new ModelInstance(model, ctx);
  const inputs = randomInputs(model.graph.inputs, 2);
  instance.run(inputs);
  ctx.destroy();
  assert.throws(() => instance.run(inputs), KernelError);
  lib.close();
});

Deno.test("ModelInstance runs graphs whose inputs are bits and outputs are inputs' copies", () => {
  withKernels((_lib, ctx) => {
    const random = seededRandom(4);
    const graph: Graph = {
      inputs: [{ name: "x", dtype: "bits", shape: [1, 3, 3, 70] }],
      outputs: ["y", "x"],
      ops: [{
        op: "upsample_nearest",
        name: "up",
        inputs: ["x"],
        outputs: ["y"],
        attrs: { scale: [2, 1] },
        params: {},
      }],
    };
    const model = modelFromGraph(graph, new Map());
    const x = packedBits(random, 9, 70);
    const outputs = new ModelInstance(model, ctx).run({ x });
    assertSameOutputs(outputs, referenceRun(model, { x }), "bits upsample");
    assert.deepEqual(outputs.x, x);
  });
});
