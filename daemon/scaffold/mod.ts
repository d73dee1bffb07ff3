/**
 * Plugin scaffolding for `onebit plugin new`.
 *
 * @module
 */

export * from "./scaffold.ts";
