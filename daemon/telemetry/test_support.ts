/**
 * Fixture sysfs trees for the telemetry tests, written into temporary folders.
 *
 * @module
 */

/** Files of a fixture tree: relative path → content (a newline is appended, as sysfs does). */
export type SysfsTree = Readonly<Record<string, string | number>>;

/** Writes `files` under `root` (creating folders); existing files are overwritten. */
export async function writeTree(root: string, files: SysfsTree): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, `${content}\n`);
  }
}

/**
 * Runs `body` with a fresh temporary folder and removes it afterwards.
 *
 * @example
 * ```ts
 * import { withTempDir, writeTree } from "./test_support.ts";
 * await withTempDir(async (dir) => await writeTree(dir, { "thermal_zone0/temp": 42000 }));
 * ```
 */
export async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "onebit_sysfs_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
