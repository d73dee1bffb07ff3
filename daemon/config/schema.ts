/**
 * The schema of the daemon config (`configs/onebit.json`): {@linkcode parseConfig} turns a
 * parsed JSON value into a complete {@linkcode Config} with every default filled, or throws a
 * {@linkcode ConfigError} naming the file, each bad field's path and its value.
 *
 * Defaults (the embedded config is `parseConfig({})`, see {@linkcode DEFAULT_CONFIG}):
 *
 * | field | default | accepted |
 * |---|---|---|
 * | `listen.host` | `"127.0.0.1"` | a host name or IP; beyond loopback needs `auth.token` |
 * | `listen.port` | `8470` | 0..65535 (0 = a free port) |
 * | `auth.token` | `null` | 16..512 visible ASCII characters, or `"env:NAME"` to read it from the environment |
 * | `limits.bodyBytesMax` | 16 MiB | 1 KiB..1 GiB |
 * | `limits.imagePixelsMax` | 4096 * 4096 | 1..2^28 |
 * | `threads` | `0` (all cores) | 0..256 |
 * | `kernels.level` | `null` (detect) | a CPU level name |
 * | `kernels.libDir` | `null` (zig-out/lib) | a path |
 * | `plugins.dir` | `"../plugins"` (beside `configs/`) | a path, relative to the config file |
 * | `plugins.load` | `["*"]` (every plugin folder) | plugin names or `"*"` |
 * | `plugins.watch` | `true` | boolean |
 * | `plugins.watchDebounceMs` | `500` | 10..60000 |
 * | `plugins.defaults.concurrency` | `1` | 1..64 |
 * | `plugins.defaults.queueMax` | `8` | 0..4096 |
 * | `plugins.defaults.deadlineMs` | `10000` | 1..600000 |
 * | `plugins.defaults.threads` | `0` (even share) | 0..256 |
 * | `plugins.overrides` | `{}` | per plugin name: any limit, and `options` |
 * | `sources` | `[]` | `{ name, task, kind, input, fps = 10, loop = false }`, unique names |
 * | `telemetry.intervalMs` | `1000` | 100..60000 |
 * | `telemetry.powercapRoot` | `"/sys/class/powercap"` | a path |
 * | `telemetry.hwmonRoot` | `"/sys/class/hwmon"` | a path |
 * | `telemetry.powerSupplyRoot` | `"/sys/class/power_supply"` | a path |
 * | `telemetry.thermalRoot` | `"/sys/class/thermal"` | a path |
 * | `log.level` | `"info"` | `debug`, `info`, `warn`, `error` |
 *
 * Unknown keys are refused everywhere (a typo must not silently fall back to a default).
 *
 * @module
 */

import { mqttConfigSchema } from "../fleet/config.ts";
import { z } from "zod";
import { CPU_LEVELS } from "../kernels/cpu_level.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import type { Config, SourceConfig } from "./types.ts";

/** Prefix of an `auth.token` value naming an environment variable: `"env:ONEBIT_TOKEN"`. */
export const TOKEN_ENV_PREFIX = "env:";

/** Names of plugins and sources: `[a-z][a-z0-9_-]{0,39}`. */
export const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;

const TOKEN_PATTERN = /^[\x21-\x7e]{16,512}$/;
const HOST_PATTERN = /^[A-Za-z0-9.:_\-\[\]%]{1,253}$/;
const ISSUES_MAX = 10;
const VALUE_CHARS_MAX = 80;

