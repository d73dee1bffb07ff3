import assert from "node:assert/strict";
import { formatMarkdownTable, formatTable, round, writeJsonReport } from "./report.ts";

Deno.test("formatTable aligns the first column left and the others right", () => {
  const table = formatTable(["shape", "ms"], [["a", "1.5"], ["long name", "10.25"]]);
  assert.equal(
    table,
    ["shape         ms", "---------  -----", "a            1.5", "long name  10.25"].join("\n"),
  );
});

Deno.test("round keeps significant digits and maps missing values to null", () => {
  assert.equal(round(12.3456), 12.35);
  assert.equal(round(0.00123456, 2), 0.0012);
  assert.equal(round(undefined), null);
  assert.equal(round(Number.NaN), null);
});

Deno.test("writeJsonReport creates the folder and writes indented JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/report.json`;
    await writeJsonReport(path, { a: 1 });
    assert.equal(await Deno.readTextFile(path), '{\n  "a": 1\n}\n');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatMarkdownTable pads every cell to its column as deno fmt does", () => {
  const table = formatMarkdownTable(["model", "top-1"], [["BiNeal", "88.1%"], ["twin", ""]]);
  assert.equal(
    table,
    [
      "| model  | top-1 |",
      "| ------ | ----- |",
      "| BiNeal | 88.1% |",
      "| twin   |       |",
    ].join("\n"),
  );
});
