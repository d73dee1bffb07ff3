/**
 * Reading the config file: {@linkcode loadConfig} reads and validates one file (or returns the
 * embedded defaults when the default file is absent), and {@linkcode ConfigStore} holds the
 * running config and swaps it on reload only when the new file is completely valid.
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "./errors.ts";
import { type ConfigSchemaOptions, parseConfig } from "./schema.ts";
import type { Config, SourceConfig } from "./types.ts";

/** `configs/onebit.json` of this repository: the file loaded when no path is given. */
export const DEFAULT_CONFIG_PATH: string = fileURLToPath(
  new URL("../../configs/onebit.json", import.meta.url),
);

/** Largest config file read, bytes: a config is small; anything bigger is a mistake. */
export const CONFIG_BYTES_MAX = 1 << 20;

/** A loaded config and where it came from. */
export interface LoadedConfig {
  /** The validated config, deeply frozen, with relative paths resolved against `dir`. */
  readonly config: Config;
  /** Absolute path of the file read, or `null` for the embedded defaults. */
  readonly path: string | null;
  /** Folder relative paths are resolved against: the file's folder (`configs/` for defaults). */
  readonly dir: string;
}

/** Options of {@linkcode loadConfig}. */
export interface LoadConfigOptions extends ConfigSchemaOptions {
  /** File used when `path` is not given. Default: {@linkcode DEFAULT_CONFIG_PATH}. */
  defaultPath?: string;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function isUrlOrDevice(input: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(input) || input.startsWith("/dev/");
}

/**
 * Returns `config` with its relative paths made absolute against `dir`: `plugins.dir`,
 * `kernels.libDir`, the telemetry roots and source inputs (URLs such as `rtsp://` are kept).
 *
 * @example
 * ```ts
 * import { resolveConfigPaths } from "./load.ts";
 * import { DEFAULT_CONFIG } from "./schema.ts";
 * console.log(resolveConfigPaths(DEFAULT_CONFIG, "/opt/onebit/configs").plugins.dir); // /opt/onebit/plugins
 * ```
 */
export function resolveConfigPaths(config: Config, dir: string): Config {
  const at = (path: string) => (isAbsolute(path) ? path : resolve(dir, path));
  const sources: SourceConfig[] = config.sources.map((source) => ({
    ...source,
    input: isUrlOrDevice(source.input) ? source.input : at(source.input),
  }));
  return {
    ...config,
    kernels: {
      ...config.kernels,
      libDir: config.kernels.libDir === null ? null : at(config.kernels.libDir),
    },
    plugins: { ...config.plugins, dir: at(config.plugins.dir) },
    sources,
    telemetry: {
      ...config.telemetry,
      powercapRoot: at(config.telemetry.powercapRoot),
      hwmonRoot: at(config.telemetry.hwmonRoot),
      powerSupplyRoot: at(config.telemetry.powerSupplyRoot),
      thermalRoot: at(config.telemetry.thermalRoot),
    },
  };
}

async function readConfigText(path: string, shown: string): Promise<string> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new ConfigError(shown, [{ path: "", message: `cannot read the file: ${reason}` }], {
      cause: error,
    });
  }
  try {
    const size = (await file.stat()).size;
    if (size > CONFIG_BYTES_MAX) {
      throw new ConfigError(shown, [{
        path: "",
        message: `the file is ${size} bytes, expected at most ${CONFIG_BYTES_MAX}`,
      }]);
    }
    const bytes = new Uint8Array(size);
    let filled = 0;
    // Bounded: at most `size` bytes, and a read of 0 (file shrank) ends it.
    while (filled < size) {
      const read = await file.read(bytes.subarray(filled));
      if (read === null || read === 0) break;
      filled += read;
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, filled));
    } catch (error) {
      throw new ConfigError(shown, [{ path: "", message: "the file is not UTF-8 text" }], {
        cause: error,
      });
    }
  } finally {
    file.close();
  }
}

/**
 * Reads and validates the config at `path`. Without `path`, reads `options.defaultPath`
 * (default `configs/onebit.json` of this repository) and, when that file does not exist,
 * returns the embedded defaults (`path: null`, `dir`: the default file's folder). A given
 * `path` that does not exist is an error. Relative paths inside are resolved against the
 * file's folder (see {@linkcode resolveConfigPaths}). Throws {@linkcode ConfigError}
 * (`bad_config`) naming the file, the field and the value.
 *
 * @example
 * ```ts ignore
 * const { config, path } = await loadConfig("configs/onebit.json");
 * console.log(path, config.listen.port);
 * ```
 */
