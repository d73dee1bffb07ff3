/**
 * The plugin host: plugin workers, queues, hot swaps, restarts.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./types.ts";
export * from "./manifest.ts";
export * from "./host.ts";
export * from "./last_frame.ts";
export {
  type BackoffOptions,
  nextBackoffMs,
  PluginTask,
  type TaskDeps,
  type VersionSpec,
} from "./task.ts";
export {
  PluginWorker,
  type PluginWorkerOptions,
  type PluginWorkerState,
  WORKER_OPTIONS_FLAG,
  type WorkerJob,
  type WorkerOutcome,
  workerPermissions,
  type WorkerReady,
} from "./plugin_worker.ts";
