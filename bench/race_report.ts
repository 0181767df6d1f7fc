// The bench race's report: the tables of times and ratios, the targets of
// issue 6 and whether this run met them, bench/RESULTS.md and the README's
// summary. Pure functions of the measured numbers (bench/race.ts measures),
// so bench/race_test.ts can check them without timing anything.

/** The contenders of the race, in the tables' order. */
export const CONTENDERS = ["flint", "tfjs-cpu", "tfjs-wasm", "torch"] as const;
/** One contender. */
export type Contender = typeof CONTENDERS[number];

/** A contender's result on one case: the median time per run, or why there is none. */
export type Cell =
  | { readonly ms: number; readonly samples: number; readonly variant?: string }
  | { readonly na: string };

/** Which target of the issue a case answers to, if any. */
export type TargetRole = "matmul" | "forward" | "train" | "mlp";

/** One case of the race and every contender's result. */
export interface CaseResult {
  /** what was timed, in words ("matmul 1024²") */
  readonly label: string;
  /** floating-point operations per run (0 where GFLOP/s says nothing) */
  readonly flops: number;
  /** the target this case is measured against */
  readonly role?: TargetRole;
  /** each contender's result */
  readonly cells: Readonly<Record<Contender, Cell>>;
}

/** One side of a {@linkcode KernelsComparison}: the measured quantities, by name, or why there are none. */
export type KernelsSide = { readonly values: Readonly<Record<string, number>> } | { readonly na: string };

/** The digits demo's training loop or the serve example, with the TypeScript kernels and the WebAssembly ones. */
export interface KernelsComparison {
  /** "digits demo (12 epochs)", ... */
  readonly label: string;
  /** with `kernels: "typescript"` */
  readonly typescript: KernelsSide;
  /** with the WebAssembly kernels */
  readonly wasm: KernelsSide;
  /** the quantity that decides "faster" */
  readonly key: string;
  /** how each quantity prints ("s", "ms", "%", or a unit written after the number), and which way is better */
  readonly quantities: Readonly<Record<string, { readonly unit: string; readonly better: "higher" | "lower" | null }>>;
}

/** Another bench's output, run as a section of the race. */
export interface Section {
  /** the section's heading */
  readonly title: string;
  /** the command that ran */
  readonly command: string;
  /** what it printed */
  readonly output: string;
}

/** Where the run happened. */
export interface Machine {
  /** ISO date of the run's start */
  readonly date: string;
  /** the model from /proc/cpuinfo, with its widest SIMD */
  readonly cpu: string;
  /** navigator.hardwareConcurrency */
  readonly cores: number;
  /** Deno's and V8's versions */
  readonly deno: string;
  /** V8's version */
  readonly v8: string;
  /** "1.13.0a0 (torchvision 0.14.1a0), 2 threads", or why PyTorch was skipped */
  readonly torch: string;
  /** the BLAS path of PyTorch's matrix products and linear layers */
  readonly blas: string;
  /** "4.22.0, tfjs-wasm 1 thread" */
  readonly tfjs: string;
  /** "wasm kernels, relaxed SIMD, 2 threads" */
  readonly flint: string;
  /** load averages (1, 5, 15 min) at the start and at the end */
  readonly loadBefore: readonly number[];
  /** load averages at the end */
  readonly loadAfter: readonly number[];
  /** "full", "--quick", ... */
  readonly mode: string;
  /** rounds and samples, in words */
  readonly method: string;
}

/** Everything one run measured. */
export interface RaceReport {
  /** where it ran */
  readonly machine: Machine;
  /** the WebAssembly multiply-add peak on the race's threads, GFLOP/s */
  readonly fmaPeak: number | null;
  /** the race's cases */
  readonly cases: readonly CaseResult[];
  /** the demo and the serve example, TypeScript against WebAssembly kernels */
  readonly kernels: readonly KernelsComparison[];
  /** the other benches' output */
  readonly sections: readonly Section[];
}

/** One of the targets and this run's verdict (null: not measurable in this run). */
export interface Target {
  /** the target, in words */
  readonly target: string;
  /** this run's ratio */
  readonly measured: string;
  /** met, missed, or null when a contender is missing */
  readonly met: boolean | null;
}

