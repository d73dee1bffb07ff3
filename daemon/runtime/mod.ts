/**
 * The onebit runtime: the model file (safetensors container, onebit metadata, checksum),
 * the graph schema with its validation and shape inference, and {@linkcode ModelError}.
 *
 * @example
 * ```ts
 * import { readModel } from "./mod.ts";
 * const model = await readModel("plugins/detect/detect.onebit");
 * for (const op of model.graph.ops) console.log(op.name, op.op, model.activations.get(op.outputs[0]));
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./graph.ts";
export * from "./model_file.ts";
export * from "./safetensors.ts";
export * from "./builder.ts";
export * from "./zoo.ts";
export * from "./inspect.ts";
export * from "./estimate.ts";
export * from "./executor.ts";
export * from "./memory_plan.ts";
