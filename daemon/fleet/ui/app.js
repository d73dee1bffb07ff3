// onebit dashboard: live telemetry charts (SSE), plugins with reload, and the last frame
// with its overlay. Plain browser JavaScript, no build step, no dependencies.
//
// The last frame: results on the bus carry data only, never pixels, but the daemon keeps a
// copy of the last processed frame of each task (at most 4 per second) and serves it at
// /v1/tasks/:name/frame. The page draws the image it sent itself (the file picked in the
// form) with the overlay of that answer; when a result event of the selected task arrives
// from elsewhere (a camera or folder source, another HTTP client) it fetches the kept frame
// (at most FRAME_FETCH_INTERVAL_MS apart, one fetch at a time), decodes it here (raw u8 HWC,
// PPM/PGM by hand, PNG/JPEG with createImageBitmap) and draws over it the overlay of the
// result event of that very frame. Only when the daemon has no frame for it (or the fetch
// fails) is the overlay drawn over the last image the page has, or a blank frame.
"use strict";

const HISTORY_POINTS_MAX = 120;
const COLORS = ["#3fb950", "#d29922", "#f85149", "#58a6ff", "#bc8cff", "#39c5cf"];

// ---------------------------------------------------------------- charts

/** A line chart of a few series over the last HISTORY_POINTS_MAX samples, on a canvas. */
class LineChart {
  constructor(canvas, series) {
    this.canvas = canvas;
    this.series = series; // [{ name, color }]
    this.points = []; // [[v0, v1, ...] | null per series]
    this.draw();
  }

  push(values) {
    this.points.push(values);
    if (this.points.length > HISTORY_POINTS_MAX) this.points.shift();
    this.canvas.dataset.points = String(this.points.length);
    this.canvas.dataset.last = JSON.stringify(values);
    this.draw();
  }

