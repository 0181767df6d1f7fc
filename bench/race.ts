// `deno task bench`: Flint's CPU backend raced against tfjs-cpu, tfjs-wasm and
// PyTorch in one run, then the other benches as sections of the same run, a
// table of times and ratios, the targets judged on those ratios,
// bench/RESULTS.md and the README's summary.
//
//   deno run -A --v8-flags=--expose-gc bench/race.ts [--quick] [--only=race,digits,serve,overhead,finetune,webgpu] [--no-torch]
//     [--cases=matmul,conv,forward,train,mlp] [--threads 2] [--out <dir>]
//
// The race: matmul 256/512/1024, conv 3×3 64→64 on 56² at batch 1 and 8,
// ResNet18 at 224² forward (batch 1 and 8) and one training step (batch 8, SGD
// momentum 0.9, cross-entropy), and tutorial 001's MLP step (64×1000→100→10,
// ReLU, summed MSE, Adam), each contender warmed up, then sampled in rounds
// that rotate through the contenders (the machine is shared: drift hits all of
// them alike, and their ratios hold), medians. A contender that cannot do a
// case, or would take far past the run's budget, gets "n/a" and the reason.
// PyTorch runs in a child process (bench/race_torch.py, Debian's
// /usr/bin/python3 and python3-torch), skipped with a note when absent.
//
// A full run writes bench/RESULTS.md and the README's bench section. --quick
// is a smoke run (fewer rounds and samples, shorter sections) and --tiny
// (for bench/race_test.ts) shrinks every size; both write only with --out,
// and never the README.

import * as torch from "@flint/torch";
import { CpuBackend } from "@flint/cpu";
import { resnet18 } from "@flint/models";
// The multiply-add peak is measured with the kernels' module itself (a private export, bench-only).
import { WasmRuntime } from "../backends/cpu/_wasm_runtime.ts";
import {
  type CaseResult,
  type Cell,
  type Contender,
  contenderName,
  CONTENDERS,
  evaluateTargets,
  formatMs,
  formatRatio,
  gflops,
  type KernelsComparison,
  type KernelsSide,
  type Machine,
  type RaceReport,
  raceTable,
  readmeSummary,
  resultsMarkdown,
  type Section,
  speedup,
  spliceReadme,
  type TargetRole,
  targetsTable,
} from "./race_report.ts";
import {
  tfjsConv,
  tfjsInfo,
  tfjsMatmul,
  tfjsMlp,
  tfjsResnetForward,
  tfjsResnetTrain,
  type TfjsRunner,
  useTfjs,
} from "./race_tfjs.ts";
import { startTorch, type TorchCase, type TorchProcess } from "./race_torch.ts";

// ---- options ----

/** The sizes and the sampling of one run. */
export interface Plan {
  /** which plan */
  readonly mode: "full" | "quick" | "tiny";
  /** square matmul sizes */
  readonly matmul: readonly number[];
  /** the 3×3 64→64 convolution: batches and image sizes */
  readonly conv: readonly { batch: number; size: number }[];
  /** ResNet18 inference: batches and image sizes (the first is the target's) */
  readonly forward: readonly { batch: number; size: number }[];
  /** the ResNet18 training step */
  readonly train: { batch: number; size: number };
  /** the training step tfjs is first tried at, to learn whether the real size fits the budget */
  readonly trainProbe: { batch: number; size: number };
  /** rounds through the contenders */
  readonly rounds: number;
  /**
   * rounds for a contender whose run is shorter than a sample: its samples
   * are cheap, and more of them, interleaved over a longer stretch, keep the
   * median from following one slow phase of a shared machine (7 samples of
   * the MLP step gave Flint/PyTorch 0.89 in one run and 1.14 in the next)
   */
  readonly fastRounds: number;
  /** fewest samples of a slow contender */
  readonly minSamples: number;
  /** a sample runs the case for at least this long */
  readonly sampleMs: number;
  /** the warm-up runs the case for at least this long, so that a JIT's code reaches its optimising tier */
  readonly warmupMs: number;
  /** time one contender may spend on one case, warm-up included */
  readonly budgetMs: number;
  /** the digits demo's epochs in the kernels comparison */
  readonly digitsEpochs: number;
  /** requests to the serve example in the kernels comparison */
  readonly serveRequests: number;
}

