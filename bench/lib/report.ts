/**
 * Writing benchmark reports: the JSON file under `bench/results/` (gitignored), a plain-text
 * table for people, and the one-line JSON summary a benchmark prints last for machines.
 *
 * @module
 */

import { dirname } from "node:path";

/**
 * Writes `report` as indented JSON to `path`, creating the folder when missing.
 *
 * @example
 * ```ts ignore
 * import { writeJsonReport } from "./report.ts";
 * await writeJsonReport("bench/results/kernels.json", { shapes: [] });
 * ```
 */
export async function writeJsonReport(path: string, report: unknown): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
}

/**
 * Formats rows as a fixed-width text table with a header row; numbers keep their given
 * formatting (format them before).
 *
 * @example
 * ```ts
 * import { formatTable } from "./report.ts";
 * console.log(formatTable(["shape", "ms"], [["3x3 64@56", "1.20"], ["1x1 512@7", "0.03"]]));
 * ```
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length))
  );
  const line = (cells: readonly string[]) =>
    cells.map((
      cell,
      column,
    ) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])))
      .join("  ").trimEnd();
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join(
    "\n",
  );
}

/**
 * Formats rows as a Markdown pipe table (cells padded to their column's width, as
 * `deno fmt` writes them), for READMEs.
 *
 * @example
 * ```ts
 * import { formatMarkdownTable } from "./report.ts";
 * console.log(formatMarkdownTable(["model", "top-1"], [["BiNeal", "88.1%"]]));
 * ```
 */
export function formatMarkdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => (row[column] ?? "").length))
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => (cell ?? "").padEnd(widths[column])).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)]
    .join("\n");
}

/**
 * Rounds `value` to `digits` significant digits for reports (null for a missing value), so
 * summaries stay short without hiding magnitude.
 *
 * @example
 * ```ts
 * import { round } from "./report.ts";
 * console.log(round(12.3456), round(0.0012345), round(undefined)); // 12.35 0.001235 null
 * ```
 */
export function round(value: number | undefined | null, digits = 4): number | null {
  if (value === undefined || value === null || !Number.isFinite(value)) return null;
  return Number(value.toPrecision(digits));
}