const NAMES: Record<Contender, string> = {
  flint: "Flint-CPU",
  "tfjs-cpu": "tfjs-cpu",
  "tfjs-wasm": "tfjs-wasm",
  torch: "PyTorch",
};

/** The contender's name as the tables print it. */
export function contenderName(c: Contender): string {
  return NAMES[c];
}

/**
 * A time in milliseconds with three significant digits, in seconds past ten.
 *
 * @example
 * ```ts
 * import { formatMs } from "./race_report.ts";
 *
 * console.log(formatMs(0.6123), formatMs(45.61), formatMs(1408.2), formatMs(24_700)); // 0.612 ms 45.6 ms 1408 ms 24.7 s
 * ```
 */
export function formatMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(3)} ms`;
}

/** GFLOP/s of `flops` done in `ms`. */
export function gflops(flops: number, ms: number): number {
  return flops / ms / 1e6;
}

/**
 * How many times faster Flint is than `other` (other's time ÷ Flint's: Flint's
 * speed ÷ the other's); null when either has no time.
 *
 * @example
 * ```ts
 * import { speedup } from "./race_report.ts";
 *
 * console.log(speedup({ ms: 10, samples: 7 }, { ms: 25, samples: 7 })); // 2.5
 * console.log(speedup({ ms: 10, samples: 7 }, { na: "cannot" })); // null
 * ```
 */
export function speedup(flint: Cell, other: Cell): number | null {
  if (!("ms" in flint) || !("ms" in other)) return null;
  return other.ms / flint.ms;
}

/** "2.31×", or "—" for null. */
export function formatRatio(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return "—";
  return r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`;
}

/** Footnotes for the n/a cells: the same reason gets the same number. */
class Notes {
  readonly #notes: string[] = [];
  mark(reason: string): string {
    let i = this.#notes.indexOf(reason);
    if (i < 0) i = this.#notes.push(reason) - 1;
    return `n/a [${i + 1}]`;
  }
  lines(): string[] {
    return this.#notes.map((n, i) => `- [${i + 1}] ${n}`);
  }
}

function cellText(cell: Cell, flops: number, notes: Notes, variant = true): string {
  if (!("ms" in cell)) return notes.mark(cell.na);
  const time = formatMs(cell.ms) + (variant && cell.variant ? ` (${cell.variant})` : "");
  return flops > 0 ? `${time} · ${gflops(flops, cell.ms).toFixed(1)} GFLOP/s` : time;
}