/** The plans of a full run, --quick and --tiny. */
export const PLANS: Readonly<Record<Plan["mode"], Plan>> = {
  full: {
    mode: "full",
    matmul: [256, 512, 1024],
    conv: [{ batch: 1, size: 56 }, { batch: 8, size: 56 }],
    forward: [{ batch: 1, size: 224 }, { batch: 8, size: 224 }],
    train: { batch: 8, size: 224 },
    trainProbe: { batch: 1, size: 32 },
    rounds: 7,
    fastRounds: 21,
    minSamples: 3,
    sampleMs: 60,
    warmupMs: 1500,
    budgetMs: 60_000,
    digitsEpochs: 12,
    serveRequests: 1000,
  },
  quick: {
    mode: "quick",
    matmul: [256, 512, 1024],
    conv: [{ batch: 1, size: 56 }, { batch: 8, size: 56 }],
    forward: [{ batch: 1, size: 224 }, { batch: 8, size: 224 }],
    train: { batch: 8, size: 224 },
    trainProbe: { batch: 1, size: 32 },
    rounds: 3,
    fastRounds: 5,
    minSamples: 1,
    sampleMs: 30,
    warmupMs: 500,
    budgetMs: 15_000,
    digitsEpochs: 2,
    serveRequests: 200,
  },
  tiny: {
    mode: "tiny",
    matmul: [64, 128],
    conv: [{ batch: 1, size: 14 }, { batch: 2, size: 14 }],
    forward: [{ batch: 1, size: 32 }, { batch: 2, size: 32 }],
    // batch 2: at 16² the last stages are 1×1, and batch norm needs more than one value per channel
    train: { batch: 2, size: 16 },
    trainProbe: { batch: 2, size: 16 },
    rounds: 2,
    fastRounds: 2,
    minSamples: 1,
    sampleMs: 5,
    warmupMs: 20,
    budgetMs: 10_000,
    digitsEpochs: 1,
    serveRequests: 50,
  },
};

/** The sections of a run, in order. */
export const SECTIONS = ["race", "digits", "serve", "overhead", "finetune", "webgpu"] as const;
/** A section of the run, as --only names it. */
export type SectionName = typeof SECTIONS[number];

/** The command line, parsed. */
export interface Options {
  /** sizes and sampling */
  readonly plan: Plan;
  /** the sections to run */
  readonly only: ReadonlySet<SectionName>;
  /** start PyTorch (false with --no-torch) */
  readonly torch: boolean;
  /** threads of Flint-CPU and of PyTorch */
  readonly threads: number;
  /** where RESULTS.md goes (undefined: bench/ on a full run, nowhere otherwise) */
  readonly out: string | undefined;
  /** a full run of every section: the one that writes bench/RESULTS.md and the README */
  readonly complete: boolean;
  /** the race's kinds of case to run (--cases; all by default) */
  readonly cases: ReadonlySet<CaseKind>;
}

/** The race's kinds of case, as --cases names them. */
export const CASE_KINDS = ["matmul", "conv", "forward", "train", "mlp"] as const;
/** A kind of case of the race. */
export type CaseKind = typeof CASE_KINDS[number];

/** The comma-separated names of a list flag, each one of `allowed`. */
function namesFrom<T extends string>(value: string, allowed: readonly T[], flag: string, what: string): Set<T> {
  const names = new Set<T>();
  for (const name of value.split(",")) {
    if (!(allowed as readonly string[]).includes(name)) {
      throw new RangeError(`${flag}: unknown ${what} "${name}"; expected some of ${allowed.join(", ")}`);
    }
    names.add(name as T);
  }
  return names;
}

/**
 * Parses the race's flags.
 *
 * @example
 * ```ts
 * import { parseOptions } from "./race.ts";
 *
 * const o = parseOptions(["--quick", "--only=race,serve", "--no-torch"]);
 * console.log(o.plan.mode, [...o.only], o.torch, o.complete); // quick [ "race", "serve" ] false false
 * ```
 */
export function parseOptions(args: readonly string[]): Options {
  let mode: Plan["mode"] = "full";
  let only: Set<SectionName> | undefined;
  let useTorch = true, threads = 2;
  let out: string | undefined;
  let cases: Set<CaseKind> | undefined;
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i].includes("=") ? args[i].split(/=(.*)/s, 2) : [args[i], undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new TypeError(`${name} needs a value`);
      return v;
    };
    if (name === "--quick") mode = mode === "tiny" ? "tiny" : "quick";
    else if (name === "--tiny") mode = "tiny";
    else if (name === "--no-torch") useTorch = false;
    else if (name === "--out") out = value();
    else if (name === "--threads") {
      threads = Number(value());
      if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`--threads must be an integer >= 1`);
    } else if (name === "--only") only = namesFrom(value(), SECTIONS, "--only", "section");
    else if (name === "--cases") cases = namesFrom(value(), CASE_KINDS, "--cases", "case");
    else throw new TypeError(`unknown flag ${args[i]}`);
  }
  const complete = mode === "full" && only === undefined && cases === undefined;
  return {
    plan: PLANS[mode],
    only: only ?? new Set(SECTIONS),
    torch: useTorch,
    threads,
    out,
    complete,
    cases: cases ?? new Set(CASE_KINDS),
  };
}

// ---- timing ----

