/**
 * Loads libonebit through Deno FFI and guards its lifetime.
 *
 * {@linkcode openKernels} picks `libonebit-<level>.so` for the CPU level (detected, forced by
 * `ONEBIT_CPU_LEVEL`, or given), refuses a level the CPU lacks before mapping the library,
 * and checks the library's ABI version, build level and own CPU check.
 * {@linkcode KernelContext} owns one native context (thread pool, scratch, last error).
 *
 * Calling a symbol of a closed library crashes Deno (SIGSEGV), so a {@linkcode KernelLibrary}
 * counts its users (contexts and callers holding its symbols) and refuses to close while any
 * is alive, and its `symbols` getter throws after close. Calls are synchronous: a pending
 * nonblocking FFI call in a terminated worker also crashes Deno.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import {
  CPU_LEVEL_ENV,
  cpuFeatures,
  type CpuLevel,
  cpuLevelArch,
  cpuLevelFromNumber,
  cpuLevelsWith,
  forcedCpuLevel,
  hostArch,
  hostCpuFeatures,
  isCpuLevel,
  missingCpuFeatures,
} from "./cpu_level.ts";
import { KernelError, STATUS_CODES, statusErrorCode } from "./errors.ts";
import { type OnebitSymbols, symbols as symbolTable } from "./symbols.ts";

/** The ABI version this daemon is written against (`abi_version` in `kernels/src/root.zig`). */
export const ABI_VERSION = 1;

/** Threads in one context (`threads_max` in `kernels/src/limits.zig`). */
export const THREADS_MAX = 64;

/** Bytes of a context's last-error message (`message_bytes_max` in `limits.zig`). */
export const MESSAGE_BYTES_MAX = 256;

/** The environment variable that overrides the directory holding the libraries. */
export const LIB_DIR_ENV = "ONEBIT_LIB_DIR";

/** `ob_ctx_create` flag bit 0: run the scalar reference kernels. */
const flagForceScalar = 1;

/**
 * File name of the library built for `level`.
 *
 * @example
 * ```ts
 * import { libraryFileName } from "./library.ts";
 * console.log(libraryFileName("x86_64_v3")); // "libonebit-x86_64_v3.so"
 * ```
 */
export function libraryFileName(level: CpuLevel): string {
  return `libonebit-${level}.so`;
}

/**
 * The directory libraries are loaded from: `ONEBIT_LIB_DIR` when set (and readable), else
 * `<repo>/zig-out/lib`, where `zig build` installs them.
 *
 * @example
 * ```ts
 * import { defaultLibDir } from "./library.ts";
 * console.log(defaultLibDir()); // e.g. "/opt/onebit/zig-out/lib"
 * ```
 */
export function defaultLibDir(): string {
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get(LIB_DIR_ENV);
  } catch {
    fromEnv = undefined;
  }
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return fileURLToPath(new URL("../../zig-out/lib", import.meta.url));
}

/** Options of {@linkcode openKernels}. */
export interface OpenKernelsOptions {
  /** Level to load. Default: `ONEBIT_CPU_LEVEL`, else the best level of this CPU. */
  level?: CpuLevel;
  /**
   * Library file to load. Default: `<libDir>/libonebit-<level>.so`. With a path and no level
   * (neither option nor `ONEBIT_CPU_LEVEL`), the library's own level is accepted.
   */
  path?: string;
  /** Directory of the libraries. Default: {@linkcode defaultLibDir}. */
  libDir?: string;
  /**
   * `/proc/cpuinfo` text used to pick the level and to refuse a level the CPU lacks before
   * mapping its library. Default: this CPU's flags (`hostCpuFeatures`). Text without flags
   * for this architecture (`""`) skips that check and leaves it to `ob_cpu_check`.
   */
  cpuinfo?: string;
}

/** What a loaded library reports about itself, checked by {@linkcode checkLibraryIdentity}. */
export interface LibraryIdentity {
  /** `ob_abi_version()`. */
  abiVersion: number;
  /** `ob_cpu_level()`. */
  levelNumber: number;
  /** Runs `ob_cpu_check()`: called only once the level matched, as it is code of that level. */
  cpuCheck: () => number;
}

/**
 * Checks a loaded library's identity against what the caller asked for and returns its
 * level. Throws `abi_mismatch` (names both versions), `level_mismatch` (names both levels) or
 * `unsupported_cpu` (the library's own CPU check failed).
 *
 * @example
 * ```ts
 * import { checkLibraryIdentity } from "./library.ts";
 * const identity = { abiVersion: 1, levelNumber: 2, cpuCheck: () => 0 };
 * console.log(checkLibraryIdentity(identity, "x86_64_v4", "/lib/libonebit-x86_64_v4.so"));
 * ```
 */
