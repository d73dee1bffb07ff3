/**
 * CPU levels: which build of libonebit (`libonebit-<level>.so`) this machine can run.
 *
 * The names and numbers equal `Level` in `kernels/src/cpu.zig` (a test keeps them equal).
 * Detection reads the CPU's feature flags (`/proc/cpuinfo`; on aarch64 the kernel's
 * `AT_HWCAP`) and applies the same rules as the library's own check (`ob_cpu_check`), so the
 * loader never maps a library whose instructions the CPU lacks. The rules are pure functions
 * over the cpuinfo text, tested on fixtures. `ONEBIT_CPU_LEVEL` forces a level.
 *
 * @module
 */

import { KernelError } from "./errors.ts";

/** The CPU levels, in the order of their numbers (index = number). Append-only. */
export const CPU_LEVELS = [
  "x86_64_baseline",
  "x86_64_v3",
  "x86_64_v4",
  "aarch64_generic",
  "aarch64_cortex_a76",
] as const;

/** A build level of libonebit. */
export type CpuLevel = typeof CPU_LEVELS[number];

/** The architectures onebit runs on (as `Deno.build.arch` names them). */
export type CpuArch = "x86_64" | "aarch64";

/** The environment variable that forces a CPU level. */
export const CPU_LEVEL_ENV = "ONEBIT_CPU_LEVEL";

const v3Features = ["avx2", "bmi1", "bmi2", "fma", "f16c", "movbe", "abm|lzcnt", "popcnt"];
const v4Features = [
  ...v3Features,
  "avx512f",
  "avx512dq",
  "avx512cd",
  "avx512bw",
  "avx512vl",
  "avx512_vpopcntdq",
];

/** `/proc/cpuinfo` flags each level needs; `a|b` accepts either spelling. */
const requiredByLevel: Readonly<Record<CpuLevel, readonly string[]>> = {
  x86_64_baseline: [],
  x86_64_v3: v3Features,
  x86_64_v4: v4Features,
  aarch64_generic: ["asimd"],
  aarch64_cortex_a76: ["asimd", "asimddp", "atomics", "asimdhp", "lrcpc"],
};

/**
 * True when `value` names a CPU level.
 *
 * @example
 * ```ts
 * import { isCpuLevel } from "./cpu_level.ts";
 * console.log(isCpuLevel("x86_64_v3"), isCpuLevel("avx2")); // true false
 * ```
 */
export function isCpuLevel(value: string): value is CpuLevel {
  return (CPU_LEVELS as readonly string[]).includes(value);
}

/**
 * The number of a level, as `ob_cpu_level` returns it.
 *
 * @example
 * ```ts
 * import { cpuLevelNumber } from "./cpu_level.ts";
 * console.log(cpuLevelNumber("x86_64_v4")); // 2
 * ```
 */
export function cpuLevelNumber(level: CpuLevel): number {
  return CPU_LEVELS.indexOf(level);
}

/**
 * The level with number `value`, or undefined for a number this daemon does not know.
 *
 * @example
 * ```ts
 * import { cpuLevelFromNumber } from "./cpu_level.ts";
 * console.log(cpuLevelFromNumber(3)); // "aarch64_generic"
 * ```
 */
export function cpuLevelFromNumber(value: number): CpuLevel | undefined {
  return CPU_LEVELS[value];
}

/**
 * The architecture a level's library is compiled for.
 *
 * @example
 * ```ts
 * import { cpuLevelArch } from "./cpu_level.ts";
 * console.log(cpuLevelArch("aarch64_cortex_a76")); // "aarch64"
 * ```
 */
export function cpuLevelArch(level: CpuLevel): CpuArch {
  return level.startsWith("aarch64_") ? "aarch64" : "x86_64";
}

/**
 * The feature flags of the first processor in `cpuinfo` (the text of `/proc/cpuinfo`): the
 * `flags` line on x86_64, the `Features` line on aarch64. Undefined when the text has no such
 * line, e.g. under qemu-user, which shows the host's `/proc/cpuinfo`.
 *
 * @example
 * ```ts
 * import { cpuFeatures } from "./cpu_level.ts";
 * const features = cpuFeatures("Features\t: fp asimd atomics\n", "aarch64");
 * console.log(features?.has("asimd")); // true
 * ```
 */
export function cpuFeatures(cpuinfo: string, arch: CpuArch): Set<string> | undefined {
  const key = arch === "x86_64" ? "flags" : "Features";
  for (const line of cpuinfo.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() !== key) continue;
    return new Set(line.slice(colon + 1).trim().split(/\s+/).filter((flag) => flag !== ""));
  }
  return undefined;
}