/**
 * True when `host` is a loopback address: `localhost`, 127.0.0.0/8 or `::1` (brackets
 * allowed).
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from "./schema.ts";
 * console.log(isLoopbackHost("127.1.2.3"), isLoopbackHost("0.0.0.0")); // true false
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === "localhost") return true;
  if (bare === "::1" || bare === "0:0:0:0:0:0:0:1") return true;
  const octets = bare.split(".");
  if (octets.length !== 4 || octets[0] !== "127") return false;
  return octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255);
}

function intIn(min: number, max: number) {
  const range = `expected ${min}..${max}`;
  return z.int({ error: `expected an integer in ${min}..${max}` })
    .min(min, { error: range })
    .max(max, { error: range });
}

function path(description = "a non-empty path") {
  return z.string({ error: `expected ${description}` }).min(1, { error: `expected ${description}` })
    .max(4096, { error: "expected at most 4096 characters" });
}

function bool() {
  return z.boolean({ error: "expected true or false" });
}

function name(what: string) {
  return z.string({ error: `expected a ${what} name` }).regex(NAME_PATTERN, {
    error: `expected a ${what} name matching [a-z][a-z0-9_-]{0,39}`,
  });
}

function enumOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(", ")}` });
}

const limitsSchema = z.strictObject({
  concurrency: intIn(1, 64).default(1),
  queueMax: intIn(0, 4096).default(8),
  deadlineMs: intIn(1, 600_000).default(10_000),
  threads: intIn(0, 256).default(0),
});

const overrideSchema = z.strictObject({
  concurrency: intIn(1, 64).optional(),
  queueMax: intIn(0, 4096).optional(),
  deadlineMs: intIn(1, 600_000).optional(),
  threads: intIn(0, 256).optional(),
  options: z.record(
    z.string().min(1, { error: "expected a non-empty option name" }),
    z.union([z.number(), z.boolean(), z.string()], {
      error: "expected a number, a boolean or a string",
    }),
  ).optional(),
});

const sourceSchema = z.strictObject({
  name: name("source"),
  task: name("plugin"),
  kind: enumOf(["files", "ffmpeg"] as const),
  input: path("a path or URL"),
  fps: z.number({ error: "expected a number in (0, 240]" })
    .gt(0, { error: "expected a number in (0, 240]" })
    .max(240, { error: "expected a number in (0, 240]" })
    .default(10),
  loop: bool().default(false),
});

function tokenSchema(env: (name: string) => string | undefined) {
  const expected = `expected null, 16..512 visible ASCII characters, or "${TOKEN_ENV_PREFIX}NAME"`;
  return z.string({ error: expected }).nullable().transform((value, ctx) => {
    if (value === null) return null;
    let token = value;
    if (value.startsWith(TOKEN_ENV_PREFIX)) {
      const variable = value.slice(TOKEN_ENV_PREFIX.length);
      const found = variable === "" ? undefined : env(variable);
      if (found === undefined || found === "") {
        ctx.issues.push({
          code: "custom",
          input: value,
          message: `names environment variable '${variable}', which is not set`,
        });
        return z.NEVER;
      }
      token = found;
    }
    if (!TOKEN_PATTERN.test(token)) {
      ctx.issues.push({
        code: "custom",
        input: value,
        message: `expected 16..512 visible ASCII characters (got ${token.length} characters${
          value === token ? "" : ` from ${value}`
        })`,
      });
      return z.NEVER;
    }
    return token;
  }).default(null);
}

/** Options of {@linkcode configSchema} and {@linkcode parseConfig}. */
export interface ConfigSchemaOptions {
  /** Looks up environment variables for `"env:NAME"` tokens. Default: `Deno.env.get`. */
  env?: (name: string) => string | undefined;
}

/**
 * The zod schema of the config. Its output is a complete {@linkcode Config}.
 *
 * @example
 * ```ts
 * import { configSchema } from "./schema.ts";
 * console.log(configSchema().parse({ listen: { port: 9000 } }).listen.host); // 127.0.0.1
 * ```
 */
