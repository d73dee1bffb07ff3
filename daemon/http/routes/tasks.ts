/**
 * `POST /v1/tasks/{name}/infer`: run one frame through a plugin; `GET /v1/tasks/{name}/frame`:
 * the last processed frame of a plugin, whatever fed it (an upload, a camera, a folder).
 *
 * The HTTP layer does not decode images (the plugin's worker does, DESIGN.md section 2): it
 * checks the media type, the size and the raw-tensor shape header, and hands the encoded
 * bytes to the host. The frame route answers the kept bytes as they came in, encoded or raw.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { LAST_FRAME_IMAGES_MAX } from "../../host/last_frame.ts";
import type { EncodedFrameImage } from "../../host/types.ts";
import type { HttpDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { BEARER_SECURITY, errorResponseSpec, NameParamSchema, newRouter } from "../router.ts";
import { InferResponseSchema } from "../schemas.ts";
import { pluginNotFound } from "./plugins.ts";

/** Encoded image media types the infer route takes as a body or a multipart part. */
export const IMAGE_MEDIA_TYPES: readonly string[] = Object.freeze([
  "image/png",
  "image/jpeg",
  "image/x-portable-pixmap",
  "image/x-portable-graymap",
]);

/** Media type of a raw u8 HWC tensor body; its shape is in {@linkcode SHAPE_HEADER}. */
export const RAW_MEDIA_TYPE = "application/octet-stream";

/** Header giving a raw tensor's shape: `HxWxC`, C in {1, 3}. */
export const SHAPE_HEADER = "X-Onebit-Shape";

/** Largest height or width of a raw tensor. */
const SIDE_MAX = 65_535;

const binary = { type: "string" as const, format: "binary" };

/** The image media types a frame may have, as OpenAPI content (request and `/frame`). */
const imageContent = {
  "image/png": { schema: binary },
  "image/jpeg": { schema: binary },
  "image/x-portable-pixmap": { schema: binary },
  "image/x-portable-graymap": { schema: binary },
  [RAW_MEDIA_TYPE]: { schema: binary },
};