/**
 * The flags `level` needs that `features` lacks (`a|b` when either spelling would do).
 * Empty when the CPU can run the level.
 *
 * @example
 * ```ts
 * import { missingCpuFeatures } from "./cpu_level.ts";
 * console.log(missingCpuFeatures("x86_64_v3", new Set(["avx2", "fma"]))); // ["bmi1", ...]
 * ```
 */
export function missingCpuFeatures(level: CpuLevel, features: ReadonlySet<string>): string[] {
  return requiredByLevel[level].filter((required) =>
    !required.split("|").some((spelling) => features.has(spelling))
  );
}

/**
 * The levels of `arch` a CPU with these feature flags can run, lowest first. Unknown
 * features (undefined) give only the lowest level, which every CPU of the arch runs.
 *
 * @example
 * ```ts
 * import { cpuLevelsWith } from "./cpu_level.ts";
 * console.log(cpuLevelsWith(new Set(["fp", "asimd"]), "aarch64")); // ["aarch64_generic"]
 * ```
 */
export function cpuLevelsWith(
  features: ReadonlySet<string> | undefined,
  arch: CpuArch,
): CpuLevel[] {
  const levels = CPU_LEVELS.filter((level) => cpuLevelArch(level) === arch);
  if (features === undefined) return [levels[0]];
  return levels.filter((level) => missingCpuFeatures(level, features).length === 0);
}

/**
 * The levels of `arch` a CPU with this `cpuinfo` text can run, lowest first. When the text
 * carries no flags for `arch`, only the lowest level, which every CPU of the arch runs.
 *
 * @example
 * ```ts
 * import { supportedCpuLevels } from "./cpu_level.ts";
 * const cpuinfo = "flags\t: fpu sse2\n";
 * console.log(supportedCpuLevels(cpuinfo, "x86_64")); // ["x86_64_baseline"]
 * ```
 */
export function supportedCpuLevels(cpuinfo: string, arch: CpuArch): CpuLevel[] {
  return cpuLevelsWith(cpuFeatures(cpuinfo, arch), arch);
}

/**
 * The best level a CPU with this `cpuinfo` text can run: a pure function, so fixtures test it.
 *
 * @example
 * ```ts
 * import { detectCpuLevel } from "./cpu_level.ts";
 * const cpuinfo = "Features\t: fp asimd atomics asimdhp lrcpc asimddp\n";
 * console.log(detectCpuLevel(cpuinfo, "aarch64")); // "aarch64_cortex_a76"
 * ```
 */
export function detectCpuLevel(cpuinfo: string, arch: CpuArch): CpuLevel {
  return cpuLevelsWith(cpuFeatures(cpuinfo, arch), arch).at(-1)!;
}

/** aarch64 `AT_HWCAP` bits (Linux `asm/hwcap.h`), named as `/proc/cpuinfo` names them. */
const aarch64HwcapBits = [
  "fp",
  "asimd",
  "evtstrm",
  "aes",
  "pmull",
  "sha1",
  "sha2",
  "crc32",
  "atomics",
  "fphp",
  "asimdhp",
  "cpuid",
  "asimdrdm",
  "jscvt",
  "fcma",
  "lrcpc",
  "dcpop",
  "sha3",
  "sm3",
  "sm4",
  "asimddp",
] as const;

/**
 * The feature names of an aarch64 `AT_HWCAP` value, as `/proc/cpuinfo` spells them: the same
 * bits the library's `ob_cpu_check` tests.
 *
 * @example
 * ```ts
 * import { hwcapFeatures } from "./cpu_level.ts";
 * console.log([...hwcapFeatures(0b11n)]); // ["fp", "asimd"]
 * ```
 */
export function hwcapFeatures(hwcap: bigint): Set<string> {
  return new Set(aarch64HwcapBits.filter((_, bit) => (hwcap >> BigInt(bit)) & 1n));
}

/**
 * The architecture this process runs on. Throws `unsupported_cpu` on any other than x86_64
 * and aarch64.
 */
export function hostArch(): CpuArch {
  const arch = Deno.build.arch as string;
  if (arch === "x86_64" || arch === "aarch64") return arch;
  throw new KernelError("unsupported_cpu", `onebit runs on x86_64 and aarch64, not on ${arch}`);
}