/** Something the race can time: `sample` runs it for at least `minMs` and resolves with the ms per run. */
interface Sampler {
  sample(minMs: number): Promise<number>;
  dispose(): void | Promise<void>;
  /** resolves when the sampler's threads have stopped spinning after a sample (OpenBLAS's spin for ~0.1 s) */
  settle?(): Promise<void>;
}
type Entry = Sampler | { na: string };

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b), mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A sampler over a function that runs the case once on this thread; `enter` runs before each sample. */
function localSampler(runner: { run(): void; dispose(): void }, enter?: () => Promise<void>): Sampler {
  return {
    async sample(minMs) {
      await enter?.();
      const t0 = performance.now();
      let n = 0;
      do {
        runner.run();
        n++;
      } while (performance.now() - t0 < minMs);
      return (performance.now() - t0) / n;
    },
    dispose: () => runner.dispose(),
  };
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

/**
 * Times every sampler on one case: a warm-up, then rounds that rotate
 * through the samplers, one sample each per round; slow ones take fewer
 * samples so that each stays within the plan's budget. Resolves with each
 * one's median, or why there is none.
 */
async function raceCase(entries: Record<string, Entry>, plan: Plan): Promise<Record<string, Cell>> {
  const all: Record<string, Entry> = { ...entries };
  const names = Object.keys(all).filter((k) => "sample" in all[k]);
  const wanted: Record<string, number> = {};
  const samples: Record<string, number[]> = {};
  for (const k of names) {
    const s = all[k] as Sampler;
    try {
      // Warm-up: the first run compiles (WebAssembly's baseline tier, tfjs's kernels) and starts workers.
      let first = await s.sample(0);
      // JavaScript and WebAssembly reach their optimising tiers only after many runs (a small training step's
      // first 0.5 s ran up to 2× slower than the rest), so fast cases keep running for warmupMs; PyTorch's
      // process gets the same.
      if (first < 1000) first = await s.sample(plan.warmupMs);
      // The first round's first sample follows the last warm-up: it must not share the cores with its threads.
      await s.settle?.();
      const rounds = first < plan.sampleMs ? plan.fastRounds : plan.rounds;
      wanted[k] = first * (rounds + 1) <= plan.budgetMs
        ? rounds
        : Math.min(rounds, Math.max(plan.minSamples, Math.floor(plan.budgetMs / first) - 1));
      samples[k] = [];
    } catch (error) {
      all[k] = { na: `failed: ${message(error)}` };
      await s.dispose();
    }
  }
  const live = names.filter((k) => "sample" in all[k]);
  const rounds = Math.max(0, ...live.map((k) => wanted[k]));
  for (let r = 0; r < rounds; r++) {
    const order = live.map((_, i) => live[(i + r) % live.length]);
    for (const k of order) {
      const sampler = all[k];
      if (!("sample" in sampler) || samples[k].length >= wanted[k]) continue;
      try {
        samples[k].push(await sampler.sample(plan.sampleMs));
      } catch (error) {
        // A contender that breaks mid-race (a crashed PyTorch process) loses the case, not the run.
        all[k] = { na: `failed: ${message(error)}` };
        await Promise.resolve(sampler.dispose()).catch(() => {});
        continue;
      }
      await sampler.settle?.();
    }
  }
  for (const k of live) if ("sample" in all[k]) await (all[k] as Sampler).dispose();
  return Object.fromEntries(
    Object.keys(all).map((k) => [
      k,
      "na" in all[k] ? all[k] as { na: string } : { ms: median(samples[k]), samples: samples[k].length },
    ]),
  );
}

// ---- the cases ----

type Spec =
  | { kind: "matmul"; n: number }
  | { kind: "conv"; batch: number; size: number }
  | { kind: "forward"; batch: number; size: number }
  | { kind: "train"; batch: number; size: number }
  | { kind: "mlp" };

function label(spec: Spec): string {
  switch (spec.kind) {
    case "matmul":
      return `matmul ${spec.n}² f32`;
    case "conv":
      return `conv 3x3 64→64, ${spec.size}², batch ${spec.batch}`;
    case "forward":
      return `ResNet18 ${spec.size}² forward, batch ${spec.batch}`;
    case "train":
      return `ResNet18 ${spec.size}² train step, batch ${spec.batch}`;
    case "mlp":
      return "tutorial 001 MLP step (64×1000→100→10, Adam)";
  }
}

function flops(spec: Spec): number {
  if (spec.kind === "matmul") return 2 * spec.n ** 3;
  if (spec.kind === "conv") return 2 * spec.batch * 64 * 64 * 9 * spec.size * spec.size;
  return 0;
}

/**
 * Frees a case's model (parameters, their gradients, buffers) and its
 * optimizer's state now, as PyTorch does when the case drops them. Left to the
 * garbage collector, a ResNet's 94 MB of them waited for a collection while
 * the next case ran: just after four ResNet18 training steps the MLP step
 * took 0.60–1.16 ms in five tries, against 0.55–0.65 ms before them and
 * 0.57 ms after a forced full collection.
 */
function release(model: torch.nn.Module, optimizer?: torch.optim.Optimizer): void {
  for (const [, state] of optimizer?.state ?? []) {
    for (const v of Object.values(state as Record<string, unknown>)) if (v instanceof torch.Tensor) v.dispose();
  }
  for (const p of model.parameters()) {
    p.grad?.dispose();
    p.dispose();
  }
  for (const b of model.buffers()) b.dispose();
}

/**
 * A full garbage collection, when the run exposes one (`deno task bench`
 * does), and a turn of the event loop for the finalizers it queues: each case
 * starts on a collected heap, as a benchmark harness gives each trial, so the
 * last case's garbage (a ResNet step's autograd graph, tfjs-cpu's arrays) is
 * not collected, on the two cores the contenders share, during the next one.
 * PyTorch's process frees its memory as it goes and owes no such debt.
 */
async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  gc();
  await new Promise((resolve) => setTimeout(resolve, 0));
  gc();
}