export function checkLibraryIdentity(
  identity: LibraryIdentity,
  requested: CpuLevel | undefined,
  path: string,
): CpuLevel {
  if (identity.abiVersion !== ABI_VERSION) {
    throw new KernelError(
      "abi_mismatch",
      `Cannot use ${path}: its ABI version is ${identity.abiVersion}, this daemon expects ` +
        `${ABI_VERSION} (rebuild the kernels with scripts/build_kernels.sh)`,
    );
  }
  const level = cpuLevelFromNumber(identity.levelNumber);
  if (level === undefined || (requested !== undefined && level !== requested)) {
    throw new KernelError(
      "level_mismatch",
      `Cannot use ${path}: it was built for CPU level ${level ?? identity.levelNumber}, ` +
        `expected ${requested ?? "a known level"}`,
    );
  }
  const cpuStatus = identity.cpuCheck();
  if (cpuStatus !== STATUS_CODES.ok) {
    const code = statusErrorCode(cpuStatus);
    throw new KernelError(
      code,
      `Cannot use ${path}: this CPU lacks features of CPU level ${level} (ob_cpu_check ` +
        `returned ${code} ${cpuStatus}); set ONEBIT_CPU_LEVEL to a lower level`,
      { status: cpuStatus },
    );
  }
  return level;
}

/**
 * Refuses a level this machine cannot run before its library is mapped. Unknown `features`
 * leave the check to the library.
 */
function checkHostCanRun(level: CpuLevel, features: ReadonlySet<string> | undefined): void {
  const arch = hostArch();
  const best = cpuLevelsWith(features, arch).at(-1);
  if (cpuLevelArch(level) !== arch) {
    throw new KernelError(
      "unsupported_cpu",
      `Cannot load CPU level ${level} on this ${arch} machine (best level here: ${best})`,
    );
  }
  if (features === undefined) return;
  const missing = missingCpuFeatures(level, features);
  if (missing.length > 0) {
    throw new KernelError(
      "unsupported_cpu",
      `Cannot load CPU level ${level}: this CPU lacks ${missing.join(", ")} (best level ` +
        `here: ${best}; unset ${CPU_LEVEL_ENV} or pick a lower level)`,
    );
  }
}

function requestedLevel(
  options: OpenKernelsOptions,
  features: ReadonlySet<string> | undefined,
): CpuLevel | undefined {
  if (options.level !== undefined) {
    if (!isCpuLevel(options.level)) {
      throw new KernelError("invalid_argument", `level is '${options.level}', not a CPU level`);
    }
    return options.level;
  }
  const forced = forcedCpuLevel();
  if (forced !== undefined || options.path !== undefined) return forced;
  return cpuLevelsWith(features, hostArch()).at(-1);
}

/**
 * Opens libonebit for a CPU level and checks it (see {@linkcode OpenKernelsOptions}).
 * Throws {@linkcode KernelError}: `unsupported_cpu` when the CPU lacks the level (before
 * mapping it), `library_not_found` naming the missing file, `library_open_failed`,
 * `abi_mismatch`, `level_mismatch`, `invalid_argument` for an unknown level.
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * const lib = openKernels();
 * const ctx = new KernelContext(lib, { threads: 2 });
 * console.log(lib.level, ctx.variant); // e.g. "x86_64_v4" "simd"
 * ctx.destroy();
 * lib.close();
 * ```
 */
