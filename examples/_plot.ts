// Charts for the examples, drawn with Vega-Lite, rendered to SVG by Vega and
// to PNG by resvg (WebAssembly, with the DejaVu fonts from npm): no browser,
// no canvas, no system fonts needed.

import { initWasm, Resvg } from "@resvg/resvg-wasm";
// The import makes Deno install the font package; its TTF files are read below.
import "dejavu-fonts-ttf/package.json" with { type: "json" };
import { createRequire } from "node:module";
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

const require = createRequire(import.meta.url);
let fonts: Uint8Array[] | undefined;

/** Renders an SVG string to PNG bytes at `scale` times its size. */
export async function renderPng(svg: string, scale = 2): Promise<Uint8Array> {
  if (fonts === undefined) {
    await initWasm(await Deno.readFile(require.resolve("@resvg/resvg-wasm/index_bg.wasm")));
    fonts = await Promise.all(
      ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"].map((f) => Deno.readFile(require.resolve(`dejavu-fonts-ttf/ttf/${f}`))),
    );
  }
  const resvg = new Resvg(svg, {
    font: { fontBuffers: fonts, loadSystemFonts: false, defaultFontFamily: "DejaVu Sans" },
    fitTo: { mode: "zoom", value: scale },
  });
  return resvg.render().asPng();
}

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A scatter of points with a fitted line over them. */
export function scatterWithLine(
  points: { x: number; y: number }[],
  line: { x: number; y: number }[],
  title: string,
): TopLevelSpec {
  const axes = {
    x: { field: "x", type: "quantitative" as const, title: "X" },
    y: { field: "y", type: "quantitative" as const, title: "Y" },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 480,
    height: 320,
    layer: [
      { data: { values: points }, mark: { type: "point", filled: true, opacity: 0.7 }, encoding: axes },
      { data: { values: line }, mark: { type: "line", color: "green", strokeWidth: 3 }, encoding: axes },
    ],
  };
}

/** One point of a {@linkcode lineCharts} panel: `y` at `x` on the line named `series`. */
export interface LinePoint {
  x: number;
  y: number;
  series: string;
}

/** One panel of {@linkcode lineCharts}. */
export interface LinePanel {
  /** the panel's title */
  title: string;
  /** the points, one line per distinct `series` */
  points: LinePoint[];
  /** the x axis title (default "x") */
  xTitle?: string;
  /** the y axis title (default "y") */
  yTitle?: string;
  /** the y axis range (default: fitted to the data) */
  yDomain?: [number, number];
  /** "linear" (default) or "log" */
  yScale?: "linear" | "log";
}

/**
 * Panels of lines side by side, each a line with points per series; a series
 * keeps its colour across panels (one legend), so "train" and "test" read the
 * same in a loss panel and an accuracy panel.
 *
 * @example
 * ```ts
 * import { lineCharts, renderSvg } from "./_plot.ts";
 *
 * const points = [1, 2, 3].map((x) => ({ x, y: 1 / x, series: "train" }));
 * const svg = await renderSvg(lineCharts([{ title: "loss", points, xTitle: "epoch" }], "training"));
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function lineCharts(panels: LinePanel[], title: string): TopLevelSpec {
  const names = [...new Set(panels.flatMap((p) => p.points.map((q) => q.series)))];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    hconcat: panels.map((p) => ({
      title: p.title,
      width: 320,
      height: 240,
      data: { values: p.points },
      mark: { type: "line", point: true, strokeWidth: 2 },
      encoding: {
        x: { field: "x", type: "quantitative", title: p.xTitle ?? "x", axis: { tickMinStep: 1 } },
        y: {
          field: "y",
          type: "quantitative",
          title: p.yTitle ?? "y",
          scale: p.yDomain
            ? { type: p.yScale ?? "linear", domain: p.yDomain }
            // A log scale never includes zero; a linear one is fitted to the data rather than stretched to zero.
            : p.yScale === "log"
            ? { type: "log" }
            : { zero: false },
        },
        color: { field: "series", type: "nominal", title: null, scale: { domain: names } },
      },
    })),
    resolve: { scale: { color: "shared" } },
  };
}

/** One cell of a {@linkcode heatmap}. */
export interface HeatmapCell {
  row: string;
  column: string;
  value: number;
}

/** Options of {@linkcode heatmap}. */
export interface HeatmapOptions {
  /** the chart's title */
  title: string;
  /** the row axis title (left) */
  rowTitle?: string;
  /** the column axis title (top) */
  columnTitle?: string;
}

/**
 * A grid of cells coloured by value with the value written in each (a
 * confusion matrix: rows are the truth, columns the prediction). Rows and
 * columns keep the order they first appear in.
 *
 * @example
 * ```ts
 * import { heatmap, renderSvg } from "./_plot.ts";
 *
 * const cells = [{ row: "a", column: "x", value: 3 }, { row: "b", column: "x", value: 1 }];
 * const svg = await renderSvg(heatmap(cells, { title: "counts" }));
 * console.log(svg.includes(">3<")); // true
 * ```
 */
export function heatmap(cells: HeatmapCell[], options: HeatmapOptions): TopLevelSpec {
  const rows = [...new Set(cells.map((c) => c.row))];
  const columns = [...new Set(cells.map((c) => c.column))];
  const max = Math.max(...cells.map((c) => c.value));
  const size = 32;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: options.title,
    width: size * columns.length,
    height: size * rows.length,
    data: { values: cells },
    encoding: {
      x: {
        field: "column",
        type: "ordinal",
        sort: columns,
        title: options.columnTitle ?? "column",
        axis: { orient: "top", labelAngle: 0 },
      },
      y: { field: "row", type: "ordinal", sort: rows, title: options.rowTitle ?? "row" },
    },
    layer: [
      {
        mark: { type: "rect", stroke: "white", strokeWidth: 1 },
        encoding: {
          color: {
            field: "value",
            type: "quantitative",
            title: null,
            scale: { type: "sqrt", scheme: "blues", domain: [0, max] },
          },
        },
      },
      {
        mark: { type: "text", fontSize: 12 },
        encoding: {
          text: { field: "value", type: "quantitative" },
          // Counts above half the largest sit on dark blue: write them in white.
          color: { condition: { test: `datum.value > ${max / 2}`, value: "white" }, value: "black" },
          opacity: { condition: { test: "datum.value === 0", value: 0.35 }, value: 1 },
        },
      },
    ],
  };
}