/** Flint-CPU runs the case on the default device (the race's CpuBackend). */
function flintRunner(spec: Spec): { run(): void; dispose(): void } {
  torch.manualSeed(0);
  const { nn, optim } = torch;
  switch (spec.kind) {
    case "matmul": {
      const a = torch.randn(spec.n, spec.n), b = torch.randn(spec.n, spec.n);
      return { run: () => a.matmul(b).dispose(), dispose: () => (a.dispose(), b.dispose()) };
    }
    case "conv": {
      const x = torch.randn(spec.batch, 64, spec.size, spec.size), w = torch.randn(64, 64, 3, 3);
      return {
        run: () => nn.functional.conv2d(x, w, null, { padding: 1 }).dispose(),
        dispose: () => (x.dispose(), w.dispose()),
      };
    }
    case "forward": {
      const model = resnet18();
      model.eval();
      const x = torch.rand(spec.batch, 3, spec.size, spec.size);
      return {
        run: () => torch.scope(() => void torch.noGrad(() => model(x))),
        dispose: () => (x.dispose(), release(model)),
      };
    }
    case "train": {
      const model = resnet18();
      model.train();
      const optimizer = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
      const criterion = new nn.CrossEntropyLoss();
      const x = torch.rand(spec.batch, 3, spec.size, spec.size), y = torch.randint(0, 1000, [spec.batch]);
      return {
        run: () =>
          torch.scope(() => {
            optimizer.zeroGrad();
            criterion(model(x), y).backward();
            optimizer.step();
          }),
        dispose: () => (x.dispose(), y.dispose(), release(model, optimizer)),
      };
    }
    case "mlp": {
      const model = new nn.Sequential(new nn.Linear(1000, 100), new nn.ReLU(), new nn.Linear(100, 10));
      const lossFn = new nn.MSELoss({ reduction: "sum" });
      const optimizer = new optim.Adam(model.parameters(), { lr: 1e-4 });
      const x = torch.randn(64, 1000), y = torch.randn(64, 10);
      return {
        run: () =>
          torch.scope(() => {
            const loss = lossFn(model(x), y);
            optimizer.zeroGrad();
            loss.backward();
            optimizer.step();
          }),
        dispose: () => (x.dispose(), y.dispose(), release(model, optimizer)),
      };
    }
  }
}

function tfjsRunner(spec: Spec): TfjsRunner {
  switch (spec.kind) {
    case "matmul":
      return tfjsMatmul(spec.n);
    case "conv":
      return tfjsConv(spec.batch, spec.size);
    case "forward":
      return tfjsResnetForward(spec.batch, spec.size);
    case "train":
      return tfjsResnetTrain(spec.batch, spec.size);
    case "mlp":
      return tfjsMlp();
  }
}

function torchCase(spec: Spec): TorchCase {
  switch (spec.kind) {
    case "matmul":
      return { kind: "matmul", n: spec.n };
    case "conv":
      return { kind: "conv", batch: spec.batch, size: spec.size };
    case "forward":
      return { kind: "resnet_forward", batch: spec.batch, size: spec.size };
    case "train":
      return { kind: "resnet_train", batch: spec.batch, size: spec.size };
    case "mlp":
      return { kind: "mlp" };
  }
}

/**
 * tfjs's training step at the real size, or why not: the step is first run at
 * the plan's small probe size; if it fails (tfjs-wasm has no
 * Conv2DBackpropFilter kernel) the error is the reason, and if, scaled by the
 * pixels, it would not fit the budget (tfjs-cpu's is minutes long) the
 * measured probe is the reason.
 */