const libcSymbols = {
  getauxval: { parameters: ["u64"], result: "u64" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

/**
 * Runs `use` with glibc's symbols, or returns undefined without FFI permission or glibc.
 *
 * Why: Deno 2.9 lets only `--allow-all` read files under /proc, even with `--allow-read`,
 * while every process that runs kernels has `--allow-ffi` anyway. Through libc it reads the
 * same world-readable files, and on aarch64 asks the kernel for `AT_HWCAP` directly, which
 * is what `ob_cpu_check` tests and what qemu-user emulates (its /proc/cpuinfo is the host's).
 */
function withLibc<T>(use: (libc: Deno.DynamicLibrary<typeof libcSymbols>["symbols"]) => T) {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
  let libc: Deno.DynamicLibrary<typeof libcSymbols>;
  try {
    libc = Deno.dlopen("libc.so.6", libcSymbols);
  } catch {
    return undefined;
  }
  try {
    return use(libc.symbols);
  } finally {
    libc.close();
  }
}

/** Reads at most `bytes_max` bytes of a file through libc (O_RDONLY | O_CLOEXEC). */
function readThroughLibc(path: string, bytesMax: number): string | undefined {
  return withLibc((libc) => {
    const fd = libc.open(new TextEncoder().encode(`${path}\0`), 0o2000000);
    if (fd < 0) return undefined;
    try {
      const bytes = new Uint8Array(bytesMax);
      let length = 0;
      // Bounded: every pass either fills more of the buffer or ends the loop.
      while (length < bytes.length) {
        const count = Number(
          libc.read(fd, bytes.subarray(length), BigInt(bytes.length - length)),
        );
        if (count <= 0) break;
        length += count;
      }
      return new TextDecoder().decode(bytes.subarray(0, length));
    } finally {
      libc.close(fd);
    }
  });
}

/** `/proc/cpuinfo` bytes read: the first processor, which detection uses, fits many times. */
const cpuinfoBytesMax = 64 * 1024;

/**
 * The text of `/proc/cpuinfo` (at least its first processor), or `""` when it cannot be read
 * (neither `--allow-all` nor `--allow-ffi`, or not Linux); `""` carries no flags.
 */
export function readCpuinfo(): string {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    return readThroughLibc("/proc/cpuinfo", cpuinfoBytesMax) ?? "";
  }
}

/**
 * The feature flags of this CPU, or undefined when they cannot be read: on aarch64 from the
 * kernel's `AT_HWCAP` (needs `--allow-ffi`), else from `/proc/cpuinfo`.
 */
export function hostCpuFeatures(arch: CpuArch = hostArch()): Set<string> | undefined {
  if (arch === "aarch64") {
    const hwcap = withLibc((libc) => libc.getauxval(16n /* AT_HWCAP */));
    if (hwcap !== undefined && hwcap !== 0n) return hwcapFeatures(hwcap);
  }
  return cpuFeatures(readCpuinfo(), arch);
}

/**
 * Every level this CPU can run, lowest first (ignores `ONEBIT_CPU_LEVEL`).
 *
 * @example
 * ```ts
 * import { hostCpuLevels } from "./cpu_level.ts";
 * console.log(hostCpuLevels()); // e.g. ["x86_64_baseline", "x86_64_v3", "x86_64_v4"]
 * ```
 */
export function hostCpuLevels(): CpuLevel[] {
  const arch = hostArch();
  return cpuLevelsWith(hostCpuFeatures(arch), arch);
}

/**
 * The level forced by `ONEBIT_CPU_LEVEL`, or undefined when it is unset, empty or not
 * readable (no env permission). Throws `invalid_argument` when it names no level.
 *
 * @example
 * ```ts
 * import { forcedCpuLevel } from "./cpu_level.ts";
 * console.log(forcedCpuLevel() ?? "not forced");
 * ```
 */
export function forcedCpuLevel(): CpuLevel | undefined {
  let value: string | undefined;
  try {
    value = Deno.env.get(CPU_LEVEL_ENV);
  } catch {
    return undefined;
  }
  if (value === undefined || value === "") return undefined;
  if (!isCpuLevel(value)) {
    throw new KernelError(
      "invalid_argument",
      `${CPU_LEVEL_ENV} is '${value}', expected one of ${CPU_LEVELS.join(", ")}`,
    );
  }
  return value;
}

/**
 * The level this process should load: `ONEBIT_CPU_LEVEL` when set, else the best level the
 * CPU can run (see {@linkcode hostCpuFeatures}).
 *
 * @example
 * ```ts
 * import { hostCpuLevel } from "./cpu_level.ts";
 * console.log(hostCpuLevel()); // e.g. "x86_64_v4"
 * ```
 */
export function hostCpuLevel(): CpuLevel {
  return forcedCpuLevel() ?? hostCpuLevels().at(-1)!;
}
