/**
 * The "Measured" table of a plugin README, written by `deno task eval <plugin>` between the
 * markers `<!-- MEASURED ... -->` and `<!-- /MEASURED -->`, so no figure is copied by hand.
 *
 * @module
 */

import { formatMarkdownTable } from "../lib/report.ts";

/** What the table shows (a subset of eval.ts's JSON summary). */
export interface MeasuredSummary {
  plugin: string;
  label: string;
  samples: number;
  values: Record<string, string>;
  fps: Record<string, number>;
  sizes: Record<string, number | null>;
  extra?: string;
}

function kib(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? "" : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** The table and its notes, in Markdown. */
export function measuredTable(s: MeasuredSummary): string {
  const command = `\`deno task eval ${s.plugin}\``;
  const twin = s.values.int8_twin ?? "not trained";
  const rows: string[][] = [[
    "BiNeal",
    s.values.bineal,
    twin,
    s.fps.onebit.toFixed(1),
    s.fps.ort_int8.toFixed(1),
    `${kib(s.sizes.onebit)} (int8 ONNX twin ${kib(s.sizes.int8_onnx)})`,
    command,
  ]];
  if (s.values.bineal_sks !== undefined) {
    rows.push([
      "sparse kernel selection",
      s.values.bineal_sks,
      twin,
      s.fps.onebit_sks?.toFixed(1) ?? "",
      s.fps.ort_int8.toFixed(1),
      kib(s.sizes.onebit_sks),
      command,
    ]);
  }
  const table = formatMarkdownTable([
    "model",
    s.label,
    `${s.label} of the 8-bit twin`,
    "FPS",
    "FPS of the int8 twin (ONNX Runtime, same run)",
    "model size",
    "command",
  ], rows);
  const notes = [
    `${s.samples} held-out samples; FPS at 1 thread, median of interleaved rounds.`,
    ...(s.extra === undefined ? [] : [s.extra]),
  ];
  return `${table}\n\n${notes.join(" ")}`;
}

/**
 * Replaces what lies between the README's MEASURED markers with `body`; throws when the
 * README has no markers (a plugin README must have them).
 */
export function replaceMeasured(readme: string, body: string): string {
  const start = readme.search(/<!-- MEASURED[^>]*-->/);
  const end = readme.indexOf("<!-- /MEASURED -->");
  if (start < 0 || end < start) {
    throw new Error("eval: README has no '<!-- MEASURED ... -->' ... '<!-- /MEASURED -->' block");
  }
  const open = readme.indexOf("-->", start) + 3;
  return `${readme.slice(0, open)}\n\n${body}\n\n${readme.slice(end)}`;
}