async function tfjsTrainEntry(
  backend: "cpu" | "wasm",
  spec: Extract<Spec, { kind: "train" }>,
  plan: Plan,
): Promise<Entry> {
  await useTfjs(backend);
  const probe = plan.trainProbe;
  const scale = (spec.batch * spec.size ** 2) / (probe.batch * probe.size ** 2);
  const runner = tfjsResnetTrain(scale > 1 ? probe.batch : spec.batch, scale > 1 ? probe.size : spec.size);
  let ms: number;
  try {
    runner.run();
    const t0 = performance.now();
    if (scale > 1) runner.run();
    ms = performance.now() - t0;
  } catch (error) {
    runner.dispose();
    return { na: `tfjs-${backend} cannot train: ${message(error)}` };
  }
  if (scale <= 1) return localSampler(runner, () => useTfjs(backend));
  runner.dispose();
  const estimate = ms * scale;
  if (estimate * (1 + plan.minSamples) > plan.budgetMs) {
    return {
      na: `tfjs-${backend} skipped: one step at batch ${probe.batch}, ${probe.size}² took ${formatMs(ms)} here; ` +
        `batch ${spec.batch} at ${spec.size}² is ${scale.toFixed(0)}× the pixels (about ${
          formatMs(estimate)
        } a step), ` +
        `past the run's budget of ${formatMs(plan.budgetMs)} per contender and case`,
    };
  }
  return localSampler(tfjsRunner(spec), () => useTfjs(backend));
}

/** The PyTorch processes (one per OpenMP wait policy raced), or why there are none. */
type Torch = readonly TorchProcess[] | { readonly unavailable: string };

/**
 * Every contender's sampler for `spec`; PyTorch's as `torch:<wait policy>`,
 * one per process (the faster becomes the torch cell).
 */
async function entries(spec: Spec, plan: Plan, torchProcesses: Torch): Promise<Record<string, Entry>> {
  const result: Record<string, Entry> = {};
  const attempt = async (key: string, name: string, make: () => Promise<Entry>) => {
    try {
      result[key] = await make();
    } catch (error) {
      result[key] = { na: `${name} failed to set up: ${message(error)}` };
    }
  };
  await attempt("flint", "Flint", () => Promise.resolve(localSampler(flintRunner(spec))));
  for (const backend of ["cpu", "wasm"] as const) {
    await attempt(`tfjs-${backend}`, `tfjs-${backend}`, async () => {
      if (spec.kind === "train") return await tfjsTrainEntry(backend, spec, plan);
      await useTfjs(backend);
      return localSampler(tfjsRunner(spec), () => useTfjs(backend));
    });
  }
  if (!Array.isArray(torchProcesses)) {
    result.torch = { na: (torchProcesses as { unavailable: string }).unavailable };
    return result;
  }
  for (const process of torchProcesses as readonly TorchProcess[]) {
    await attempt(`torch:${process.waitPolicy}`, "PyTorch", async () => {
      if ((spec.kind === "forward" || spec.kind === "train") && process.info.torchvision === null) {
        return { na: "torchvision is not installed (python3-torchvision): PyTorch's ResNet18 comes from it" };
      }
      const id = JSON.stringify(spec);
      await process.setup(id, torchCase(spec));
      return {
        sample: (minMs: number) => process.sample(id, minMs),
        dispose: () => process.drop(id),
        settle: () => process.settle(plan.mode === "tiny" ? 0 : 150),
      };
    });
  }
  return result;
}

/** The contenders' cells from the samplers' results: PyTorch's is the fastest of its processes. */
function contenderCells(measured: Record<string, Cell>): Record<Contender, Cell> {
  const cells = {} as Record<Contender, Cell>;
  for (const c of CONTENDERS) {
    const mine = Object.keys(measured).filter((k) => k === c || k.startsWith(`${c}:`));
    const timed = mine.filter((k) => "ms" in measured[k]);
    if (timed.length === 0) {
      cells[c] = measured[mine[0]] ?? { na: "not run" };
      continue;
    }
    const best = timed.reduce((
      a,
      b,
    ) => ((measured[a] as { ms: number }).ms <= (measured[b] as { ms: number }).ms ? a : b));
    const variant = best.includes(":") && mine.length > 1 ? best.slice(best.indexOf(":") + 1) : undefined;
    cells[c] = variant ? { ...(measured[best] as { ms: number; samples: number }), variant } : measured[best];
  }
  return cells;
}

/** The WebAssembly multiply-add peak on `threads` threads, as a sampler of runs of `flopsPerRun` multiply-add flops. */
function fmaPeakSampler(threads: number): { sampler: Sampler; flopsPerRun: number } | undefined {
  const runtime = WasmRuntime.for({ threads });
  if (runtime === undefined) return undefined;
  const p = runtime.arena.scratch(32, true);
  new Float32Array(runtime.arena.buffer, p, 8).set([0.9999, 0.9999, 0.9999, 0.9999, 1e-6, 1e-6, 1e-6, 1e-6]);
  // Each thread takes chunks of fmaPeak (96 flops per iteration) in turn: the total over the elapsed time.
  const iters = 100_000, chunks = Array.from({ length: threads * 8 }, () => [{ fn: "fmaPeak", args: [iters, p] }]);
  return {
    flopsPerRun: chunks.length * iters * 96,
    sampler: localSampler({ run: () => runtime.run(chunks, threads), dispose: () => {} }),
  };
}

