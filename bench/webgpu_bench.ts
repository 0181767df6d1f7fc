// Flint on WebGPU against TensorFlow.js's WebGPU backend, on the same adapter
// and in one run: per-op wall time from the call to the result read back on
// the host (both libraries pay the same readback), after warm-up, as medians
// of alternating runs, with the ratio tfjs / Flint (above 1: Flint is faster).
//
//   deno run -A bench/webgpu_bench.ts [--quick]
//
// Under `deno bench` (which imports this file) it registers nothing: the race
// needs both libraries' devices and its own timing loop.

import * as torch from "@flint/torch";
import { WebGpuBackend } from "@flint/webgpu";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";

/** One op raced on both libraries: set-up returns a runner that returns a promise of the host data. */
interface Race {
  readonly name: string;
  readonly flops: number;
  readonly flint: () => () => Promise<unknown>;
  readonly tfjs: () => () => Promise<unknown>;
}

/**
 * Medians of both runners, timed alternately (Flint, tfjs, Flint, ...) after
 * warm-up, so drifting load on a shared machine hits both alike.
 */
async function race(
  flint: () => Promise<unknown>,
  tfjs: (() => Promise<unknown>) | null,
  warmup: number,
  reps: number,
): Promise<[number, number]> {
  const runners = tfjs ? [flint, tfjs] : [flint];
  for (let i = 0; i < warmup; i++) for (const run of runners) await run();
  const times: number[][] = runners.map(() => []);
  for (let i = 0; i < reps; i++) {
    for (let r = 0; r < runners.length; r++) {
      const t0 = performance.now();
      await runners[r]();
      times[r].push(performance.now() - t0);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return [median(times[0]), tfjs ? median(times[1]) : NaN];
}

function matmulRace(n: number): Race {
  return {
    name: `matmul ${n}x${n}·${n}x${n}`,
    flops: 2 * n ** 3,
    flint: () => {
      const a = torch.randn(n, n, { device: "webgpu" }), b = torch.randn(n, n, { device: "webgpu" });
      return async () => {
        const c = a.matmul(b);
        await c.data();
        c.dispose();
      };
    },
    tfjs: () => {
      const a = tf.randomNormal([n, n]), b = tf.randomNormal([n, n]);
      return async () => {
        const c = tf.matMul(a, b);
        await c.data();
        c.dispose();
      };
    },
  };
}

function convRace(batch: number, channels: number, size: number): Race {
  return {
    name: `conv2d 3x3 ${channels}→${channels} at ${size}x${size}, batch ${batch}, padding 1`,
    flops: 2 * batch * channels * channels * 9 * size * size,
    flint: () => {
      const x = torch.randn(batch, channels, size, size, { device: "webgpu" });
      const w = torch.randn(channels, channels, 3, 3, { device: "webgpu" });
      return async () => {
        const y = torch.conv2d(x, w, null, { padding: 1 });
        await y.data();
        y.dispose();
      };
    },
    tfjs: () => {
      // tfjs's native layout is NHWC with HWIO filters: the same op on the same numbers of elements.
      const x = tf.randomNormal([batch, size, size, channels]) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, channels, channels]) as tf.Tensor4D;
      return async () => {
        const y = tf.conv2d(x, w, 1, "same");
        await y.data();
        y.dispose();
      };
    },
  };
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const gpu = await WebGpuBackend.create();
  torch.registerBackend(gpu);
  torch.manualSeed(0);
  let tfjsReady = false;
  let tfjsWhy = "";
  try {
    tfjsReady = await tf.setBackend("webgpu");
    await tf.ready();
    if (!tfjsReady) tfjsWhy = "tf.setBackend('webgpu') returned false";
  } catch (error) {
    tfjsWhy = String(error);
  }
  console.log(`adapter: ${gpu.adapterInfo}; tfjs backend: ${tfjsReady ? tf.getBackend() : `unavailable (${tfjsWhy})`}`);
  const races = [
    matmulRace(256),
    matmulRace(512),
    ...(quick ? [] : [matmulRace(1024)]),
    convRace(1, 64, 56),
  ];
  const rows: string[][] = [["op", "Flint ms", "tfjs-webgpu ms", "tfjs / Flint", "Flint GFLOP/s"]];
  for (const r of races) {
    const reps = r.flops > 1e9 ? 7 : 11;
    const [flint, tfjs] = await race(r.flint(), tfjsReady ? r.tfjs() : null, 2, reps);
    rows.push([
      r.name,
      flint.toFixed(1),
      tfjsReady ? tfjs.toFixed(1) : "n/a",
      tfjsReady ? `${(tfjs / flint).toFixed(2)}x` : "n/a",
      (r.flops / flint / 1e6).toFixed(2),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) {
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
  }
  console.log("(medians of alternating runs after warm-up; each time includes reading the result back to the host)");
  gpu.destroy();
}