const infer = createRoute({
  method: "post",
  path: "/v1/tasks/{name}/infer",
  summary: "Run one frame through a plugin",
  description:
    `The body is one image (PNG, JPEG, PPM/PGM), a raw u8 HWC tensor (${RAW_MEDIA_TYPE} ` +
    `with header ${SHAPE_HEADER}: HxWxC, C 1 or 3), or multipart/form-data with 1 or 2 image ` +
    "parts (pair tasks such as matching). The plugin's worker decodes and resizes it.",
  security: BEARER_SECURITY,
  request: {
    params: NameParamSchema,
    query: z.object({
      image: z.string().min(1).max(128).optional().openapi({
        description: "answer with the raw bytes of this result image instead of JSON",
      }),
      deadlineMs: z.coerce.number().int().min(1).max(600_000).optional().openapi({
        description: "overrides the plugin's deadline for this frame, ms",
      }),
    }),
    headers: z.object({
      "x-onebit-shape": z.string().optional().openapi({
        description: `${SHAPE_HEADER}: HxWxC of a raw tensor body`,
        example: "224x224x3",
      }),
    }),
    body: {
      required: true,
      content: {
        ...imageContent,
        "multipart/form-data": {
          schema: {
            type: "object",
            description: "1 or 2 image parts, in order",
            properties: { image: binary, image2: binary },
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: "the result (JSON), or with ?image= the bytes of that result image",
      content: {
        "application/json": { schema: InferResponseSchema },
        "image/png": { schema: binary },
      },
    },
    400: errorResponseSpec(
      "bad body, shape header or image (`bad_request`, `bad_shape`, `bad_image`)",
    ),
    401: errorResponseSpec("token missing or wrong (`unauthorized`)"),
    404: errorResponseSpec(
      "no such plugin or result image (`plugin_not_found`, `image_not_found`)",
    ),
    413: errorResponseSpec("body or image too large (`body_too_large`, `image_too_large`)"),
    415: errorResponseSpec("media type not taken (`unsupported_media_type`)"),
    502: errorResponseSpec("the plugin failed on this frame (`plugin_failed`)"),
    503: errorResponseSpec("queue full (`queue_full`), with Retry-After"),
    504: errorResponseSpec("not done in time (`deadline_exceeded`)"),
  },
});

/** Header of the frame route: the frame number, as in the `result` event of that frame. */
export const FRAME_ID_HEADER = "X-Onebit-Frame-Id";

/** Header of the frame route: how many images the frame has (2 for pair tasks). */
export const FRAME_IMAGES_HEADER = "X-Onebit-Frame-Images";

const frame = createRoute({
  method: "get",
  path: "/v1/tasks/{name}/frame",
  summary: "The last processed frame of a plugin",
  description: "The input bytes of the last frame whose result was published (on " +
    "`/v1/events`), as they came in: an encoded image, or a raw u8 HWC tensor " +
    `(${RAW_MEDIA_TYPE} with ${SHAPE_HEADER}). The daemon keeps a copy of at most 4 frames ` +
    "per second per plugin, so this frame may be a little older than the last result.",
  request: {
    params: NameParamSchema,
    query: z.object({
      index: z.coerce.number().int().min(0).max(LAST_FRAME_IMAGES_MAX - 1).optional()
        .openapi({ description: "image of the frame, 0-based (pair tasks have 2). Default 0" }),
    }),
  },
  responses: {
    200: {
      description: "the image bytes, with the frame's media type",
      headers: z.object({
        [FRAME_ID_HEADER.toLowerCase()]: z.string().openapi({ example: "42" }),
        [FRAME_IMAGES_HEADER.toLowerCase()]: z.string().openapi({ example: "1" }),
        [SHAPE_HEADER.toLowerCase()]: z.string().optional().openapi({
          description: "HxWxC, raw tensors only",
          example: "224x224x3",
        }),
      }),
      content: imageContent,
    },
    400: errorResponseSpec("bad name or index (`bad_request`)"),
    401: errorResponseSpec("token missing or wrong (`unauthorized`)"),
    404: errorResponseSpec(
      "no such plugin, or no processed frame yet (`plugin_not_found`, `frame_not_found`)",
    ),
  },
});

/** The essence of a Content-Type: `image/png; x=y` → `image/png`. */
export function mediaTypeEssence(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * Parses and checks `X-Onebit-Shape` against the body: `HxWxC` with H, W in 1..65535, C in
 * {1, 3}, H*W at most `pixelsMax`, and H*W*C equal to `bytes`. Throws `bad_shape` (400) or
 * `image_too_large` (413).
 *
 * @example
 * ```ts
 * import { parseShapeHeader } from "./tasks.ts";
 * console.log(parseShapeHeader("2x3x1", 6, 1 << 24)); // [2, 3, 1]
 * ```
 */
export function parseShapeHeader(
  header: string | undefined,
  bytes: number,
  pixelsMax: number,
): [number, number, number] {
  if (header === undefined) {
    throw new HttpError(
      "bad_shape",
      `a ${RAW_MEDIA_TYPE} body needs the header ${SHAPE_HEADER}: HxWxC (C 1 or 3)`,
    );
  }
  const match = /^\s*(\d{1,5})x(\d{1,5})x(\d{1,5})\s*$/i.exec(header);
  if (match === null) {
    throw new HttpError("bad_shape", `${SHAPE_HEADER} is '${header.slice(0, 64)}', expected HxWxC`);
  }
  const [height, width, channels] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (height < 1 || width < 1 || height > SIDE_MAX || width > SIDE_MAX) {
    throw new HttpError(
      "bad_shape",
      `${SHAPE_HEADER} is '${header}': height and width must be 1..${SIDE_MAX}`,
    );
  }
  if (channels !== 1 && channels !== 3) {
    throw new HttpError(
      "bad_shape",
      `${SHAPE_HEADER} is '${header}': channels is ${channels}, expected 1 or 3`,
    );
  }
  if (height * width > pixelsMax) {
    throw new HttpError(
      "image_too_large",
      `${SHAPE_HEADER} is '${header}': ${
        height * width
      } pixels, over the limit of ${pixelsMax} (limits.imagePixelsMax)`,
    );
  }
  if (height * width * channels !== bytes) {
    throw new HttpError(
      "bad_shape",
      `${SHAPE_HEADER} is '${header}' (${
        height * width * channels
      } bytes), but the body is ${bytes} bytes`,
    );
  }
  return [height, width, channels];
}

function unsupported(mediaType: string, where: string): never {
  throw new HttpError(
    "unsupported_media_type",
    `${where} is '${mediaType || "(none)"}', expected one of ${
      [...IMAGE_MEDIA_TYPES, RAW_MEDIA_TYPE, "multipart/form-data"].join(", ")
    }`,
  );
}

async function multipartImages(c: Context): Promise<EncodedFrameImage[]> {
  let form: FormData;
  try {
    form = await c.req.formData();
  } catch (error) {
    throw new HttpError("bad_request", `the multipart body cannot be parsed: ${error}`, {
      cause: error,
    });
  }
  const parts = [...form.entries()];
  if (parts.length < 1 || parts.length > 2) {
    throw new HttpError(
      "bad_request",
      `a multipart body takes 1 or 2 image parts, got ${parts.length}`,
    );
  }
  const images: EncodedFrameImage[] = [];
  for (const [field, value] of parts) {
    if (typeof value === "string") {
      throw new HttpError(
        "bad_request",
        `multipart part '${field}' is text, expected an image file`,
      );
    }
    const mediaType = mediaTypeEssence(value.type);
    if (!IMAGE_MEDIA_TYPES.includes(mediaType)) {
      unsupported(mediaType, `the media type of multipart part '${field}'`);
    }
    if (value.size === 0) throw new HttpError("bad_image", `multipart part '${field}' is empty`);
    images.push({ bytes: new Uint8Array(await value.arrayBuffer()), mediaType });
  }
  return images;
}

async function bodyImages(c: Context, pixelsMax: number): Promise<EncodedFrameImage[]> {
  const mediaType = mediaTypeEssence(c.req.header("content-type"));
  if (mediaType === "multipart/form-data") return await multipartImages(c);
  const raw = mediaType === RAW_MEDIA_TYPE;
  if (!raw && !IMAGE_MEDIA_TYPES.includes(mediaType)) unsupported(mediaType, "Content-Type");
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length === 0) throw new HttpError("bad_image", "the request body is empty");
  if (!raw) return [{ bytes, mediaType }];
  const shape = parseShapeHeader(c.req.header(SHAPE_HEADER), bytes.length, pixelsMax);
  return [{ bytes, mediaType, shape }];
}

/** The task routes. */
export function tasksRoutes(deps: HttpDeps): OpenAPIHono {
  const router = newRouter();
  router.openapi(infer, async (c) => {
    const { name } = c.req.valid("param");
    const query = c.req.valid("query");
    const plugin = deps.host.get(name) ?? pluginNotFound(name, deps.host.list());
    const images = await bodyImages(c, deps.config().limits.imagePixelsMax);
    const frames = plugin.manifest.frames ?? 1;
    if (images.length !== frames) {
      throw new HttpError(
        "bad_request",
        `task '${name}' takes ${frames} image${
          frames === 1 ? "" : "s"
        } per frame, got ${images.length}`,
      );
    }
    const outcome = await deps.host.infer(name, {
      images,
      source: "http",
      ...(query.deadlineMs === undefined ? {} : { deadlineMs: query.deadlineMs }),
    });
    const resultImages = outcome.result.images ?? {};
    if (query.image !== undefined) {
      const image = resultImages[query.image];
      if (image === undefined) {
        const names = Object.keys(resultImages).join(", ");
        throw new HttpError(
          "image_not_found",
          `the result of '${name}' has no image '${query.image}' (it has: ${
            names === "" ? "none" : names
          })`,
        );
      }
      return c.body(image.bytes as Uint8Array<ArrayBuffer>, 200, {
        "content-type": image.mediaType,
      });
    }
    const encoded: Record<string, { mediaType: string; bytes: string }> = {};
    for (const [imageName, image] of Object.entries(resultImages)) {
      encoded[imageName] = {
        mediaType: image.mediaType,
        bytes: Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength)
          .toString("base64"),
      };
    }
    return c.json({
      task: outcome.task,
      version: outcome.version,
      frameId: outcome.frameId,
      latencyMs: outcome.latencyMs,
      queuedMs: outcome.queuedMs,
      data: outcome.result.data,
      images: encoded,
    }, 200);
  });
  router.openapi(frame, (c) => {
    const { name } = c.req.valid("param");
    const index = c.req.valid("query").index ?? 0;
    if (deps.host.get(name) === undefined) pluginNotFound(name, deps.host.list());
    const last = deps.host.lastFrame(name);
    if (last === null) {
      throw new HttpError(
        "frame_not_found",
        `task '${name}' has no processed frame yet (frames are kept once their result is published)`,
      );
    }
    const image = last.images[index];
    if (image === undefined) {
      throw new HttpError(
        "bad_request",
        `query parameter 'index' is ${index}, but frame ${last.frameId} of '${name}' has ` +
          `${last.images.length} image${last.images.length === 1 ? "" : "s"}`,
      );
    }
    const headers: Record<string, string> = {
      "content-type": image.mediaType,
      "cache-control": "no-store",
      [FRAME_ID_HEADER]: String(last.frameId),
      [FRAME_IMAGES_HEADER]: String(last.images.length),
    };
    if (image.shape !== undefined) headers[SHAPE_HEADER] = image.shape.join("x");
    return c.body(image.bytes, 200, headers);
  });
  return router;
}