// ---- the sections: the other benches, as subprocesses ----

const ROOT = new URL("../", import.meta.url);
const here = (file: string) => new URL(file, import.meta.url).pathname;

/** Noise the subprocesses print that says nothing about the results. */
function clean(text: string): string {
  return text
    .split("\n")
    .filter((l) => !/^npm warn|^=+$|Hi, looks like you are running TensorFlow\.js|XDG_RUNTIME_DIR/.test(l.trim()))
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** Runs `deno <args>` from the repository's root; resolves with its cleaned output, or throws with its error. */
async function deno(args: string[], timeoutMs: number): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const [out, err] = [new TextDecoder().decode(stdout), new TextDecoder().decode(stderr)];
  if (code !== 0) {
    throw new Error(`exit code ${code}: ${clean(err).split("\n").slice(-3).join(" ") || clean(out).slice(-300)}`);
  }
  return clean(out);
}

async function section(title: string, args: string[], timeoutMs: number): Promise<Section> {
  const command = `deno ${args.join(" ")}`;
  console.log(`\n## ${title}\n${command}`);
  let output: string;
  try {
    output = await deno(args, timeoutMs);
  } catch (error) {
    output = `failed: ${message(error)}`;
  }
  console.log(output);
  return { title, command, output };
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(path));
}

async function digitsComparison(plan: Plan, dir: string): Promise<KernelsComparison> {
  const label = `digits demo, ${plan.digitsEpochs} epoch${plan.digitsEpochs > 1 ? "s" : ""} (DigitsNet, batch 32)`;
  const side = async (kernels: "typescript" | "auto"): Promise<KernelsSide> => {
    const json = `${dir}/digits_${kernels}.json`;
    try {
      await deno([
        "run",
        "-A",
        here("./digits_bench.ts"),
        "--epochs",
        String(plan.digitsEpochs),
        "--kernels",
        kernels,
        "--json",
        json,
      ], 20 * 60_000);
      const record = await readJson(json);
      const run = (record.runs as Record<string, number>[])[0];
      return {
        values: {
          "training loop": run.loopSeconds,
          "median epoch": run.medianEpochMs,
          "steps per second": run.stepsPerSecond,
          "test accuracy": run.testAccuracy,
        },
      };
    } catch (error) {
      return { na: message(error) };
    }
  };
  console.log(`\n## ${label}: TypeScript kernels, then WebAssembly kernels`);
  const typescript = await side("typescript");
  const wasm = await side("auto");
  const comparison: KernelsComparison = {
    label,
    typescript,
    wasm,
    key: "training loop",
    quantities: {
      "training loop": { unit: "s", better: "lower" },
      "median epoch": { unit: "ms", better: "lower" },
      "steps per second": { unit: "steps/s", better: "higher" },
      "test accuracy": { unit: "%", better: null },
    },
  };
  console.log(JSON.stringify({ typescript, wasm }));
  return comparison;
}

async function serveComparison(plan: Plan, dir: string): Promise<KernelsComparison> {
  const label = `serve example, ${plan.serveRequests} POST /predict (concurrency 4, 1 thread)`;
  const side = async (kernels: "typescript" | "auto"): Promise<KernelsSide> => {
    const json = `${dir}/serve_${kernels}.json`;
    try {
      await deno([
        "run",
        "-A",
        here("./serve_bench.ts"),
        "--requests",
        String(plan.serveRequests),
        "--kernels",
        kernels,
        "--json",
        json,
      ], 10 * 60_000);
      const r = await readJson(json) as Record<string, number>;
      return {
        values: {
          "throughput": r.requestsPerSecond,
          "p50 latency": r.p50Ms,
          "p99 latency": r.p99Ms,
          "failures": r.failures,
        },
      };
    } catch (error) {
      return { na: message(error) };
    }
  };
  console.log(`\n## ${label}: TypeScript kernels, then WebAssembly kernels`);
  const typescript = await side("typescript");
  const wasm = await side("auto");
  console.log(JSON.stringify({ typescript, wasm }));
  return {
    label,
    typescript,
    wasm,
    key: "throughput",
    quantities: {
      "throughput": { unit: "requests/s", better: "higher" },
      "p50 latency": { unit: "ms", better: "lower" },
      "p99 latency": { unit: "ms", better: "lower" },
      "failures": { unit: "", better: null },
    },
  };
}

/** True when Deno offers a WebGPU adapter (asked in a subprocess: the request prints warnings on headless machines). */
async function hasWebgpuAdapter(): Promise<boolean> {
  try {
    const out = await deno(["eval", "console.log(Boolean(await navigator.gpu?.requestAdapter()))"], 60_000);
    return out.trim().endsWith("true");
  } catch {
    return false;
  }
}

