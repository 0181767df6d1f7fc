// The digits demo's training loop (examples/digits): wall time of the whole
// loop and time per epoch, on the embedded UCI digits, as `deno task demo`
// trains (DigitsNet, Adam + OneCycleLR, batch 32, seeded split).
//
//   deno run -A bench/digits_bench.ts [--epochs 12] [--seed 0] [--repeat 1] [--json out/bench/digits.json]
//       [--kernels auto|typescript]
//     trains `repeat` times and prints the loop's wall time, the median epoch, steps per second and the
//     test accuracy; --json also writes them. --kernels picks the CPU backend's kernels (default auto: the
//     WebAssembly kernels on every core; typescript: the plain TypeScript reference), so bench/race.ts can
//     show what the WebAssembly kernels bought the demo
//   deno bench -A bench/digits_bench.ts
//     times one training epoch with Deno's runner

import * as torch from "@flint/torch";
import { CpuBackend } from "@flint/cpu";
import { loadDigits, splitDigits } from "../examples/digits/data.ts";
import { evaluate, fit, type FitResult } from "../examples/digits/fit.ts";
import { DigitsNet } from "../examples/digits/model.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

if (import.meta.main) {
  const kernels = flag("--kernels", "auto");
  if (kernels !== "auto" && kernels !== "typescript") {
    throw new RangeError(`--kernels must be auto or typescript, got "${kernels}"`);
  }
  // Before any tensor exists: the demo's device is the default "cpu", so this backend replaces it.
  if (kernels === "typescript") torch.setDefaultDevice(torch.registerBackend(new CpuBackend({ kernels })));
}

const digits = await loadDigits();

/** One training run as the demo does it. */
async function train(epochs: number, seed: number): Promise<FitResult & { accuracy: number }> {
  const split = splitDigits(digits, { seed });
  torch.manualSeed(seed);
  const model = new DigitsNet();
  const result = await fit(model, split, { epochs, seed });
  return { ...result, accuracy: (await evaluate(model, split.test)).accuracy };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// ---- deno bench: one epoch ----

Deno.bench({
  name: "digits demo: one training epoch (1438 images, 45 steps of batch 32) + test pass",
  group: "digits",
  n: 3,
  warmup: 1,
  fn: async () => void await train(1, 0),
});

// ---- deno run: the demo's loop ----

if (import.meta.main) {
  const epochs = Number(flag("--epochs", "12"));
  const seed = Number(flag("--seed", "0"));
  const repeat = Number(flag("--repeat", "1"));
  const json = Deno.args.includes("--json") ? flag("--json", "out/bench/digits.json") : undefined;
  const cpu = torch.device("cpu").backend as unknown as { info?: () => { kernels: string; activeThreads: number } };
  console.log(
    `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load ${Deno.loadavg()[0].toFixed(2)}`,
  );
  const runs = [];
  for (let r = 0; r < repeat; r++) {
    const result = await train(epochs, seed);
    const epochMs = result.history.map((e) => 1000 * e.seconds);
    const steps = epochs * result.stepsPerEpoch;
    runs.push({
      loopSeconds: result.seconds,
      medianEpochMs: median(epochMs),
      epochMs,
      stepsPerSecond: steps / result.history.reduce((s, e) => s + e.seconds, 0),
      testAccuracy: result.accuracy,
    });
    const run = runs.at(-1)!;
    console.log(
      `run ${r + 1}: ${epochs} epochs in ${run.loopSeconds.toFixed(2)} s (test passes included), ` +
        `median epoch ${run.medianEpochMs.toFixed(0)} ms, ${run.stepsPerSecond.toFixed(1)} steps/s, ` +
        `test accuracy ${(100 * run.testAccuracy).toFixed(2)}%`,
    );
  }
  const info = cpu.info?.();
  console.log(`kernels ${info?.kernels ?? "?"}, threads ${info?.activeThreads ?? "?"}`);
  if (json !== undefined) {
    await Deno.mkdir(json.slice(0, Math.max(0, json.lastIndexOf("/"))) || ".", { recursive: true });
    const record = {
      bench: "digits",
      epochs,
      seed,
      kernels: info?.kernels ?? "?",
      threads: info?.activeThreads ?? 1,
      deno: Deno.version.deno,
      loadavg: Deno.loadavg(),
      runs,
    };
    await Deno.writeTextFile(json, JSON.stringify(record, null, 2) + "\n");
    console.log(`wrote ${json}`);
  }
}