/** A markdown table from rows of cells (the first row is the header); numeric columns right-aligned. */
export function markdownTable(rows: readonly (readonly string[])[], align: readonly ("l" | "r")[] = []): string {
  const widths = rows[0].map((_, c) => Math.max(3, ...rows.map((r) => [...r[c]].length)));
  const pad = (s: string, c: number) => {
    const fill = " ".repeat(widths[c] - [...s].length);
    return (align[c] ?? "l") === "r" ? fill + s : s + fill;
  };
  const line = (r: readonly string[]) => `| ${r.map(pad).join(" | ")} |`;
  const rule = `| ${
    widths.map((w, c) => (align[c] ?? "l") === "r" ? "-".repeat(w - 1) + ":" : "-".repeat(w)).join(" | ")
  } |`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

/**
 * The race's table: each contender's median time (and GFLOP/s where it
 * means something), then Flint's speed-up over each other contender, and
 * the footnotes of the n/a cells.
 *
 * @example
 * ```ts
 * import { raceTable } from "./race_report.ts";
 *
 * const table = raceTable([{
 *   label: "matmul 256²",
 *   flops: 2 * 256 ** 3,
 *   cells: {
 *     flint: { ms: 0.5, samples: 7 },
 *     "tfjs-cpu": { ms: 30, samples: 7 },
 *     "tfjs-wasm": { ms: 1, samples: 7 },
 *     torch: { na: "PyTorch not installed" },
 *   },
 * }]);
 * console.log(table.includes("67.1 GFLOP/s"), table.includes("[1] PyTorch not installed")); // true true
 * ```
 */
export function raceTable(cases: readonly CaseResult[]): string {
  const notes = new Notes();
  const others = CONTENDERS.filter((c) => c !== "flint");
  const header = ["work", ...CONTENDERS.map(contenderName), ...others.map((c) => `Flint vs ${contenderName(c)}`)];
  const rows = cases.map((r) => [
    r.label,
    ...CONTENDERS.map((c) => cellText(r.cells[c], r.flops, notes)),
    ...others.map((c) => formatRatio(speedup(r.cells.flint, r.cells[c]))),
  ]);
  const table = markdownTable([header, ...rows], header.map((_, i) => (i === 0 ? "l" : "r")));
  const footer = notes.lines();
  return footer.length ? `${table}\n\n${footer.join("\n")}` : table;
}

function find(cases: readonly CaseResult[], role: TargetRole): CaseResult | undefined {
  return cases.find((c) => c.role === role);
}

function verdict(value: number | null, ok: (v: number) => boolean): boolean | null {
  return value === null ? null : ok(value);
}

/**
 * The issue's targets, judged on this run's ratios (times of one run, not
 * absolute numbers): matmul 1024² against tfjs-wasm and the WebAssembly
 * multiply-add peak, ResNet18's forward at batch 1 against tfjs-wasm and
 * PyTorch, the training step against PyTorch, the MLP step against PyTorch,
 * and the demo and the serve example against the TypeScript kernels.
 *
 * @example
 * ```ts
 * import { evaluateTargets } from "./race_report.ts";
 *
 * const targets = evaluateTargets({
 *   fmaPeak: 100,
 *   cases: [{
 *     label: "matmul 1024²",
 *     flops: 2 * 1024 ** 3,
 *     role: "matmul",
 *     cells: {
 *       flint: { ms: 30, samples: 7 },
 *       "tfjs-cpu": { na: "skipped" },
 *       "tfjs-wasm": { ms: 50, samples: 7 },
 *       torch: { ms: 10, samples: 7 },
 *     },
 *   }],
 *   kernels: [],
 * });
 * console.log(targets.map((t) => t.met).slice(0, 2)); // [ false, true ]
 * ```
 */
export function evaluateTargets(
  report: Pick<RaceReport, "fmaPeak" | "cases" | "kernels">,
): Target[] {
  const targets: Target[] = [];
  const matmul = find(report.cases, "matmul");
  if (matmul) {
    const vsWasm = speedup(matmul.cells.flint, matmul.cells["tfjs-wasm"]);
    targets.push({
      target: `${matmul.label}: ≥ 2× tfjs-wasm's GFLOP/s`,
      measured: formatRatio(vsWasm),
      met: verdict(vsWasm, (v) => v >= 2),
    });
    const flint = matmul.cells.flint;
    const ofPeak = "ms" in flint && report.fmaPeak ? gflops(matmul.flops, flint.ms) / report.fmaPeak : null;
    targets.push({
      target: `${matmul.label}: ≥ 60% of the WebAssembly FMA peak` +
        (report.fmaPeak ? ` (${report.fmaPeak.toFixed(1)} GFLOP/s)` : ""),
      measured: ofPeak === null ? "—" : `${(100 * ofPeak).toFixed(0)}%`,
      met: verdict(ofPeak, (v) => v >= 0.6),
    });
  }
  const forward = find(report.cases, "forward");
  if (forward) {
    const vsWasm = speedup(forward.cells.flint, forward.cells["tfjs-wasm"]);
    targets.push({
      target: `${forward.label}: ≥ 2× faster than tfjs-wasm`,
      measured: formatRatio(vsWasm),
      met: verdict(vsWasm, (v) => v >= 2),
    });
    const vsTorch = speedup(forward.cells.flint, forward.cells.torch);
    targets.push({
      target: `${forward.label}: ≤ 3× PyTorch's time`,
      measured: vsTorch === null ? "—" : `${(1 / vsTorch).toFixed(2)}× PyTorch's time`,
      met: verdict(vsTorch, (v) => 1 / v <= 3),
    });
  }
  const train = find(report.cases, "train");
  if (train) {
    const vsTorch = speedup(train.cells.flint, train.cells.torch);
    targets.push({
      target: `${train.label}: ≤ 3× PyTorch's time`,
      measured: vsTorch === null ? "—" : `${(1 / vsTorch).toFixed(2)}× PyTorch's time`,
      met: verdict(vsTorch, (v) => 1 / v <= 3),
    });
  }
  const mlp = find(report.cases, "mlp");
  if (mlp) {
    const vsTorch = speedup(mlp.cells.flint, mlp.cells.torch);
    targets.push({
      target: `${mlp.label}: no slower than PyTorch with an optimised BLAS`,
      measured: vsTorch === null ? "—" : `${(1 / vsTorch).toFixed(2)}× PyTorch's time`,
      met: verdict(vsTorch, (v) => 1 / v <= 1),
    });
  }
  for (const k of report.kernels) {
    const gain = kernelsGain(k);
    targets.push({
      target: `${k.label}: faster with the WebAssembly kernels than with the TypeScript ones`,
      measured: gain === null ? "—" : `${formatRatio(gain)} (${k.key})`,
      met: verdict(gain, (v) => v > 1),
    });
  }
  return targets;
}

/** How many times better the WebAssembly kernels did on the comparison's key quantity; null if one side is missing. */
export function kernelsGain(k: KernelsComparison): number | null {
  if ("na" in k.typescript || "na" in k.wasm) return null;
  const [ts, wasm] = [k.typescript.values[k.key], k.wasm.values[k.key]];
  if (!(ts > 0) || !(wasm > 0)) return null;
  return k.quantities[k.key].better === "higher" ? wasm / ts : ts / wasm;
}

/** The targets as a table. */
export function targetsTable(targets: readonly Target[]): string {
  const mark = (m: boolean | null) => (m === null ? "not measured" : m ? "✅ met" : "❌ not met");
  return markdownTable(
    [["target", "this run", "verdict"], ...targets.map((t) => [t.target, t.measured, mark(t.met)])],
    ["l", "r", "l"],
  );
}

/** The kernels comparisons as a table: each quantity with the TypeScript kernels, the WebAssembly ones, and the gain. */
export function kernelsTable(comparisons: readonly KernelsComparison[]): string {
  const rows: string[][] = [["work", "quantity", "TypeScript kernels", "WebAssembly kernels", "gain"]];
  for (const k of comparisons) {
    if ("na" in k.typescript || "na" in k.wasm) {
      const why = "na" in k.typescript
        ? `TypeScript: ${k.typescript.na}`
        : `WebAssembly: ${(k.wasm as { na: string }).na}`;
      rows.push([k.label, "—", "n/a", "n/a", why]);
      continue;
    }
    for (const [name, { unit, better }] of Object.entries(k.quantities)) {
      const [ts, wasm] = [k.typescript.values[name], k.wasm.values[name]];
      const gain = better === null ? "" : formatRatio(better === "higher" ? wasm / ts : ts / wasm);
      rows.push([k.label, name, formatQuantity(ts, unit), formatQuantity(wasm, unit), gain]);
    }
  }
  return markdownTable(rows, ["l", "l", "r", "r", "r"]);
}

function formatQuantity(value: number, unit: string): string {
  if (value === undefined || !Number.isFinite(value)) return "—";
  if (unit === "ms") return formatMs(value);
  if (unit === "%") return `${(100 * value).toFixed(2)}%`;
  if (unit === "s") return `${value.toFixed(2)} s`;
  if (unit === "") return String(Math.round(value));
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${unit}`;
}

function load(xs: readonly number[]): string {
  return xs.map((x) => x.toFixed(2)).join(" / ");
}

/** The machine, as a list. */
export function machineList(m: Machine): string {
  return [
    `- date: ${m.date}`,
    `- CPU: ${m.cpu}, ${m.cores} cores`,
    `- Deno ${m.deno}, V8 ${m.v8}`,
    `- Flint-CPU: ${m.flint}`,
    `- tfjs: ${m.tfjs}`,
    `- PyTorch: ${m.torch}`,
    `- PyTorch's BLAS path (matmul, linear): ${m.blas}`,
    `- load average (1 / 5 / 15 min): before ${load(m.loadBefore)}, after ${load(m.loadAfter)}`,
    `- run: ${m.mode}; ${m.method}`,
  ].join("\n");
}

