// Kernel-level timings of the CPU backend, three ways: the plain TypeScript
// kernels, the WebAssembly kernels on one thread, and on two. The machines
// these run on are shared, so every case is timed in rounds that alternate
// the three paths, and the report gives medians, with the load average before
// and after.
//
//   deno run -A bench/cpu_kernels_bench.ts [--quick] [--only=peak,crossover,matmul,conv,mlp,elementwise]
//   deno bench -A bench/cpu_kernels_bench.ts      (a few of the same cases under Deno's bench runner)

import type { View } from "@flint/backend";
import { CpuBackend } from "@flint/cpu";
import * as torch from "@flint/torch";
// The multiply-add peak is measured with the kernel module itself (a private export, bench-only).
import { WasmRuntime } from "../backends/cpu/_wasm_runtime.ts";

type Path = "ts" | "wasm1" | "wasm2";
const PATHS: readonly Path[] = ["ts", "wasm1", "wasm2"];

const backends: Record<Path, CpuBackend> = {
  ts: new CpuBackend({ name: "bench-ts", kernels: "typescript" }),
  wasm1: new CpuBackend({ name: "bench-wasm1", threads: 1 }),
  wasm2: new CpuBackend({ name: "bench-wasm2", threads: 2 }),
};
const devices = Object.fromEntries(PATHS.map((p) => [p, torch.registerBackend(backends[p])])) as Record<
  Path,
  torch.Device
>;

