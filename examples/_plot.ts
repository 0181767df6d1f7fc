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
