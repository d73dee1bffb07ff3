/**
 * Small sysfs helpers shared by the power and thermal readers: attribute files are one
 * value and a newline.
 *
 * @module
 */

/** Reads a sysfs attribute and trims it. Throws what Deno throws (NotFound, PermissionDenied). */
export async function readAttribute(path: string): Promise<string> {
  return (await Deno.readTextFile(path)).trim();
}

/** Reads an attribute holding an integer; throws a `SyntaxError` naming the path and the text otherwise. */
export async function readInteger(path: string): Promise<number> {
  const text = await readAttribute(path);
  if (!/^-?\d+$/.test(text)) {
    throw new SyntaxError(
      `sysfs attribute '${path}' holds '${text.slice(0, 40)}', expected an integer`,
    );
  }
  return Number(text);
}

/** Reads an attribute, or returns `null` when it does not exist or cannot be read. */
export async function readOptional(path: string): Promise<string | null> {
  try {
    return await readAttribute(path);
  } catch {
    return null;
  }
}

/** Whether a file exists (any error reads as no). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Most entries listed from one sysfs folder: a bound on scanning a hostile tree. */
export const DIRECTORY_ENTRIES_MAX = 4096;

/**
 * Names of the entries of `dir` (files, folders and symlinks, as sysfs class folders are
 * symlinks), sorted, at most {@linkcode DIRECTORY_ENTRIES_MAX}. A missing or unreadable
 * folder lists as empty.
 */
export async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      names.push(entry.name);
      if (names.length >= DIRECTORY_ENTRIES_MAX) break;
    }
  } catch {
    return [];
  }
  return names.sort(naturalCompare);
}

/** Orders `hwmon2` before `hwmon10`. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}
