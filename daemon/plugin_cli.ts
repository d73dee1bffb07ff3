/**
 * `onebit plugin new|check` (being written; this interim file only keeps main.ts loading).
 *
 * @module
 */

/** Runs `onebit plugin args`. */
export function pluginCommand(_args: string[]): Promise<number> {
  console.error("onebit plugin: not available yet");
  return Promise.resolve(2);
}
