/**
 * The daemon config: its type, schema, defaults, loading and reloading.
 *
 * @example
 * ```ts ignore
 * import { ConfigStore } from "./mod.ts";
 * const store = await ConfigStore.open();
 * console.log(store.current.listen);
 * ```
 *
 * @module
 */

export type { Config, PluginLimits, SourceConfig } from "./types.ts";
export { ConfigError, type ConfigIssue } from "./errors.ts";
export {
  configIssues,
  configSchema,
  type ConfigSchemaOptions,
  DEFAULT_CONFIG,
  isLoopbackHost,
  NAME_PATTERN,
  parseConfig,
  sourceConfigSchema,
  TOKEN_ENV_PREFIX,
} from "./schema.ts";
export {
  CONFIG_BYTES_MAX,
  type ConfigListener,
  ConfigStore,
  DEFAULT_CONFIG_PATH,
  loadConfig,
  type LoadConfigOptions,
  type LoadedConfig,
  type ReloadResult,
  resolveConfigPaths,
} from "./load.ts";