export function configSchema(options: ConfigSchemaOptions = {}) {
  const env = options.env ?? ((variable: string) => Deno.env.get(variable));
  return z.strictObject({
    listen: z.strictObject({
      host: z.string({ error: "expected a host name or IP address" })
        .regex(HOST_PATTERN, { error: "expected a host name or IP address" })
        .default("127.0.0.1"),
      port: intIn(0, 65535).default(8470),
    }).prefault({}),
    auth: z.strictObject({ token: tokenSchema(env) }).prefault({}),
    limits: z.strictObject({
      bodyBytesMax: intIn(1024, 1 << 30).default(16 * 1024 * 1024),
      imagePixelsMax: intIn(1, 1 << 28).default(4096 * 4096),
    }).prefault({}),
    threads: intIn(0, 256).default(0),
    kernels: z.strictObject({
      level: enumOf(CPU_LEVELS).nullable().default(null),
      libDir: path().nullable().default(null),
    }).prefault({}),
    plugins: z.strictObject({
      dir: path().default("../plugins"),
      load: z.array(
        z.union([z.literal("*"), name("plugin")], {
          error: `expected "*" or a plugin name matching [a-z][a-z0-9_-]{0,39}`,
        }),
        { error: "expected an array of plugin names" },
      ).max(256, { error: "expected at most 256 names" }).default(["*"]),
      watch: bool().default(true),
      watchDebounceMs: intIn(10, 60_000).default(500),
      defaults: limitsSchema.prefault({}),
      overrides: z.record(name("plugin"), overrideSchema).default({}),
    }).prefault({}),
    sources: z.array(sourceSchema, { error: "expected an array of sources" })
      .max(64, { error: "expected at most 64 sources" })
      .superRefine((sources, ctx) => {
        const seen = new Set<string>();
        sources.forEach((source, index) => {
          if (seen.has(source.name)) {
            ctx.addIssue({
              code: "custom",
              path: [index, "name"],
              input: source.name,
              message: "expected a unique source name",
            });
          }
          seen.add(source.name);
        });
      })
      .default([]),
    telemetry: z.strictObject({
      intervalMs: intIn(100, 60_000).default(1000),
      powercapRoot: path().default("/sys/class/powercap"),
      hwmonRoot: path().default("/sys/class/hwmon"),
      powerSupplyRoot: path().default("/sys/class/power_supply"),
      thermalRoot: path().default("/sys/class/thermal"),
    }).prefault({}),
    log: z.strictObject({
      level: enumOf(["debug", "info", "warn", "error"] as const).default("info"),
    }).prefault({}),
    mqtt: mqttConfigSchema.prefault({}),
  }, { error: "expected a JSON object" }).superRefine((config, ctx) => {
    if (config.auth.token === null && !isLoopbackHost(config.listen.host)) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "token"],
        input: null,
        message:
          `expected a token because listen.host "${config.listen.host}" is not loopback (127.0.0.0/8, ::1, localhost)`,
      });
    }
  });
}

function formatPath(segments: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

function formatValue(fieldPath: string, value: unknown): string {
  if (fieldPath === "auth.token" && typeof value === "string") {
    // Never echo a secret into logs; an env reference is not secret.
    return value.startsWith(TOKEN_ENV_PREFIX) ? JSON.stringify(value) : "<redacted>";
  }
  const text = JSON.stringify(value) ?? String(value);
  return text.length > VALUE_CHARS_MAX ? `${text.slice(0, VALUE_CHARS_MAX)}...` : text;
}

/** Turns zod issues into {@linkcode ConfigIssue}s that name the path and the value. */
export function configIssues(issues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  return issues.slice(0, ISSUES_MAX).map((issue) => {
    const at = formatPath(issue.path);
    const subject = at === "" ? "the config" : at;
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((key) => (at === "" ? key : `${at}.${key}`));
      return {
        path: keys[0] ?? at,
        message: `${keys.join(", ")} ${
          keys.length === 1 ? "is not a known field" : "are not known fields"
        }`,
      };
    }
    if (issue.code === "invalid_key") {
      const key = issue.path[issue.path.length - 1];
      const inner = issue.issues[0]?.message ?? issue.message;
      return {
        path: at,
        message: `${subject}: the key ${JSON.stringify(key)} is refused, ${inner}`,
      };
    }
    const input = (issue as { input?: unknown }).input;
    const shown = input === undefined ? "missing" : `${formatValue(at, input)}`;
    return { path: at, message: `${subject} is ${shown}, ${issue.message}` };
  });
}

/**
 * Validates `value` (parsed JSON) and returns the complete config. Throws a
 * {@linkcode ConfigError} naming `options.file` (default `<memory>`), each bad field's path
 * and its value.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./schema.ts";
 * try {
 *   parseConfig({ listen: { port: 70000 } }, { file: "configs/onebit.json" });
 * } catch (error) {
 *   console.log((error as Error).message); // configs/onebit.json: listen.port is 70000, expected 0..65535
 * }
 * ```
 */
export function parseConfig(
  value: unknown,
  options: ConfigSchemaOptions & { file?: string } = {},
): Config {
  const result = configSchema(options).safeParse(value, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(options.file ?? "<memory>", configIssues(result.error.issues));
  }
  const config: Config = result.data;
  return config;
}

/** The embedded defaults: the config of an empty file (`parseConfig({})`). */
export const DEFAULT_CONFIG: Config = Object.freeze(parseConfig({}, { file: "<defaults>" }));

/**
 * The schema of one {@linkcode SourceConfig} (the items of `sources`), also used by
 * `POST /v1/sources`: unknown keys refused, `fps` default 10, `loop` default false.
 */
export const sourceConfigSchema: z.ZodType<SourceConfig, unknown> = sourceSchema;