/** A dense view of a new float32 storage of `shape` filled with values in [-1, 1). */
function randomView(backend: CpuBackend, shape: number[], seed: number): View {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  return { storage: backend.upload(data, "float32"), dtype: "float32", shape, strides, offset: 0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** One benchmark case: a function per path that runs it once. */
interface Case {
  readonly name: string;
  /** floating-point operations per run (0 when GFLOP/s means nothing) */
  readonly flops: number;
  readonly run: Partial<Record<Path, () => void>>;
}

/** Times each path's run in alternating rounds; returns the median ms per run. */
function time(c: Case, rounds: number): Partial<Record<Path, number>> {
  const samples: Partial<Record<Path, number[]>> = {};
  const paths = PATHS.filter((p) => c.run[p]);
  for (const p of paths) {
    // Warm up: the first calls run WebAssembly's baseline tier, and workers may still be starting.
    const t0 = performance.now();
    c.run[p]!();
    const first = performance.now() - t0;
    for (let i = 0; i < (first < 50 ? 3 : 1); i++) c.run[p]!();
  }
  for (let r = 0; r < rounds; r++) {
    for (const p of paths) {
      const run = c.run[p]!;
      const t0 = performance.now();
      let n = 0;
      do {
        run();
        n++;
      } while (performance.now() - t0 < 20);
      (samples[p] ??= []).push((performance.now() - t0) / n);
    }
  }
  return Object.fromEntries(paths.map((p) => [p, median(samples[p]!)]));
}

function report(c: Case, ms: Partial<Record<Path, number>>): void {
  const cell = (p: Path) => {
    const t = ms[p];
    if (t === undefined) return "—".padStart(24);
    const rate = c.flops ? ` ${(c.flops / t / 1e6).toFixed(1).padStart(6)} GFLOP/s` : "";
    return `${t.toFixed(3).padStart(9)} ms${rate}`.padStart(24);
  };
  console.log(`${c.name.padEnd(34)}${PATHS.map(cell).join("")}`);
}

// ---- the cases ----

function matmulCase(n: number): Case {
  const run: Partial<Record<Path, () => void>> = {};
  for (const p of PATHS) {
    const b = backends[p];
    const x = randomView(b, [1, n, n], 1), y = randomView(b, [1, n, n], 2);
    run[p] = () => b.dispose(b.matmul(x, y));
  }
  return { name: `matmul ${n}x${n}`, flops: 2 * n ** 3, run };
}

/** conv 3x3 64→64 on 56×56, padding 1: forward, input gradient, weight gradient. */
function convCases(batch: number): Case[] {
  const geometry = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } as const;
  const xShape = [batch, 64, 56, 56], wShape = [64, 64, 3, 3], outShape = [batch, 64, 56, 56];
  const flops = 2 * batch * 64 * 56 * 56 * 64 * 9;
  const fwd: Partial<Record<Path, () => void>> = {}, bwdIn: typeof fwd = {}, bwdW: typeof fwd = {};
  for (const p of PATHS) {
    const b = backends[p];
    const x = randomView(b, xShape, 3), w = randomView(b, wShape, 4), g = randomView(b, outShape, 5);
    fwd[p] = () => b.dispose(b.fused.conv2d!(x, w, geometry, outShape));
    bwdIn[p] = () => b.dispose(b.fused.conv2dBackwardInput!(g, w, geometry, xShape));
    bwdW[p] = () => b.dispose(b.fused.conv2dBackwardWeight!(x, g, geometry, wShape));
  }
  const name = `conv3x3 64→64 56² b${batch}`;
  return [
    { name: `${name} fwd`, flops, run: fwd },
    { name: `${name} bwd input`, flops, run: bwdIn },
    { name: `${name} bwd weight`, flops, run: bwdW },
  ];
}

/**
 * Tutorial 001's MLP (64×1000 → 100 → 10, MSE sum, Adam lr 1e-4): one
 * training step, and its forward and backward alone (the update is
 * @flint/optim's composed Adam until it calls the fused adamStep, timed
 * below on its own).
 */
function mlpCases(): Case[] {
  const run: Partial<Record<Path, () => void>> = {}, pass: typeof run = {};
  for (const p of PATHS) {
    const device = devices[p];
    torch.manualSeed(0);
    const x = torch.randn([64, 1000], { device }), y = torch.randn([64, 10], { device });
    const model = new torch.nn.Sequential(
      new torch.nn.Linear(1000, 100),
      new torch.nn.ReLU(),
      new torch.nn.Linear(100, 10),
    ).to(device);
    const lossFn = new torch.nn.MSELoss({ reduction: "sum" });
    const optimizer = new torch.optim.Adam(model.parameters(), { lr: 1e-4 });
    run[p] = () =>
      torch.scope(() => {
        optimizer.zeroGrad({ setToNone: false });
        lossFn.forward(model.forward(x), y).backward();
        optimizer.step();
      });
    pass[p] = () =>
      torch.scope(() => {
        optimizer.zeroGrad({ setToNone: false });
        lossFn.forward(model.forward(x), y).backward();
      });
  }
  // forward 2·64·(1000·100 + 100·10), backward twice that (less the input's gradient, which is not needed)
  const flops = 3 * 2 * 64 * (1000 * 100 + 100 * 10);
  return [
    { name: "MLP 64x1000→100→10 Adam step", flops, run },
    { name: "MLP forward + backward", flops, run: pass },
  ];
}

/** The Adam update of the MLP's 101,110 parameters as one fused kernel per parameter. */
function adamCase(): Case {
  const run: Partial<Record<Path, () => void>> = {};
  const options = {
    lr: 1e-4,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    decoupledWeightDecay: false,
    amsgrad: false,
    maximize: false,
    step: 3,
  };
  for (const p of PATHS) {
    const b = backends[p];
    const params = [[100, 1000], [100], [10, 100], [10]].map((shape, i) => ({
      p: randomView(b, shape, 10 + i),
      g: randomView(b, shape, 20 + i),
      m: randomView(b, shape, 30 + i),
      v: randomView(b, shape, 40 + i),
    }));
    run[p] = () => {
      for (const q of params) b.fused.adamStep!(q.p, q.g, q.m, q.v, null, options);
    };
  }
  return { name: "fused adamStep, MLP's 101k params", flops: 0, run };
}

function elementwiseCases(): Case[] {
  const add: Partial<Record<Path, () => void>> = {}, relu: typeof add = {}, bnSum: typeof add = {};
  const bcast: typeof add = {};
  for (const p of PATHS) {
    const b = backends[p];
    const x = randomView(b, [8, 64, 56, 56], 6), y = randomView(b, [8, 64, 56, 56], 7);
    const c = randomView(b, [1, 64, 1, 1], 8);
    const shape = x.shape;
    const cBroadcast = { ...c, shape, strides: [0, 1, 0, 0] };
    add[p] = () => b.dispose(b.binary("add", x, y, shape, "float32"));
    bcast[p] = () => b.dispose(b.binary("mul", x, cBroadcast, shape, "float32"));
    relu[p] = () => b.dispose(b.unary("relu", x));
    bnSum[p] = () => b.dispose(b.reduce("sum", x, [0, 2, 3]));
  }
  return [
    { name: "add [8,64,56,56]", flops: 0, run: add },
    { name: "mul by [1,64,1,1] (broadcast)", flops: 0, run: bcast },
    { name: "relu [8,64,56,56]", flops: 0, run: relu },
    { name: "sum over [0,2,3] (batch norm)", flops: 0, run: bnSum },
  ];
}

/** WebAssembly multiply-adds with nothing else, on 1 and on 2 threads: the ceiling kernels are held to. */
function fmaPeak(rounds: number): { one: number; two: number } {
  const result = { one: 0, two: 0 };
  for (const threads of [1, 2] as const) {
    const runtime = WasmRuntime.for({ threads })!;
    const p = runtime.arena.scratch(32, true);
    new Float32Array(runtime.arena.buffer, p, 8).set([0.9999, 0.9999, 0.9999, 0.9999, 1e-6, 1e-6, 1e-6, 1e-6]);
    for (let i = 0; i < 2000; i++) runtime.exports.fmaPeak(1000, p);
    const iters = 200_000, calls = 10;
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // calls chunks per thread, each thread taking the next: the total over elapsed time.
      const chunks = Array.from({ length: threads * calls }, () => [{ fn: "fmaPeak", args: [iters, p] }]);
      const t0 = performance.now();
      runtime.run(chunks, threads);
      rates.push((chunks.length * iters * 96) / (performance.now() - t0) / 1e6);
    }
    result[threads === 1 ? "one" : "two"] = median(rates);
  }
  return result;
}