  draw() {
    const { canvas } = this;
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, pad = 28;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#0b0e11";
    ctx.fillRect(0, 0, w, h);
    let max = 0;
    for (const row of this.points) {
      for (const v of row) if (Number.isFinite(v)) max = Math.max(max, v);
    }
    max = max > 0 ? niceCeil(max) : 1;
    ctx.strokeStyle = "#30363d";
    ctx.fillStyle = "#8b949e";
    ctx.font = "10px system-ui, sans-serif";
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i += 1) {
      const y = pad / 2 + (h - pad) * (i / 4);
      ctx.beginPath();
      ctx.moveTo(pad, y);
      ctx.lineTo(w - 4, y);
      ctx.stroke();
      ctx.fillText(formatNumber(max * (1 - i / 4)), 2, y + 3);
    }
    const n = this.points.length;
    if (n === 0) {
      ctx.fillText("waiting for telemetry…", pad + 8, h / 2);
      return;
    }
    const x = (i) => pad + (w - pad - 6) * (n === 1 ? 1 : i / (HISTORY_POINTS_MAX - 1));
    const y = (v) => pad / 2 + (h - pad) * (1 - v / max);
    this.series.forEach((serie, s) => {
      ctx.strokeStyle = serie.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      let pen = false;
      this.points.forEach((row, i) => {
        const v = row[s];
        if (!Number.isFinite(v)) {
          pen = false;
          return;
        }
        if (pen) ctx.lineTo(x(i), y(v));
        else ctx.moveTo(x(i), y(v));
        pen = true;
      });
      ctx.stroke();
      const last = this.points[n - 1][s];
      ctx.fillStyle = serie.color;
      ctx.fillText(
        `${serie.name} ${Number.isFinite(last) ? formatNumber(last) : "–"}`,
        pad + 6 + s * 90,
        h - 4,
      );
    });
  }
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function formatNumber(v) {
  if (!Number.isFinite(v)) return "–";
  if (v === 0) return "0";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

const charts = {
  fps: new LineChart(document.getElementById("chart-fps"), [{ name: "fps", color: COLORS[0] }]),
  latency: new LineChart(document.getElementById("chart-latency"), [
    { name: "p50", color: COLORS[0] },
    { name: "p95", color: COLORS[1] },
    { name: "p99", color: COLORS[2] },
  ]),
  power: new LineChart(document.getElementById("chart-power"), [{ name: "W", color: COLORS[3] }]),
  energy: new LineChart(document.getElementById("chart-energy"), [{
    name: "mJ/inf",
    color: COLORS[4],
  }]),
};

// ---------------------------------------------------------------- telemetry

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
let lastTasks = {};

/** Reads the figures the charts show from a snapshot; missing fields become gaps. */
function onSnapshot(snapshot) {
  if (!snapshot || typeof snapshot !== "object") return;
  const tasks = snapshot.tasks && typeof snapshot.tasks === "object" ? snapshot.tasks : {};
  lastTasks = tasks;
  let fps = 0, p50 = null, p95 = null, p99 = null;
  const joules = [];
  for (const task of Object.values(tasks)) {
    fps += num(task?.fps) ?? 0;
    const lat = task?.latencyMs ?? {};
    // The slowest task sets the latency line: that is the one a fleet operator watches.
    if (num(lat.p50) !== null) p50 = Math.max(p50 ?? 0, lat.p50);
    if (num(lat.p95) !== null) p95 = Math.max(p95 ?? 0, lat.p95);
    if (num(lat.p99) !== null) p99 = Math.max(p99 ?? 0, lat.p99);
    const j = num(task?.energy?.joulesPerInferenceLast) ??
      num(task?.energy?.joulesPerInferenceCumulative);
    if (j !== null) joules.push(j);
  }
  charts.fps.push([fps]);
  charts.latency.push([p50, p95, p99]);
  charts.power.push([num(snapshot.power?.watts)]);
  charts.energy.push([
    joules.length ? (1000 * joules.reduce((a, b) => a + b, 0)) / joules.length : null,
  ]);
  const source = snapshot.power?.source;
  document.getElementById("power-source").textContent = source ? `(${source})` : "";
  if (snapshot.build) {
    document.getElementById("build").textContent = `v${snapshot.build.version ?? "?"} · ${
      snapshot.build.cpuLevel ?? "?"
    }`;
  }
  updatePluginFigures();
}

function setStatus(state, text) {
  const el = document.getElementById("status");
  el.dataset.state = state;
  el.textContent = text;
}

function connectTelemetry() {
  fetch("/v1/telemetry").then((r) => (r.ok ? r.json() : null)).then(onSnapshot).catch(() => {});
  const source = new EventSource("/v1/telemetry/stream");
  source.addEventListener("telemetry", (e) => {
    const event = JSON.parse(e.data);
    onSnapshot(event.snapshot ?? event);
  });
  source.onopen = () => setStatus("live", "live");
  source.onerror = () => setStatus("down", "reconnecting");
}

// ---------------------------------------------------------------- plugins

function authHeaders() {
  const token = document.getElementById("token").value.trim();
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function loadPlugins() {
  const body = document.getElementById("plugins");
  let plugins;
  try {
    const response = await fetch("/v1/plugins");
    const json = await response.json();
    plugins = Array.isArray(json) ? json : json.plugins ?? [];
  } catch (error) {
    body.replaceChildren(row([`cannot list plugins: ${error}`], 8));
    return;
  }
  const select = document.getElementById("task");
  const selected = select.value;
  select.replaceChildren(...plugins.map((p) => new Option(p.name, p.name)));
  if (plugins.some((p) => p.name === selected)) select.value = selected;
  if (plugins.length === 0) {
    body.replaceChildren(row(["no plugin loaded"], 8));
    return;
  }
  body.replaceChildren(...plugins.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.plugin = p.name;
    const cells = [
      p.name,
      p.version,
      p.manifest?.task ?? "",
      p.state,
      "",
      "",
      String(p.reloads ?? 0),
    ];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 3) td.className = `state-${p.state}`;
      if (i === 4) td.dataset.field = "fps";
      if (i === 5) td.dataset.field = "p95";
      tr.append(td);
    });
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.textContent = "reload";
    button.dataset.reload = p.name;
    button.addEventListener("click", () => reloadPlugin(p.name, button));
    td.append(button);
    tr.append(td);
    return tr;
  }));
  updatePluginFigures();
}