/**
 * bench/RESULTS.md: the machine, the race, the targets, the kernels
 * comparisons and the other benches' sections.
 */
export function resultsMarkdown(report: RaceReport): string {
  const parts = [
    "# Bench results",
    "",
    "Written by `deno task bench` (bench/race.ts); do not edit by hand. Medians of interleaved rounds in one run on a",
    "shared machine: compare the ratios, not the absolute times.",
    "",
    "## Machine",
    "",
    machineList(report.machine),
    "",
    "## The race",
    "",
    report.fmaPeak === null
      ? "WebAssembly multiply-add peak: not measured."
      : `WebAssembly multiply-add peak (the ceiling of a 128-bit SIMD kernel, ${
        report.machine.flint.match(/(\d+) threads?/)?.[0] ?? "2 threads"
      }): ` +
        `${report.fmaPeak.toFixed(1)} GFLOP/s.`,
    "",
    "Times are per run (median); `Flint vs X` is how many times faster Flint is (X's time ÷ Flint's; below 1: slower).",
    `PyTorch's matrix products and linear layers: ${report.machine.blas}; its convolutions: oneDNN, as in every ` +
    "PyTorch build.",
    "",
    raceTable(report.cases),
    "",
    "## Targets (issue 6)",
    "",
    targetsTable(evaluateTargets(report)),
  ];
  if (report.kernels.length) {
    parts.push(
      "",
      "## The demo and the serve example: TypeScript kernels against WebAssembly kernels",
      "",
      kernelsTable(report.kernels),
    );
  }
  for (const s of report.sections) {
    parts.push("", `## ${s.title}`, "", `\`${s.command}\``, "", "```text", s.output.trimEnd(), "```");
  }
  return parts.join("\n") + "\n";
}