/**
 * Where a second thread starts to pay: a product and an addition run whole on
 * one thread, and as six chunks shared by two (what the kernels would do), at
 * growing sizes. The kernels' thresholds (PARALLEL_FLOPS, PARALLEL_ELEMENTS in
 * _wasm_kernels.ts) sit where two threads begin to win.
 */
function crossover(rounds: number): void {
  const runtime = WasmRuntime.for({ threads: 2 })!;
  const { arena } = runtime;
  const big = 4 << 20;
  const a = arena.scratch(big * 4, true), b = arena.scratch(big * 4, true), c = arena.scratch(big * 4, true);
  new Float32Array(arena.buffer, a, 2 * big).fill(0.5);
  const rows: string[] = [];
  const timeBoth = (one: () => void, two: () => void) => {
    const t1: number[] = [], t2: number[] = [];
    for (let i = 0; i < 20; i++) (one(), two());
    for (let r = 0; r < rounds * 3; r++) {
      for (const [f, into] of [[one, t1], [two, t2]] as const) {
        const t0 = performance.now();
        let n = 0;
        do {
          f();
          n++;
        } while (performance.now() - t0 < 5);
        into.push((performance.now() - t0) / n);
      }
    }
    return [median(t1), median(t2)];
  };
  for (const n of [32, 64, 96, 128, 192, 256]) {
    const call = (j0: number, j1: number) => [{
      fn: "sgemm",
      args: [n, j1 - j0, n, a, n, 1, b + j0 * 4, n, 1, c + j0 * 4, n, 0, 0],
      local: [12],
    }];
    const parts = Array.from(
      { length: 6 },
      (_, i) => [Math.floor((n * i) / 6 / 8) * 8, Math.floor((n * (i + 1)) / 6 / 8) * 8],
    )
      .map(([j0, j1], i) => (i === 5 ? [j0, n] : [j0, j1]))
      .filter(([j0, j1]) => j1 > j0);
    const [t1, t2] = timeBoth(
      () => runtime.run([call(0, n)], 1),
      () => runtime.run(parts.map(([j0, j1]) => call(j0, j1)), 2),
    );
    rows.push(
      `matmul ${n}³ (${((2 * n ** 3) / 1e6).toFixed(2)} MFLOP): 1 thread ${(t1 * 1000).toFixed(0)} µs, 2 threads ${
        (t2 * 1000).toFixed(0)
      } µs`,
    );
  }
  for (const n of [65536, 262144, 1 << 20, 4 << 20]) {
    const slice = (
      s0: number,
      s1: number,
    ) => [{ fn: "binaryRow", args: [0, a + s0 * 4, 1, b + s0 * 4, 1, c + s0 * 4, s1 - s0] }];
    const six = Array.from(
      { length: 6 },
      (_, i) => slice(Math.floor((n * i) / 6 / 16) * 16, i === 5 ? n : Math.floor((n * (i + 1)) / 6 / 16) * 16),
    );
    const [t1, t2] = timeBoth(() => runtime.run([slice(0, n)], 1), () => runtime.run(six, 2));
    rows.push(`add of ${n} floats: 1 thread ${(t1 * 1000).toFixed(1)} µs, 2 threads ${(t2 * 1000).toFixed(1)} µs`);
  }
  console.log(`crossover:\n  ${rows.join("\n  ")}`);
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7).split(",");
  const want = (group: string) => !only || only.includes(group);
  const rounds = quick ? 3 : 7;
  await backends.wasm2.threadsReady();
  const info = backends.wasm2.info();
  const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${navigator.hardwareConcurrency} cores`);
  console.log(`WebAssembly: ${info.simd} SIMD, ${info.activeThreads} threads, shared memory ${info.sharedMemory}`);
  console.log(`load average before: ${load()}; medians of ${rounds} alternating rounds`);
  if (want("crossover")) crossover(rounds);
  if (want("peak")) {
    const peak = fmaPeak(rounds);
    console.log(`multiply-add peak: ${peak.one.toFixed(1)} GFLOP/s on 1 thread, ${peak.two.toFixed(1)} on 2`);
  }
  console.log(
    `${"case".padEnd(34)}${"typescript".padStart(24)}${"wasm 1 thread".padStart(24)}${"wasm 2 threads".padStart(24)}`,
  );
  const cases: Case[] = [];
  if (want("matmul")) cases.push(...[256, 512, 1024].map(matmulCase));
  if (want("conv")) cases.push(...convCases(1), ...convCases(8));
  if (want("mlp")) cases.push(...mlpCases(), adamCase());
  if (want("elementwise")) cases.push(...elementwiseCases());
  for (const c of cases) {
    // The TypeScript path of the big cases takes seconds per run: fewer rounds for it.
    const slow = c.flops > 2e9;
    const ms = time({ ...c, run: slow ? { ...c.run, ts: undefined } : c.run }, rounds);
    if (slow && c.run.ts) ms.ts = time({ ...c, run: { ts: c.run.ts } }, quick ? 1 : 3).ts;
    report(c, ms);
  }
  console.log(`load average after: ${load()}`);
  for (const b of Object.values(backends)) b.close();
} else {
  for (const c of [matmulCase(256), ...convCases(1).slice(0, 1), mlpCases()[0]]) {
    for (const p of PATHS) {
      if (c.run[p]) Deno.bench(`${c.name} (${p})`, { group: c.name }, c.run[p]!);
    }
  }
}