export function openKernels(options: OpenKernelsOptions = {}): KernelLibrary {
  const features = options.cpuinfo === undefined
    ? hostCpuFeatures()
    : cpuFeatures(options.cpuinfo, hostArch());
  const requested = requestedLevel(options, features);
  if (requested !== undefined) checkHostCanRun(requested, features);
  const path = options.path ??
    `${options.libDir ?? defaultLibDir()}/${libraryFileName(requested!)}`;
  try {
    Deno.statSync(path);
  } catch (error) {
    // Only a missing file is reported here: a worker without read permission may still
    // map the library, which needs only --allow-ffi.
    // Any other problem is left for dlopen to report.
    if (error instanceof Deno.errors.NotFound) {
      throw new KernelError(
        "library_not_found",
        `Cannot load kernels: ${path} does not exist (build it with ` +
          `'bash scripts/build_kernels.sh' or set ${LIB_DIR_ENV})`,
        { cause: error },
      );
    }
  }
  let dylib: Deno.DynamicLibrary<typeof symbolTable>;
  try {
    dylib = Deno.dlopen(path, symbolTable);
  } catch (error) {
    throw new KernelError(
      "library_open_failed",
      `Cannot load kernels from ${path}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  try {
    const { ob_abi_version, ob_cpu_level, ob_cpu_check } = dylib.symbols;
    const identity = {
      abiVersion: ob_abi_version(),
      levelNumber: ob_cpu_level(),
      cpuCheck: ob_cpu_check,
    };
    // A library given by path alone gets the same pre-check once its level is known.
    const libraryLevel = cpuLevelFromNumber(identity.levelNumber);
    if (requested === undefined && libraryLevel !== undefined) {
      checkHostCanRun(libraryLevel, features);
    }
    const level = checkLibraryIdentity(identity, requested, path);
    return new KernelLibrary(dylib, level, path, identity.abiVersion);
  } catch (error) {
    dylib.close();
    throw error;
  }
}

/**
 * A loaded libonebit. Create it with {@linkcode openKernels}; close it with `close()` once
 * every context made from it is destroyed.
 */
export class KernelLibrary {
  /** The CPU level the library was built for. */
  readonly level: CpuLevel;
  /** The file it was loaded from. */
  readonly path: string;
  /** Its ABI version (equal to {@linkcode ABI_VERSION}). */
  readonly abiVersion: number;
  #dylib: Deno.DynamicLibrary<typeof symbolTable>;
  #symbols: OnebitSymbols | undefined;
  #users = 0;

  /** Wraps an opened library; use {@linkcode openKernels} instead. */
  constructor(
    dylib: Deno.DynamicLibrary<typeof symbolTable>,
    level: CpuLevel,
    path: string,
    abiVersion: number,
  ) {
    this.#dylib = dylib;
    // Destructured once: reading `dylib.symbols` per call costs a property walk.
    this.#symbols = dylib.symbols;
    this.level = level;
    this.path = path;
    this.abiVersion = abiVersion;
  }

  /** The native functions. Throws `closed` after `close()`. */
  get symbols(): OnebitSymbols {
    if (this.#symbols === undefined) throw this.#closedError("read symbols of");
    return this.#symbols;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#symbols === undefined;
  }

  /** Contexts and other holders that keep the library open. */
  get users(): number {
    return this.#users;
  }

  /**
   * Registers a user (a context, or a caller that holds `symbols` across calls) that must be
   * gone before `close()`. Throws `closed` when the library is closed.
   */
  retain(): void {
    if (this.closed) throw this.#closedError("use");
    this.#users++;
  }

  /** Unregisters a user added by `retain()`. */
  release(): void {
    if (this.#users === 0) throw new Error("KernelLibrary.release without a matching retain");
    this.#users--;
  }

  /**
   * Unloads the library. Idempotent. Throws `busy` while users are alive, because calling a
   * symbol of an unloaded library crashes the process.
   */
  close(): void {
    if (this.closed) return;
    if (this.#users > 0) {
      throw new KernelError(
        "busy",
        `Cannot close ${this.path}: ${this.#users} user(s) still alive ` +
          `(destroy its kernel contexts first)`,
      );
    }
    this.#symbols = undefined;
    this.#dylib.close();
  }

  /** Closes the library at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  #closedError(what: string): KernelError {
    return new KernelError("closed", `Cannot ${what} ${this.path}: the library is closed`);
  }
}

/** Options of {@linkcode KernelContext}. */
export interface KernelContextOptions {
  /**
   * Pool threads, the caller's thread included, 1 to {@linkcode THREADS_MAX}.
   * Default: `navigator.hardwareConcurrency`, at most {@linkcode THREADS_MAX}.
   */
  threads?: number;
  /** Run the scalar reference kernels instead of SIMD. Default: false. */
  forceScalar?: boolean;
}

/**
 * A native kernel context: a thread pool, per-thread scratch memory, the kernel variant and
 * the last error message. Pass `handle` as the first argument of kernel symbols and hand
 * their status to `check`.
 *
 * @example
 * ```ts
 * import { KernelContext, openKernels } from "./library.ts";
 * const lib = openKernels();
 * const ctx = new KernelContext(lib, { threads: 1, forceScalar: true });
 * console.log(ctx.threads, ctx.variant); // 1 "scalar"
 * ctx.destroy();
 * lib.close();
 * ```
 */
export class KernelContext {
  /** The library the context was created from. */
  readonly lib: KernelLibrary;
  /** Pool threads, the caller's included. */
  readonly threads: number;
  /** Which kernels run: the scalar reference or the SIMD variant of the library's level. */
  readonly variant: "scalar" | "simd";
  #handle: Deno.PointerObject | null;
  /** Reused for every last-error read; 256 bytes, so never on V8's moving heap. */
  #message = new Uint8Array(MESSAGE_BYTES_MAX);
  #decoder = new TextDecoder();

  /**
   * Creates a native context. Throws `invalid_argument` (with the value) for a thread count
   * outside 1..{@linkcode THREADS_MAX}, `closed` when the library is closed, and the native
   * status (`out_of_memory`, `thread_spawn_failed`, `unsupported_cpu`) when creation fails.
   */
  constructor(lib: KernelLibrary, options: KernelContextOptions = {}) {
    const threads = options.threads ??
      Math.min(Math.max(navigator.hardwareConcurrency, 1), THREADS_MAX);
    const forceScalar = options.forceScalar ?? false;
    // A non-integer would be silently converted by the u32 parameter; the range itself is
    // checked by the library, which owns the limit.
    if (!Number.isInteger(threads) || threads < 0 || threads > 0xffff_ffff) {
      throw new KernelError(
        "invalid_argument",
        `Cannot create a kernel context: threads is ${threads}, must be an integer from 1 ` +
          `to ${THREADS_MAX}`,
      );
    }
    lib.retain();
    try {
      const { ob_ctx_create, ob_ctx_threads, ob_ctx_variant } = lib.symbols;
      const out = new BigUint64Array(1);
      const status = ob_ctx_create(threads, forceScalar ? flagForceScalar : 0, out);
      if (status !== STATUS_CODES.ok) {
        const name = statusErrorCode(status);
        const hint = name === "invalid_argument" ? `; threads must be 1 to ${THREADS_MAX}` : "";
        throw new KernelError(
          name,
          `Cannot create a kernel context with ${threads} thread(s)` +
            `${forceScalar ? " (scalar)" : ""}: ${name} (${status})${hint}`,
          { status },
        );
      }
      const handle = Deno.UnsafePointer.create(out[0]);
      if (handle === null) throw new Error("ob_ctx_create returned ok and a null context");
      this.#handle = handle;
      this.threads = ob_ctx_threads(handle);
      this.variant = ob_ctx_variant(handle) === 0 ? "scalar" : "simd";
    } catch (error) {
      lib.release();
      throw error;
    }
    this.lib = lib;
  }

  /** The native context pointer. Throws `destroyed` after `destroy()`. */
  get handle(): Deno.PointerObject {
    if (this.#handle === null) throw this.#destroyedError("use");
    return this.#handle;
  }

  /** True after `destroy()`. */
  get destroyed(): boolean {
    return this.#handle === null;
  }

  /**
   * The context's last error message (empty when the last call succeeded or set none).
   * Throws `destroyed` after `destroy()`.
   */
  lastError(): string {
    const length = this.lib.symbols.ob_ctx_last_error(
      this.handle,
      this.#message,
      this.#message.length,
    );
    return this.#decoder.decode(this.#message.subarray(0, length));
  }

  /**
   * Does nothing for `ok`; otherwise throws a {@linkcode KernelError} with the status name as
   * code, the status number, `what` and the context's last error message.
   *
   * @example
   * ```ts ignore
   * ctx.check(lib.symbols.ob_bconv2d(ctx.handle, params, input, input.length), "bconv2d b3");
   * ```
   */
  check(status: number, what: string): void {
    if (status === STATUS_CODES.ok) return;
    const name = statusErrorCode(status);
    const message = this.lastError();
    throw new KernelError(
      name,
      `${what} failed: ${name} (${status})${message === "" ? "" : `: ${message}`}`,
      { status },
    );
  }

  /** Frees the native context and releases the library. Idempotent. */
  destroy(): void {
    if (this.#handle === null) return;
    const handle = this.#handle;
    this.#handle = null;
    this.lib.symbols.ob_ctx_destroy(handle);
    this.lib.release();
  }

  /** Destroys the context at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  #destroyedError(what: string): KernelError {
    return new KernelError("destroyed", `Cannot ${what} the kernel context: it was destroyed`);
  }
}