// ---- the machine ----

async function cpuModel(): Promise<string> {
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    const model = info.match(/^model name\s*:\s*(.*)$/m)?.[1].trim() ?? "unknown CPU";
    const flags = new Set(info.match(/^flags\s*:(.*)$/m)?.[1].trim().split(/\s+/) ?? []);
    const simd = flags.has("avx512f") ? "AVX-512" : flags.has("avx2") ? "AVX2" : flags.has("avx") ? "AVX" : "SSE";
    return `${model} (${simd})`;
  } catch {
    return "unknown CPU (no /proc/cpuinfo)";
  }
}

// ---- the run ----

function progress(spec: Spec, result: CaseResult): void {
  const parts = CONTENDERS.map((c) => {
    const cell = result.cells[c];
    if (!("ms" in cell)) return `${contenderName(c)} n/a`;
    const rate = result.flops ? ` (${gflops(result.flops, cell.ms).toFixed(1)} GFLOP/s)` : "";
    return `${contenderName(c)} ${formatMs(cell.ms)}${rate}`;
  });
  const ratios = CONTENDERS.slice(1).map((c) => `${formatRatio(speedup(result.cells.flint, result.cells[c]))}`);
  console.log(`${label(spec)}: ${parts.join(", ")}; Flint vs others ${ratios.join(" / ")}`);
}

