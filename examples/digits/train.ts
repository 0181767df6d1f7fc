// `deno task demo`: train a small residual network on the UCI handwritten
// digits (embedded, no download), draw its curves and confusion matrix, save
// it as an int8 Flint pack, load the pack back and check it still scores.
//
//   deno run -A examples/digits/train.ts [--device cpu|webgpu|tfjs] [--epochs 12] [--seed 0] [--out out/digits]

import * as torch from "@flint/torch";
import { deviceFromArgs } from "../_device.ts";
import { loadDigits, splitDigits } from "./data.ts";
import { confusionMatrix, type EpochStats, evaluate, fit } from "./fit.ts";
import { DigitsNet } from "./model.ts";
import { trainingProgress } from "./progress.ts";
import { confusionSpec, curvesSpec, formatBytes, writeChart } from "./report.ts";

/** The demo's usage text, as `--help` prints it. */
export const USAGE: string = `Train a small convolutional network on the UCI handwritten digits (1,797 8x8 images,
embedded), draw its training curves and confusion matrix, and save it as a compressed int8 Flint pack.

Usage: deno task demo [options]
       deno run -A examples/digits/train.ts [options]

Options:
  --device <cpu|webgpu|tfjs>   where to train (default cpu)
  --tfjs-backend <cpu|wasm>    the tfjs backend with --device tfjs (default wasm)
  --epochs <n>                 passes over the training set (default 12)
  --seed <n>                   seeds the split, the initial weights and the shuffling (default 0)
  --out <dir>                  where the pictures, the pack and metrics.json go (default out/digits)
  -h, --help                   show this text

Then serve the model: deno task serve (see examples/serve.ts).`;

/** The demo's settings, from its flags. */
export interface DemoOptions {
  /** the device to train on */
  device: "cpu" | "webgpu" | "tfjs";
  /** the tfjs backend with device "tfjs" */
  tfjsBackend: "cpu" | "wasm";
  /** passes over the training set */
  epochs: number;
  /** seeds the split, the initial weights and the shuffling */
  seed: number;
  /** the output directory */
  out: string;
  /** print the usage and stop */
  help: boolean;
}

