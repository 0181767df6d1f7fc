// The demo's pictures: loss and accuracy per epoch (train and test) and the
// test set's confusion matrix, each written as SVG and PNG.

import { heatmap, type HeatmapCell, lineCharts, type LinePoint, renderPng, renderSvg } from "../_plot.ts";
import type { TopLevelSpec } from "vega-lite";
import type { EpochStats } from "./fit.ts";

/**
 * The Vega-Lite spec of the training curves: loss and accuracy (in %) per
 * epoch, train and test, side by side.
 *
 * @example
 * ```ts
 * import { curvesSpec } from "./report.ts";
 *
 * const stats = { epoch: 1, trainLoss: 0.5, trainAccuracy: 0.9, testLoss: 0.4, testAccuracy: 0.95, seconds: 1, steps: 45 };
 * const spec = curvesSpec([stats], "digits");
 * console.log("hconcat" in spec && spec.hconcat.length); // 2
 * ```
 */
export function curvesSpec(history: readonly EpochStats[], title: string): TopLevelSpec {
  const loss: LinePoint[] = history.flatMap((s) => [
    { x: s.epoch, y: s.trainLoss, series: "train" },
    { x: s.epoch, y: s.testLoss, series: "test" },
  ]);
  const accuracy: LinePoint[] = history.flatMap((s) => [
    { x: s.epoch, y: 100 * s.trainAccuracy, series: "train" },
    { x: s.epoch, y: 100 * s.testAccuracy, series: "test" },
  ]);
  return lineCharts([
    { title: "cross-entropy loss", points: loss, xTitle: "epoch", yTitle: "loss", yScale: "log" },
    { title: "accuracy", points: accuracy, xTitle: "epoch", yTitle: "accuracy (%)" },
  ], title);
}

/**
 * The Vega-Lite spec of a confusion matrix (`matrix[truth][prediction]`).
 *
 * @example
 * ```ts
 * import { confusionSpec } from "./report.ts";
 *
 * const spec = confusionSpec([[3, 1], [0, 4]], "test set");
 * console.log(JSON.stringify(spec).includes('{"row":"1","column":"1","value":4}')); // true
 * ```
 */
export function confusionSpec(matrix: readonly (readonly number[])[], title: string): TopLevelSpec {
  const cells: HeatmapCell[] = matrix.flatMap((row, truth) =>
    row.map((value, predicted) => ({ row: String(truth), column: String(predicted), value }))
  );
  return heatmap(cells, { title, rowTitle: "true digit", columnTitle: "predicted digit" });
}

/**
 * Renders `spec` to `<base>.svg` and `<base>.png` and returns both paths.
 *
 * @example
 * ```ts
 * import { confusionSpec, writeChart } from "./report.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const [svg, png] = await writeChart(confusionSpec([[1]], "one"), `${dir}/one`);
 * console.log(svg.endsWith("one.svg"), png.endsWith("one.png")); // true true
 * ```
 */
export async function writeChart(spec: TopLevelSpec, base: string): Promise<[string, string]> {
  const svg = await renderSvg(spec);
  await Deno.writeTextFile(`${base}.svg`, svg);
  await Deno.writeFile(`${base}.png`, await renderPng(svg));
  return [`${base}.svg`, `${base}.png`];
}

/**
 * A byte count for people: `12.3 KB`, `1.20 MB` (powers of 1000).
 *
 * @example
 * ```ts
 * import { formatBytes } from "./report.ts";
 *
 * console.log(formatBytes(512), formatBytes(12_345), formatBytes(1_200_000)); // 512 B 12.3 KB 1.20 MB
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1000).toFixed(1)} KB`;
  return `${(bytes / 1e6).toFixed(2)} MB`;
}
