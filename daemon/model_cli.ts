/**
 * `onebit model ...`: build zoo models, inspect model files, estimate their cycles on a
 * systolic-array accelerator and write their int8 ONNX twins.
 *
 * @example
 * ```ts ignore
 * import { modelCommand } from "./model_cli.ts";
 * await modelCommand(["build", "resnet18", "--out", "/tmp/r18.onebit"]);
 * await modelCommand(["inspect", "/tmp/r18.onebit"]);
 * await modelCommand(["estimate", "/tmp/r18.onebit", "--accelerator", "systolic:32x32"]);
 * await modelCommand(["onnx", "/tmp/r18.onebit", "--out", "/tmp/r18.int8.onnx"]);
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { estimateFile, formatEstimate } from "./runtime/estimate.ts";
import { formatInspect, inspectFile } from "./runtime/inspect.ts";
import { ModelError } from "./runtime/errors.ts";
import { int8Twin } from "./runtime/int8_twin.ts";
import { readModel } from "./runtime/model_file.ts";
import {
  buildBinealResNet18,
  buildCenterNet,
  buildEdsr,
  buildFcn,
  buildR2d2,
  type ZooModel,
  type ZooOptions,
} from "./runtime/zoo.ts";

/** The zoo families `onebit model build` knows. */
export const ZOO_FAMILIES: Record<string, (options: ZooOptions) => ZooModel> = {
  resnet18: buildBinealResNet18,
  centernet: buildCenterNet,
  fcn: buildFcn,
  edsr: buildEdsr,
  r2d2: buildR2d2,
};

/** Help text of `onebit model`. */
export const MODEL_USAGE = `Usage: onebit model <command> [options]

Commands:
  inspect FILE                      ops, parameters, file size, BOPs, FLOPs,
                                    OPs = BOPs/64 + FLOPs, peak activation memory
  estimate FILE --accelerator systolic:RxC
                                    cycles of a 1-bit and an 8-bit R x C PE array
                                    (daemon/runtime/estimate.ts states the model)
  onnx FILE --out OUT.onnx          the model's int8 ONNX twin (QLinearConv, u8 x s8):
                                    a trained 8-bit twin (train/, *_int8 recipes) as
                                    it is, a binary model as its architecture twin
  build FAMILY --out FILE           a zoo model with random weights: ${
  Object.keys(ZOO_FAMILIES).join(", ")
}
      [--width W] [--size N|HxW] [--sparse] [--tau T] [--seed S]

Options:
  --json                            print inspect/estimate as JSON
  -h, --help                        print this help`;

class ModelUsageError extends Error {}

function parseSize(value: string | undefined): number | [number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split("x").map(Number);
  if (parts.some((part) => !Number.isInteger(part) || part < 1) || parts.length > 2) {
    throw new ModelUsageError(`--size is '${value}', expected N or HxW`);
  }
  return parts.length === 1 ? parts[0] : [parts[0], parts[1]];
}

function parseNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number)) throw new ModelUsageError(`--${name} is '${value}', not a number`);
  return number;
}

/**
 * Runs `onebit model <args>` and returns the exit code: 0 on success, 1 when a model file
 * is refused, 2 on a usage error.
 */
export async function modelCommand(
  args: string[],
  io: { out?: (line: string) => void; err?: (line: string) => void } = {},
): Promise<number> {
  const out = io.out ?? console.log;
  const err = io.err ?? console.error;
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        accelerator: { type: "string" },
        out: { type: "string" },
        width: { type: "string" },
        size: { type: "string" },
        sparse: { type: "boolean", default: false },
        tau: { type: "string" },
        seed: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      out(MODEL_USAGE);
      return 0;
    }
    const [command, target, ...extra] = positionals;
    if (extra.length > 0) throw new ModelUsageError(`unexpected arguments: ${extra.join(" ")}`);
    if (target === undefined) {
      throw new ModelUsageError(`'model ${command ?? ""}' needs an argument`);
    }
    switch (command) {
      case "inspect": {
        const report = await inspectFile(target);
        out(values.json ? JSON.stringify(report) : formatInspect(report));
        return 0;
      }
      case "estimate": {
        if (values.accelerator === undefined) {
          throw new ModelUsageError("estimate needs --accelerator systolic:RxC");
        }
        const estimate = await estimateFile(target, values.accelerator);
        out(values.json ? JSON.stringify(estimate) : formatEstimate(estimate));
        return 0;
      }
      case "onnx": {
        if (values.out === undefined) throw new ModelUsageError("onnx needs --out OUT.onnx");
        const twin = int8Twin(await readModel(target));
        await Deno.writeFile(values.out, twin.bytes);
        out(
          `wrote ${values.out}: int8 ONNX twin, ${twin.bytes.length} bytes, inputs ` +
            twin.inputs.map((input) => `${input.name}[${input.dims.join("x")}]`).join(", "),
        );
        return 0;
      }
      case "build": {
        const build = ZOO_FAMILIES[target];
        if (build === undefined) {
          throw new ModelUsageError(
            `unknown family '${target}', expected one of ${Object.keys(ZOO_FAMILIES).join(", ")}`,
          );
        }
        if (values.out === undefined) throw new ModelUsageError("build needs --out FILE");
        const model = build({
          width: parseNumber("width", values.width),
          inputSize: parseSize(values.size),
          sparse: values.sparse,
          tau: parseNumber("tau", values.tau),
          seed: parseNumber("seed", values.seed),
        });
        await Deno.writeFile(values.out, model.bytes);
        out(`wrote ${values.out}: ${model.name} (${model.task}), ${model.bytes.length} bytes`);
        return 0;
      }
      default:
        throw new ModelUsageError(`unknown model command '${command}'`);
    }
  } catch (error) {
    if (error instanceof ModelError) {
      err(`onebit: ${error.message}`);
      return 1;
    }
    if (
      error instanceof ModelUsageError || error instanceof RangeError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      err(`onebit: ${(error as Error).message}\n\n${MODEL_USAGE}`);
      return 2;
    }
    throw error;
  }
}
