/**
 * The onebit plugin SDK: what a plugin module imports.
 *
 * @module
 */

export * from "./image.ts";
export * from "./plugin.ts";
