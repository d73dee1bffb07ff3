/**
 * Response schemas shared by route areas (they document the API in `/openapi.json`).
 *
 * @module
 */

import { z } from "@hono/zod-openapi";

/** A loaded plugin (`PluginStatus` of host/types.ts). */
export const PluginStatusSchema = z.object({
  name: z.string(),
  version: z.string(),
  manifest: z.record(z.string(), z.unknown()).openapi({ description: "plugin.json" }),
  dir: z.string(),
  state: z.enum(["starting", "ready", "restarting", "failed", "stopping"]),
  readySinceMs: z.number().nullable(),
  reloads: z.number(),
  restarts: z.number(),
  lastError: z.object({ code: z.string(), message: z.string(), atMs: z.number() }).nullable(),
  queueDepth: z.number(),
  queueMax: z.number(),
  inFlight: z.number(),
  concurrency: z.number(),
  threads: z.number(),
  deadlineMs: z.number(),
}).openapi("PluginStatus");

/** A source config as `POST /v1/sources` takes it and `GET /v1/sources` shows it. */
export const SourceConfigSchema = z.object({
  name: z.string().openapi({ example: "camera" }),
  task: z.string().openapi({ example: "detect" }),
  kind: z.enum(["files", "ffmpeg"]),
  input: z.string().openapi({ example: "/dev/video0" }),
  fps: z.number().openapi({ description: "default 10" }),
  loop: z.boolean().openapi({ description: "default false" }),
}).openapi("SourceConfig");

/** A running or finished source (`SourceStatus` of sources/types.ts). */
export const SourceStatusSchema = z.object({
  config: SourceConfigSchema,
  state: z.enum(["running", "ended", "failed", "stopped"]),
  framesRead: z.number(),
  framesSent: z.number(),
  framesDropped: z.number(),
  framesFailed: z.number(),
  error: z.string().nullable(),
  startedAtMs: z.number(),
}).openapi("SourceStatus");

/** The JSON answer of `POST /v1/tasks/{name}/infer`. */
export const InferResponseSchema = z.object({
  task: z.string(),
  version: z.string(),
  frameId: z.number(),
  latencyMs: z.number(),
  queuedMs: z.number(),
  data: z.unknown().openapi({ description: "the plugin's result" }),
  images: z.record(
    z.string(),
    z.object({ mediaType: z.string(), bytes: z.string().openapi({ format: "byte" }) }),
  ).openapi({ description: "result images by name, base64" }),
}).openapi("InferResponse");