/** A flag the demo does not accept, or a value it cannot use; the CLI exits with code 2. */
export class UsageError extends Error {
  /** A usage error with `message`. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The defaults of the flags. */
export const DEFAULTS: Readonly<DemoOptions> = {
  device: "cpu",
  tfjsBackend: "wasm",
  epochs: 12,
  seed: 0,
  out: "out/digits",
  help: false,
};

const VALUE_FLAGS = ["--device", "--tfjs-backend", "--epochs", "--seed", "--out"] as const;

function integer(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} must be an integer >= ${min}, got "${text}"`);
  }
  return value;
}

/**
 * Parses the demo's flags (`--flag value` or `--flag=value`).
 *
 * @throws {UsageError} for an unknown flag, a missing value, or a value out of range
 *
 * @example
 * ```ts
 * import { parseFlags } from "./train.ts";
 *
 * const options = parseFlags(["--epochs", "3", "--seed=7"]);
 * console.log(options.epochs, options.seed, options.out); // 3 7 out/digits
 * ```
 */
export function parseFlags(args: readonly string[]): DemoOptions {
  const options: DemoOptions = { ...DEFAULTS };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      options.help = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!(VALUE_FLAGS as readonly string[]).includes(name)) {
      throw new UsageError(arg.startsWith("-") ? `unknown flag ${name}` : `unexpected argument "${arg}"`);
    }
    let value: string;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) throw new UsageError(`${name} needs a value`);
      value = next;
      i++;
    }
    if (name === "--device") {
      if (value !== "cpu" && value !== "webgpu" && value !== "tfjs") {
        throw new UsageError(`--device must be cpu, webgpu or tfjs, got "${value}"`);
      }
      options.device = value;
    } else if (name === "--tfjs-backend") {
      if (value !== "cpu" && value !== "wasm") {
        throw new UsageError(`--tfjs-backend must be cpu or wasm, got "${value}"`);
      }
      options.tfjsBackend = value;
    } else if (name === "--epochs") {
      options.epochs = integer(name, value, 1);
    } else if (name === "--seed") {
      options.seed = integer(name, value, 0);
    } else {
      if (value === "") throw new UsageError("--out needs a directory");
      options.out = value;
    }
  }
  return options;
}

/** What the demo measured and wrote (also saved as `<out>/metrics.json`). */
export interface DemoResult {
  /** the device trained on */
  device: string;
  /** the seed */
  seed: number;
  /** the epochs */
  epochs: number;
  /** images in the training and test sets */
  trainImages: number;
  /** images in the test set */
  testImages: number;
  /** the model's parameter count */
  parameters: number;
  /** per-epoch loss, accuracy and time */
  history: EpochStats[];
  /** wall time of the training loop (test passes included), seconds */
  trainSeconds: number;
  /** the float32 model's test accuracy, 0..1 */
  testAccuracy: number;
  /** the reloaded int8 pack's test accuracy, 0..1 */
  packAccuracy: number;
  /** bytes of the int8 gzip pack on disk */
  packBytes: number;
  /** bytes of the same state dict as float32 safetensors */
  float32Bytes: number;
  /** the files written */
  files: { curves: [string, string]; confusion: [string, string]; pack: string; metrics: string };
}

function pct(fraction: number): string {
  return `${(100 * fraction).toFixed(2)}%`;
}

/**
 * Runs the demo with `options` (the device must be set up already), printing
 * as it goes through `log`.
 *
 * @example
 * ```ts
 * import { DEFAULTS, runDemo } from "./train.ts";
 *
 * const out = await Deno.makeTempDir();
 * const result = await runDemo({ ...DEFAULTS, epochs: 1, out }, { log: () => {} });
 * console.log(result.history.length, result.packBytes < result.float32Bytes); // 1 true
 * ```
 */
export async function runDemo(
  options: DemoOptions,
  io: { log?: (line: string) => void; bar?: boolean } = {},
): Promise<DemoResult> {
  const log = io.log ?? ((line: string) => console.log(line));
  const device = torch.getDefaultDevice();
  const digits = await loadDigits();
  const split = splitDigits(digits, { seed: options.seed, device });
  torch.manualSeed(options.seed);
  const model = new DigitsNet().to(device);
  const parameters = model.parameters().reduce((n, p) => n + p.numel(), 0);
  log(
    `UCI digits: ${digits.length} images of 8x8 (CC BY 4.0, examples/digits/data); ` +
      `train ${split.train.length}, test ${split.test.length} (seed ${options.seed})`,
  );
  log(`DigitsNet: conv, batch norm, ReLU, a residual block, pooling, linear; ${parameters} parameters on ${device}`);

  const stepsPerEpoch = Math.ceil(split.train.length / 32);
  const progress = trainingProgress(options.epochs, stepsPerEpoch, { bar: io.bar, log });
  let trained;
  try {
    trained = await fit(model, split, {
      epochs: options.epochs,
      seed: options.seed,
      onStep: (info) => progress.step(info),
      onEpoch: (stats) => progress.epoch(stats),
    });
  } finally {
    progress.stop();
  }
  const final = await evaluate(model, split.test);
  const epochMs = 1000 * trained.history.reduce((s, e) => s + e.seconds, 0) / trained.history.length;
  const epochs = `${options.epochs} epoch${options.epochs === 1 ? "" : "s"}`;
  log(
    `trained ${epochs} in ${trained.seconds.toFixed(1)} s (${epochMs.toFixed(0)} ms per epoch); ` +
      `test accuracy ${pct(final.accuracy)} (${Math.round(final.accuracy * split.test.length)}/${split.test.length})`,
  );

  await Deno.mkdir(options.out, { recursive: true });
  const curves = await writeChart(
    curvesSpec(trained.history, `DigitsNet on the UCI digits (seed ${options.seed})`),
    `${options.out}/curves`,
  );
  const confusion = await writeChart(
    confusionSpec(confusionMatrix(final.labels, final.predictions), `test set: ${pct(final.accuracy)} right`),
    `${options.out}/confusion`,
  );
  log(`loss and accuracy curves: ${curves.join(", ")}`);
  log(`confusion matrix:         ${confusion.join(", ")}`);

  // int8 per-channel weights (biases and batch-norm statistics stay float32), gzip at the highest level.
  const pack = `${options.out}/model.pack`;
  const stateDict = model.stateDict();
  await torch.save(stateDict, pack, { format: "pack", quantization: "int8", compression: "gzip", level: 9 });
  const packBytes = (await Deno.stat(pack)).size;
  const float32Bytes = (await torch.save(stateDict, { format: "safetensors" })).length;
  log(
    `saved ${pack}: ${formatBytes(packBytes)} (int8, gzip) vs ${formatBytes(float32Bytes)} as float32 safetensors ` +
      `(${(float32Bytes / packBytes).toFixed(1)}x smaller)`,
  );

  const reloaded = new DigitsNet().to(device);
  reloaded.loadStateDict(await torch.load(pack, { device }));
  const packAccuracy = (await evaluate(reloaded, split.test)).accuracy;
  const gap = 100 * (packAccuracy - final.accuracy);
  log(
    `reloaded the pack into a fresh DigitsNet: test accuracy ${pct(packAccuracy)} ` +
      `(float32 ${pct(final.accuracy)}, ${gap >= 0 ? "+" : ""}${gap.toFixed(2)} points)`,
  );

  const metrics = `${options.out}/metrics.json`;
  const result: DemoResult = {
    device: String(device),
    seed: options.seed,
    epochs: options.epochs,
    trainImages: split.train.length,
    testImages: split.test.length,
    parameters,
    history: trained.history,
    trainSeconds: trained.seconds,
    testAccuracy: final.accuracy,
    packAccuracy,
    packBytes,
    float32Bytes,
    files: { curves, confusion, pack, metrics },
  };
  await Deno.writeTextFile(metrics, JSON.stringify(result, null, 2) + "\n");
  log(`metrics: ${metrics}`);
  return result;
}

/**
 * The command line: parses `args`, sets up the device, runs the demo, and
 * returns the exit code (0, 1 on failure, 2 on a usage error).
 *
 * @example
 * ```ts
 * import { main } from "./train.ts";
 *
 * console.log(await main(["--help"])); // 0
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseFlags(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}\nRun with --help for the usage.`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    await deviceFromArgs(["--device", options.device, "--tfjs-backend", options.tfjsBackend]);
    const started = performance.now();
    await runDemo(options);
    console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