/** Runs what `options` asks for and returns the report (writing nothing). */
export async function race(options: Options): Promise<RaceReport> {
  const { plan } = options;
  const date = new Date().toISOString();
  const loadBefore = Deno.loadavg();
  // Before any tensor exists: the race's own CPU backend, WebAssembly kernels on the asked threads, as the default.
  const cpu = new CpuBackend({ name: "cpu", threads: options.threads });
  torch.setDefaultDevice(torch.registerBackend(cpu));
  await cpu.threadsReady();
  const info = cpu.info();
  const want = (s: SectionName) => options.only.has(s);

  const torchProcesses: Torch = want("race") && options.torch
    ? await startTorch(options.threads)
    : { unavailable: options.torch ? "not run (--only)" : "skipped (--no-torch)" };
  if (!Array.isArray(torchProcesses)) {
    console.log(`PyTorch: ${(torchProcesses as { unavailable: string }).unavailable}`);
  }

  const cases: CaseResult[] = [];
  let fmaPeak: number | null = null;
  try {
    if (want("race")) {
      const allSpecs: { spec: Spec; role?: TargetRole }[] = [
        ...plan.matmul.map((n, i, all) => ({
          spec: { kind: "matmul", n } as Spec,
          role: i === all.length - 1 ? "matmul" as const : undefined,
        })),
        ...plan.conv.map((c) => ({ spec: { kind: "conv", ...c } as Spec })),
        ...plan.forward.map((c, i) => ({
          spec: { kind: "forward", ...c } as Spec,
          role: i === 0 ? "forward" as const : undefined,
        })),
        { spec: { kind: "train", ...plan.train }, role: "train" },
        { spec: { kind: "mlp" }, role: "mlp" },
      ];
      const specs = allSpecs.filter(({ spec }) => options.cases.has(spec.kind));
      console.log(
        `race: ${
          contenderName("flint")
        } (${info.kernels} kernels, ${info.simd} SIMD, ${info.activeThreads} threads), ` +
          `tfjs-cpu, tfjs-wasm, PyTorch; ${plan.rounds} rounds (${plan.fastRounds} for a fast contender)`,
      );
      for (const { spec, role } of specs) {
        // The FMA peak takes part in the rounds of the matmul the target compares with it.
        const peak = role === "matmul" ? fmaPeakSampler(options.threads) : undefined;
        await collectGarbage();
        const samplers = await entries(spec, plan, torchProcesses);
        const measured = await raceCase(peak ? { ...samplers, peak: peak.sampler } : samplers, plan);
        if (peak && "ms" in measured.peak) fmaPeak = gflops(peak.flopsPerRun, measured.peak.ms);
        const result: CaseResult = { label: label(spec), flops: flops(spec), role, cells: contenderCells(measured) };
        cases.push(result);
        progress(spec, result);
        if (peak && fmaPeak !== null) {
          console.log(`  WebAssembly FMA peak in the same rounds: ${fmaPeak.toFixed(1)} GFLOP/s`);
        }
      }
    }
  } finally {
    if (Array.isArray(torchProcesses)) { for (const p of torchProcesses as TorchProcess[]) await p.close(); }
  }

  const kernels: KernelsComparison[] = [];
  const sections: Section[] = [];
  const dir = await Deno.makeTempDir({ prefix: "flint-race-" });
  try {
    if (want("digits")) kernels.push(await digitsComparison(plan, dir));
    if (want("serve")) kernels.push(await serveComparison(plan, dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const quick = plan.mode === "full" ? [] : ["--quick"];
  if (want("overhead")) {
    sections.push(
      await section("Flint on tfjs against tfjs used directly (the overhead per op)", [
        "run",
        "-A",
        "bench/tfjs_bench.ts",
        ...quick,
      ], 15 * 60_000),
    );
  }
  if (want("finetune")) {
    const [size, repeat] = plan.mode === "full" ? ["64", "3"] : ["32", "1"];
    sections.push(
      await section("Fine-tuning ResNet18: frozen backbone against all layers (CPU backend)", [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        "bench/finetune_bench.ts",
        "--size",
        size,
        "--batch",
        "8",
        "--repeat",
        repeat,
      ], 15 * 60_000),
    );
  }
  if (want("webgpu")) {
    const title = "Flint on WebGPU against tfjs-webgpu";
    if (!(await hasWebgpuAdapter())) {
      sections.push({
        title,
        command: "bench/webgpu_bench.ts",
        output: "skipped: this runtime offers no WebGPU adapter",
      });
      console.log(`\n## ${title}\nskipped: no WebGPU adapter`);
    } else {
      sections.push(await section(title, ["run", "-A", "bench/webgpu_bench.ts", ...quick], 10 * 60_000));
    }
  }

  const tfjs = tfjsInfo();
  const torchInfo = Array.isArray(torchProcesses) ? (torchProcesses as TorchProcess[])[0].info : undefined;
  const policies = Array.isArray(torchProcesses) ? (torchProcesses as TorchProcess[]).map((p) => p.waitPolicy) : [];
  const machine: Machine = {
    date,
    cpu: await cpuModel(),
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    torch: torchInfo
      ? `${torchInfo.torch} (torchvision ${torchInfo.torchvision ?? "not installed"}, Python ${torchInfo.python}), ` +
        `${torchInfo.threads} threads; ` +
        (policies.length > 1
          ? `OpenMP wait policy: each case raced with ${policies.join(" and ")} and the faster kept (marked in the ` +
            `table): on a loaded 2-core VM GOMP's default spinning can stall a small parallel region for a whole ` +
            `scheduler slice, and PASSIVE can slow the big ones`
          : `OpenMP wait policy ${policies[0]}`)
      : `not measured: ${(torchProcesses as { unavailable: string }).unavailable}`,
    blas: torchInfo?.blas ?? "—",
    tfjs: `${tfjs.version} (tfjs-cpu; tfjs-wasm with XNNPACK, ${tfjs.wasmThreads ?? "?"} thread${
      tfjs.wasmThreads === 1 ? "" : "s"
    })`,
    flint: `${info.kernels} kernels, ${info.simd} SIMD, ${info.activeThreads} threads`,
    loadBefore,
    loadAfter: Deno.loadavg(),
    mode: plan.mode === "full" ? "full" : `--${plan.mode}`,
    method:
      `per case: a warm-up of at least ${plan.warmupMs} ms, then ${plan.rounds} rounds rotating through the contenders ` +
      `(${plan.fastRounds} for one whose run is shorter than a sample), one sample of at least ` +
      `${plan.sampleMs} ms each per round (at least ${plan.minSamples} for one slower than ` +
      `${formatMs(plan.budgetMs / (plan.rounds + 1))} a run); medians` +
      ((globalThis as { gc?: unknown }).gc ? "; each case starts after a full garbage collection" : ""),
  };
  return { machine, fmaPeak, cases, kernels, sections };
}

/** Formats a written markdown file as `deno fmt` would (CI checks it), best effort. */
async function fmt(path: string): Promise<void> {
  try {
    await deno(["fmt", "--quiet", path], 60_000);
  } catch (error) {
    console.error(`deno fmt ${path}: ${message(error)}`);
  }
}

if (import.meta.main) {
  const options = parseOptions(Deno.args);
  const started = performance.now();
  const report = await race(options);
  const results = resultsMarkdown(report);
  if (report.cases.length) console.log(`\n${raceTable(report.cases)}`);
  console.log(`\n${targetsTable(evaluateTargets(report))}`);
  const out = options.out ?? (options.complete ? new URL(".", import.meta.url).pathname : undefined);
  if (out !== undefined) {
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(`${out.replace(/\/$/, "")}/RESULTS.md`, results);
    await fmt(`${out.replace(/\/$/, "")}/RESULTS.md`);
    console.log(`wrote ${out.replace(/\/$/, "")}/RESULTS.md`);
  }
  if (options.complete && options.out === undefined) {
    const readme = new URL("README.md", ROOT);
    await Deno.writeTextFile(readme, spliceReadme(await Deno.readTextFile(readme), readmeSummary(report)));
    await fmt(readme.pathname);
    console.log(`wrote the bench section of ${readme.pathname}`);
  }
  console.log(`done in ${((performance.now() - started) / 60_000).toFixed(1)} min`);
}