function row(texts, span) {
  const tr = document.createElement("tr");
  for (const text of texts) {
    const td = document.createElement("td");
    td.colSpan = span;
    td.className = "muted";
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

function updatePluginFigures() {
  for (const tr of document.querySelectorAll("#plugins tr[data-plugin]")) {
    const task = lastTasks[tr.dataset.plugin];
    if (!task) continue;
    tr.querySelector('[data-field="fps"]').textContent = formatNumber(num(task.fps) ?? NaN);
    tr.querySelector('[data-field="p95"]').textContent = formatNumber(
      num(task.latencyMs?.p95) ?? NaN,
    );
  }
}

async function reloadPlugin(name, button) {
  const message = document.getElementById("plugin-message");
  button.disabled = true;
  message.textContent = `reloading ${name}…`;
  try {
    const response = await fetch(`/v1/plugins/${encodeURIComponent(name)}/reload`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: "{}",
    });
    const json = await response.json().catch(() => ({}));
    message.textContent = response.ok
      ? `${name} now serves version ${json.version ?? "?"}`
      : `reload of ${name} failed: ${json.error?.message ?? response.status}`;
  } catch (error) {
    message.textContent = `reload of ${name} failed: ${error}`;
  } finally {
    button.disabled = false;
    loadPlugins();
  }
}

// ---------------------------------------------------------------- last frame and overlay

/** The images of the frame shown (ImageBitmaps): the page's upload or a kept frame. */
let frameImages = [];

/** Least time between two fetches of a kept frame: the daemon keeps at most 4 per second. */
const FRAME_FETCH_INTERVAL_MS = 250;
/** Result events remembered by frame id, to find the overlay of a fetched frame. */
const RECENT_RESULTS_MAX = 32;
/** Frame ids of the page's own uploads remembered (their events are not fetched). */
const OWN_FRAMES_MAX = 8;

/** Result events of the shown task by frame id, oldest first (a Map keeps insertion order). */
const recentResults = new Map();
let latestResult = null;
const ownFrameIds = [];
/** Uploads of the page in flight: an HTTP result event may be one of them. */
let ownUploads = 0;
/** The frame fetch: one at a time, FRAME_FETCH_INTERVAL_MS apart, the last wish kept. */
const frameFetch = { inFlight: false, lastAtMs: -Infinity, timer: null, wantedTask: null };

function numbersOf(value) {
  return Array.isArray(value) && value.length >= 4 &&
      value.slice(0, 4).every((v) => typeof v === "number")
    ? value
    : null;
}

/** [x1, y1, x2, y2, label, score] of a detection in any of the shapes plugins use. */
function boxOf(item) {
  if (!item || typeof item !== "object") return null;
  const label = item.label ?? item.class ?? item.className ?? item.name ?? "";
  const score = num(item.score ?? item.confidence);
  const arr = numbersOf(item) ?? numbersOf(item.box) ?? numbersOf(item.bbox) ??
    numbersOf(item.xyxy);
  if (arr) return [arr[0], arr[1], arr[2], arr[3], label, score];
  const b = item.box && typeof item.box === "object" ? item.box : item;
  if (num(b.x1) !== null) return [b.x1, b.y1, b.x2, b.y2, label, score];
  if (num(b.left) !== null) return [b.left, b.top, b.right, b.bottom, label, score];
  const w = num(b.width ?? b.w), h = num(b.height ?? b.h);
  if (num(b.x) !== null && w !== null && h !== null) {
    return [b.x, b.y, b.x + w, b.y + h, label, score];
  }
  return null;
}

function boxesOf(data) {
  const list = Array.isArray(data) ? data : data?.detections ?? data?.boxes ?? data?.objects;
  if (!Array.isArray(list)) return [];
  return list.map(boxOf).filter((b) => b !== null);
}

function pointOf(p) {
  if (Array.isArray(p) && p.length >= 2) return [p[0], p[1]];
  if (p && num(p.x) !== null) return [p.x, p.y];
  return null;
}

/** [[xa, ya], [xb, yb]] per match. */
function matchesOf(data) {
  const list = data?.matches;
  if (!Array.isArray(list)) return [];
  const out = [];
  for (const m of list) {
    const arr = numbersOf(m);
    if (arr) out.push([[arr[0], arr[1]], [arr[2], arr[3]]]);
    else {
      const a = pointOf(m?.a ?? m?.from ?? m?.p0 ?? m?.query);
      const b = pointOf(m?.b ?? m?.to ?? m?.p1 ?? m?.train);
      if (a && b) out.push([a, b]);
    }
  }
  return out;
}

/** Width and height of the frame a result describes when the page has no image for it. */
function sizeOf(data) {
  const w = num(data?.width ?? data?.imageWidth), h = num(data?.height ?? data?.imageHeight);
  return w && h ? [w, h] : [640, 360];
}

async function maskOf(data, images) {
  const encoded = images?.mask ??
    Object.entries(images ?? {}).find(([k]) => /mask|seg/i.test(k))?.[1];
  if (encoded?.bytes) {
    const blob = await (await fetch(`data:${encoded.mediaType};base64,${encoded.bytes}`)).blob();
    return await createImageBitmap(blob);
  }
  const mask = data?.mask;
  if (mask && num(mask.width) && num(mask.height) && Array.isArray(mask.data ?? mask.classes)) {
    const values = mask.data ?? mask.classes;
    const pixels = new ImageData(mask.width, mask.height);
    for (let i = 0; i < mask.width * mask.height; i += 1) {
      const c = values[i] | 0;
      if (c === 0) continue;
      const hex = COLORS[c % COLORS.length];
      pixels.data.set([
        parseInt(hex.slice(1, 3), 16),
        parseInt(hex.slice(3, 5), 16),
        parseInt(hex.slice(5, 7), 16),
        255,
      ], i * 4);
    }
    return await createImageBitmap(pixels);
  }
  return null;
}

/** Draws the frame images side by side and the result's boxes, mask and matches over them. */
async function drawResult(data, images) {
  const canvas = document.getElementById("frame");
  const ctx = canvas.getContext("2d");
  const sources = frameImages.length ? frameImages : [null];
  const sizes = sources.map((img) => (img ? [img.width, img.height] : sizeOf(data)));
  const total = sizes.reduce((a, [w]) => a + w, 0), height = Math.max(...sizes.map(([, h]) => h));
  const scale = Math.min(1, 960 / total);
  canvas.width = Math.round(total * scale);
  canvas.height = Math.round(height * scale);
  ctx.fillStyle = "#0b0e11";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let offset = 0;
  sources.forEach((img, i) => {
    if (img) ctx.drawImage(img, offset * scale, 0, sizes[i][0] * scale, sizes[i][1] * scale);
    offset += sizes[i][0];
  });
  const [w0, h0] = sizes[0];
  const mask = await maskOf(data, images);
  if (mask) {
    ctx.globalAlpha = 0.5;
    ctx.drawImage(mask, 0, 0, w0 * scale, h0 * scale);
    ctx.globalAlpha = 1;
  }
  const boxes = boxesOf(data);
  ctx.lineWidth = 2;
  ctx.font = "12px system-ui, sans-serif";
  boxes.forEach(([x1, y1, x2, y2, label, score], i) => {
    // Coordinates all within [0, 1] are normalized to the image.
    const k = Math.max(x1, y1, x2, y2) <= 1 ? [w0, h0] : [1, 1];
    const color = COLORS[i % COLORS.length];
    ctx.strokeStyle = color;
    ctx.strokeRect(
      x1 * k[0] * scale,
      y1 * k[1] * scale,
      (x2 - x1) * k[0] * scale,
      (y2 - y1) * k[1] * scale,
    );
    const text = `${label}${score !== null ? ` ${score.toFixed(2)}` : ""}`;
    if (text.trim()) {
      ctx.fillStyle = color;
      ctx.fillText(text, x1 * k[0] * scale + 2, Math.max(12, y1 * k[1] * scale - 3));
    }
  });
  const matches = matchesOf(data);
  ctx.strokeStyle = COLORS[3];
  ctx.lineWidth = 1;
  for (const [[xa, ya], [xb, yb]] of matches) {
    ctx.beginPath();
    ctx.moveTo(xa * scale, ya * scale);
    ctx.lineTo((xb + (sizes.length > 1 ? w0 : 0)) * scale, yb * scale);
    ctx.stroke();
  }
  canvas.dataset.boxes = String(boxes.length);
  canvas.dataset.matches = String(matches.length);
  canvas.dataset.mask = mask ? "1" : "0";
  canvas.dataset.frames = String((Number(canvas.dataset.frames) || 0) + 1);
}

function showResult(summary) {
  document.getElementById("result").textContent = JSON.stringify(summary, null, 2).slice(0, 4000);
}

async function runInfer(event) {
  event.preventDefault();
  const task = document.getElementById("task").value;
  const files = [...document.getElementById("file").files];
  const message = document.getElementById("infer-message");
  if (!task || files.length === 0) {
    message.textContent = "pick a task and an image";
    return;
  }
  message.textContent = "running…";
  ownUploads += 1;
  let body, headers = authHeaders();
  if (files.length === 1) {
    body = files[0];
    headers = { ...headers, "content-type": files[0].type || "application/octet-stream" };
  } else {
    body = new FormData();
    files.slice(0, 2).forEach((f, i) => body.append(`image${i}`, f));
  }
  try {
    const response = await fetch(`/v1/tasks/${encodeURIComponent(task)}/infer`, {
      method: "POST",
      headers,
      body,
    });
    const json = await response.json();
    if (!response.ok) {
      message.textContent = `failed: ${json.error?.message ?? response.status}`;
      return;
    }
    ownFrameIds.push(json.frameId);
    if (ownFrameIds.length > OWN_FRAMES_MAX) ownFrameIds.shift();
    frameImages = await Promise.all(
      files.slice(0, 2).map((f) => createImageBitmap(f).catch(() => null)),
    );
    frameImages = frameImages.filter((img) => img !== null);
    await drawResult(json.data, json.images);
    showResult({
      task: json.task,
      version: json.version,
      frameId: json.frameId,
      latencyMs: json.latencyMs,
      data: json.data,
    });
    const canvas = document.getElementById("frame");
    canvas.dataset.frameId = String(json.frameId);
    canvas.dataset.frameFrom = "upload";
    message.textContent = `frame ${json.frameId} in ${formatNumber(json.latencyMs)} ms`;
  } catch (error) {
    message.textContent = `failed: ${error}`;
  } finally {
    ownUploads -= 1;
  }
}

// ---------------------------------------------------------------- kept frames of the daemon

/** An ImageBitmap of u8 pixels (1 or 3 channels, HWC) starting at `offset`, or null. */
function bitmapOfPixels(bytes, width, height, channels, offset, maxval = 255) {
  const count = width * height;
  if (!(channels === 1 || channels === 3) || !(width > 0 && height > 0)) return null;
  if (bytes.length - offset < count * channels) return null;
  const pixels = new ImageData(width, height);
  const out = pixels.data;
  const k = 255 / maxval;
  for (let i = 0, o = offset; i < count; i += 1) {
    if (channels === 3) {
      out[i * 4] = bytes[o] * k;
      out[i * 4 + 1] = bytes[o + 1] * k;
      out[i * 4 + 2] = bytes[o + 2] * k;
      o += 3;
    } else {
      out[i * 4] = out[i * 4 + 1] = out[i * 4 + 2] = bytes[o] * k;
      o += 1;
    }
    out[i * 4 + 3] = 255;
  }
  return createImageBitmap(pixels);
}

/** An ImageBitmap of a binary PGM (P5) or PPM (P6) with maxval ≤ 255, or null. */
function bitmapOfPnm(bytes) {
  const kind = String.fromCharCode(bytes[0], bytes[1]);
  if (kind !== "P5" && kind !== "P6") return null;
  const fields = [];
  let offset = 2;
  // Bounded: a header is short; anything longer is not one this page reads.
  while (fields.length < 3 && offset < Math.min(bytes.length, 4096)) {
    const c = bytes[offset];
    if (c === 0x23) { // '#' comment to the end of the line
      while (offset < bytes.length && bytes[offset] !== 0x0a) offset += 1;
    } else if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) {
      offset += 1;
    } else {
      let value = 0, digits = 0;
      while (digits < 10 && bytes[offset] >= 0x30 && bytes[offset] <= 0x39) {
        value = value * 10 + bytes[offset] - 0x30;
        offset += 1;
        digits += 1;
      }
      if (digits === 0) return null;
      fields.push(value);
    }
  }
  const [width, height, maxval] = fields;
  if (fields.length < 3 || !(maxval >= 1 && maxval <= 255)) return null;
  return bitmapOfPixels(bytes, width, height, kind === "P6" ? 3 : 1, offset + 1, maxval);
}