/** The README's short summary: Flint against tfjs-wasm and PyTorch, and the targets met. */
export function readmeSummary(report: RaceReport): string {
  const rows: string[][] = [["work", "Flint-CPU", "tfjs-wasm", "PyTorch", "Flint vs tfjs-wasm", "Flint vs PyTorch"]];
  const notes = new Notes();
  for (const r of report.cases) {
    rows.push([
      r.label,
      cellText(r.cells.flint, 0, notes, false),
      cellText(r.cells["tfjs-wasm"], 0, notes, false),
      cellText(r.cells.torch, 0, notes, false),
      formatRatio(speedup(r.cells.flint, r.cells["tfjs-wasm"])),
      formatRatio(speedup(r.cells.flint, r.cells.torch)),
    ]);
  }
  const targets = evaluateTargets(report);
  const met = targets.filter((t) => t.met === true).length;
  const m = report.machine;
  return [
    `Medians from one \`deno task bench\` run (${m.date.slice(0, 10)}, ${m.cpu}, ${m.cores} cores, shared; ` +
    `Flint-CPU: ${m.flint}; ` +
    (m.blas === "—"
      ? "PyTorch not measured). "
      : `PyTorch ${m.torch.match(/^[^\s,]+/)?.[0]} with ${m.blas.split(" (")[0]} for matmul/linear). `) +
    `"Flint vs X": X's time ÷ Flint's.`,
    "",
    markdownTable(rows, ["l", "r", "r", "r", "r", "r"]),
    ...(notes.lines().length ? ["", ...notes.lines()] : []),
    "",
    `Targets met: ${met} of ${targets.length}. Details, tfjs-cpu, the FMA peak, the demo and serve with and without the ` +
    `WebAssembly kernels, and the machine: [bench/RESULTS.md](bench/RESULTS.md).`,
  ].join("\n");
}

/**
 * `readme` with the text between `<!-- bench:start -->` and
 * `<!-- bench:end -->` replaced by `summary`.
 *
 * @throws {Error} when the markers are missing or out of order
 *
 * @example
 * ```ts
 * import { spliceReadme } from "./race_report.ts";
 *
 * const readme = "# X\n<!-- bench:start -->\nold\n<!-- bench:end -->\nrest\n";
 * console.log(spliceReadme(readme, "new").split("\n").slice(1, 6)); // [ "<!-- bench:start -->", "", "new", "", "<!-- bench:end -->" ]
 * ```
 */
export function spliceReadme(readme: string, summary: string): string {
  const start = "<!-- bench:start -->", end = "<!-- bench:end -->";
  const i = readme.indexOf(start), j = readme.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README: expected ${start} before ${end}`);
  return `${readme.slice(0, i + start.length)}\n\n${summary.trim()}\n\n${readme.slice(j)}`;
}
