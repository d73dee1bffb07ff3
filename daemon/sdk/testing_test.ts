import assert from "node:assert/strict";
import { encodePng } from "../media/mod.ts";
import { absolutizeImports, sceneImage, sniffMediaType } from "./testing.ts";

Deno.test("absolutizeImports makes out-of-folder imports absolute and keeps the rest", () => {
  const code = [
    'import { a } from "../../daemon/sdk/mod.ts";',
    'import type { B } from "./local.ts";',
    'export * from "../sdk/x.ts";',
    'const m = await import("../../daemon/media/mod.ts");',
    'import "npm:zod";',
  ].join("\n");
  const out = absolutizeImports(code, "/repo/plugins/p/mod.ts", "/repo/plugins/p");
  assert.match(out, /from "file:\/\/\/repo\/daemon\/sdk\/mod\.ts"/);
  assert.match(out, /from "\.\/local\.ts"/);
  assert.match(out, /from "file:\/\/\/repo\/plugins\/sdk\/x\.ts"/);
  assert.match(out, /import\("file:\/\/\/repo\/daemon\/media\/mod\.ts"\)/);
  assert.match(out, /import "npm:zod"/);
});

Deno.test("sniffMediaType knows PNG, JPEG and PPM and refuses other bytes", () => {
  assert.equal(sniffMediaType(encodePng(sceneImage(4, 4))), "image/png");
  assert.equal(sniffMediaType(new Uint8Array([0xff, 0xd8, 0xff])), "image/jpeg");
  assert.equal(sniffMediaType(new TextEncoder().encode("P6\n")), "image/x-portable-pixmap");
  assert.throws(() => sniffMediaType(new Uint8Array([1, 2, 3, 4])), /\[1, 2, 3, 4\]/);
});

Deno.test("sceneImage is deterministic, textured, and refuses bad sizes", () => {
  const a = sceneImage(40, 30, { seed: 2 });
  assert.deepEqual(a.data, sceneImage(40, 30, { seed: 2 }).data);
  assert.notDeepEqual(a.data, sceneImage(40, 30, { seed: 3 }).data);
  assert.ok(new Set(a.data).size > 50);
  assert.equal(sceneImage(8, 6, { channels: 1 }).data.length, 48);
  assert.throws(() => sceneImage(0, 5), /0x5/);
});