/** The ImageBitmap of one image answer of /v1/tasks/:name/frame, or null. */
async function bitmapOfResponse(response) {
  const type = (response.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (type === "application/octet-stream") {
    const shape = /^(\d+)x(\d+)x(\d+)$/.exec(response.headers.get("x-onebit-shape") ?? "");
    if (!shape) return null;
    return await bitmapOfPixels(bytes, +shape[2], +shape[1], +shape[3], 0);
  }
  if (type === "image/x-portable-pixmap" || type === "image/x-portable-graymap") {
    return await bitmapOfPnm(bytes);
  }
  return await createImageBitmap(new Blob([bytes], { type }));
}

/**
 * The frame the daemon kept for `task`: { frameId, images } (both images of a pair task),
 * null when it has none, or "stale" when the frame changed between the two image fetches.
 */
async function loadFrame(task) {
  const url = `/v1/tasks/${encodeURIComponent(task)}/frame`;
  const first = await fetch(url, { headers: authHeaders(), cache: "no-store" });
  if (!first.ok) {
    await first.body?.cancel();
    return null;
  }
  const frameId = Number(first.headers.get("x-onebit-frame-id"));
  const count = Math.min(2, Number(first.headers.get("x-onebit-frame-images")) || 1);
  const images = [await bitmapOfResponse(first)];
  for (let index = 1; index < count; index += 1) {
    const next = await fetch(`${url}?index=${index}`, {
      headers: authHeaders(),
      cache: "no-store",
    });
    if (!next.ok || Number(next.headers.get("x-onebit-frame-id")) !== frameId) {
      await next.body?.cancel();
      return "stale";
    }
    images.push(await bitmapOfResponse(next));
  }
  if (images.some((image) => image === null)) return null;
  return { frameId, images };
}

/** Asks for the kept frame of `task`, at most one fetch at a time and per interval. */
function requestFrame(task) {
  frameFetch.wantedTask = task;
  if (frameFetch.inFlight || frameFetch.timer !== null) return;
  const waitMs = frameFetch.lastAtMs + FRAME_FETCH_INTERVAL_MS - performance.now();
  if (waitMs > 0) {
    frameFetch.timer = setTimeout(() => {
      frameFetch.timer = null;
      fetchFrame();
    }, waitMs);
    return;
  }
  fetchFrame();
}

async function fetchFrame() {
  const task = frameFetch.wantedTask;
  frameFetch.wantedTask = null;
  if (task === null) return;
  frameFetch.inFlight = true;
  frameFetch.lastAtMs = performance.now();
  let frame = null;
  try {
    frame = await loadFrame(task);
  } catch {
    frame = null;
  }
  try {
    const selected = document.getElementById("task").value;
    if (frame === "stale" || (selected && selected !== task) || latestResult === null) return;
    const canvas = document.getElementById("frame");
    if (frame === null) {
      // No kept frame: the overlay of the latest result over the last image the page has.
      await drawResult(latestResult.data, null);
      showResult(latestResult);
      canvas.dataset.frameFrom = "none";
      return;
    }
    const event = recentResults.get(frame.frameId) ?? latestResult;
    frameImages = frame.images;
    await drawResult(event.data, null);
    showResult(event);
    canvas.dataset.frameId = String(frame.frameId);
    canvas.dataset.frameFrom = "daemon";
  } finally {
    frameFetch.inFlight = false;
    if (frameFetch.wantedTask !== null) requestFrame(frameFetch.wantedTask);
  }
}

/** A result event of the shown task: remember it, fetch its frame unless it is the page's. */
function onResult(event) {
  // An HTTP result while an upload of the page is in flight may be that upload's.
  const own = event.source === "http" &&
    (ownUploads > 0 || ownFrameIds.includes(event.frameId));
  if (own) return;
  recentResults.set(event.frameId, event);
  if (recentResults.size > RECENT_RESULTS_MAX) {
    recentResults.delete(recentResults.keys().next().value);
  }
  latestResult = event;
  requestFrame(event.task);
}

function connectEvents() {
  const source = new EventSource("/v1/events");
  source.addEventListener("result", (e) => {
    const event = JSON.parse(e.data);
    const selected = document.getElementById("task").value;
    if (selected && event.task !== selected) return;
    onResult(event);
  });
  for (const type of ["plugin", "source"]) {
    source.addEventListener(type, () => loadPlugins());
  }
}

document.getElementById("infer-form").addEventListener("submit", runInfer);
const tokenInput = document.getElementById("token");
tokenInput.value = sessionStorage.getItem("onebit-token") ?? "";
tokenInput.addEventListener(
  "change",
  () => sessionStorage.setItem("onebit-token", tokenInput.value),
);
connectTelemetry();
connectEvents();
loadPlugins();