export async function loadConfig(
  path?: string,
  options: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  const explicit = path !== undefined;
  const shown = path ?? options.defaultPath ?? DEFAULT_CONFIG_PATH;
  const absolute = resolve(shown);
  const dir = dirname(absolute);
  if (!explicit) {
    try {
      await Deno.stat(absolute);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new ConfigError(shown, [{ path: "", message: `cannot read the file: ${error}` }], {
          cause: error,
        });
      }
      const config = parseConfig({}, { file: "<defaults>", env: options.env });
      return { config: deepFreeze(resolveConfigPaths(config, dir)), path: null, dir };
    }
  }
  const text = await readConfigText(absolute, shown);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(shown, [{
      path: "",
      message: `the file is not valid JSON: ${(error as Error).message}`,
    }], { cause: error });
  }
  const config = parseConfig(value, { file: shown, env: options.env });
  return { config: deepFreeze(resolveConfigPaths(config, dir)), path: absolute, dir };
}

/** A listener of config changes: the new config and the one it replaced. */
export type ConfigListener = (next: Config, previous: Config) => void;

/** The answer of {@linkcode ConfigStore.reload}. */
export type ReloadResult = { ok: true } | { ok: false; error: ConfigError };

/**
 * The running config. {@linkcode ConfigStore.reload} re-reads the file, validates it
 * completely and swaps the whole config in one assignment only when it is valid; an invalid
 * file leaves the running config in place. Listeners hear about every swap.
 *
 * @example
 * ```ts ignore
 * const store = await ConfigStore.open("configs/onebit.json");
 * store.subscribe((next) => console.log("port now", next.listen.port));
 * Deno.addSignalListener("SIGHUP", () => store.reload().then((r) => r.ok || console.error(r.error.message)));
 * ```
 */
export class ConfigStore {
  #loaded: LoadedConfig;
  readonly #requestedPath: string | undefined;
  readonly #options: LoadConfigOptions;
  readonly #listeners = new Set<ConfigListener>();
  #pending: Promise<unknown> = Promise.resolve();
  #listenerErrors = 0;

  /**
   * Holds `loaded`; reloads read `path` again (`undefined`: the default file, or the
   * embedded defaults while it is absent) with `options`.
   */
  constructor(
    loaded: LoadedConfig,
    options: { path?: string } & LoadConfigOptions = {},
  ) {
    this.#loaded = loaded;
    this.#requestedPath = options.path;
    this.#options = options;
  }

  /** Loads `path` (see {@linkcode loadConfig}) and returns a store holding it. */
  static async open(path?: string, options: LoadConfigOptions = {}): Promise<ConfigStore> {
    const loaded = await loadConfig(path, options);
    return new ConfigStore(loaded, { ...options, path });
  }

  /** The running config. */
  get current(): Config {
    return this.#loaded.config;
  }

  /** The file the running config came from, or `null` for the embedded defaults. */
  get path(): string | null {
    return this.#loaded.path;
  }

  /** The folder relative paths were resolved against. */
  get dir(): string {
    return this.#loaded.dir;
  }

  /** Listener calls that threw (they are counted and otherwise ignored). */
  get listenerErrors(): number {
    return this.#listenerErrors;
  }

  /**
   * Re-reads and validates the file; on success swaps the config and tells listeners, on
   * failure keeps the running config and returns the error. Reloads run one at a time.
   */
  reload(): Promise<ReloadResult> {
    const run = this.#pending.then(() => this.#reloadNow());
    this.#pending = run.catch(() => undefined);
    return run;
  }

  async #reloadNow(): Promise<ReloadResult> {
    let next: LoadedConfig;
    try {
      next = await loadConfig(this.#requestedPath, this.#options);
    } catch (error) {
      if (error instanceof ConfigError) return { ok: false, error };
      const wrapped = new ConfigError(this.#requestedPath ?? DEFAULT_CONFIG_PATH, [{
        path: "",
        message: `cannot reload: ${error}`,
      }], { cause: error });
      return { ok: false, error: wrapped };
    }
    const previous = this.#loaded.config;
    this.#loaded = next;
    for (const listener of [...this.#listeners]) {
      try {
        listener(next.config, previous);
      } catch {
        this.#listenerErrors += 1;
      }
    }
    return { ok: true };
  }

  /** Calls `listener` after every successful reload; returns the function that removes it. */
  subscribe(listener: ConfigListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}
