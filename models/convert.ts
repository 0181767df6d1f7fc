// Converts a weights file (.pth, safetensors or a pack) to a compressed Flint
// pack and says what the conversion cost: the sizes, and for a ResNet state
// dict the largest change in the logits on a fixed input (else the largest
// change in any weight).
//
//   deno task convert <in.pth|in.safetensors> <out.pack> [--int8 | --float16] [--gzip | --deflate]
//                     [--model resnet18|resnet34|resnet50] [--size 224]

import { type DeviceLike, manualSeed, noGrad, rand, type Tensor } from "@flint/autograd";
import { load, type PackCompression, type PackQuantization, save, type StateDict } from "./io/mod.ts";
import { type ResNet, resnet18, resnet34, resnet50 } from "./resnet.ts";

/** The architectures {@linkcode convertWeights} can build to measure logits. */
export type ConvertModel = "resnet18" | "resnet34" | "resnet50";

/** Options of {@linkcode convertWeights}. */
export interface ConvertOptions {
  /** how the pack stores floating tensors (default "int8") */
  quantization?: PackQuantization;
  /** how the pack is compressed (default "gzip") */
  compression?: PackCompression;
  /** the architecture to build for the logit check (default: recognised from the keys, or none) */
  model?: ConvertModel | null;
  /** side of the fixed input `torch.rand(1, 3, size, size)` after `manualSeed(0)` (default 224) */
  size?: number;
  /** where the models run (default: the default device) */
  device?: DeviceLike;
}

/** What a conversion did. */
export interface ConvertReport {
  /** bytes of the input file */
  inputBytes: number;
  /** bytes of the pack */
  outputBytes: number;
  /** the pack's quantization */
  quantization: PackQuantization;
  /** the pack's compression */
  compression: PackCompression;
  /** the architecture used for the logit check, or null when none applied */
  model: ConvertModel | null;
  /** the fixed input's shape, when logits were compared */
  inputShape: number[] | null;
  /** the largest |logit(pack) - logit(input)|, when logits were compared */
  maxLogitDiff: number | null;
  /** the range of the input file's logits, for scale */
  logitRange: [number, number] | null;
  /** the largest |weight(pack) - weight(input)| over all tensors */
  maxWeightDiff: number;
  /** the key where that happens */
  maxWeightDiffKey: string;
}

/** The ResNet whose state dict this is, from its keys: the blocks per stage and whether they are bottlenecks. */
function recognise(sd: StateDict): ConvertModel | null {
  const blocks = [1, 2, 3, 4].map((i) => {
    let n = 0;
    while (`layer${i}.${n}.conv1.weight` in sd) n++;
    return n;
  });
  const bottleneck = "layer1.0.conv3.weight" in sd;
  const shape = blocks.join(",");
  if (!bottleneck && shape === "2,2,2,2") return "resnet18";
  if (!bottleneck && shape === "3,4,6,3") return "resnet34";
  if (bottleneck && shape === "3,4,6,3") return "resnet50";
  return null;
}

const BUILDERS: Readonly<Record<ConvertModel, (numClasses: number) => ResNet>> = {
  resnet18: (numClasses) => resnet18({ numClasses }),
  resnet34: (numClasses) => resnet34({ numClasses }),
  resnet50: (numClasses) => resnet50({ numClasses }),
};

function logitsOf(model: ConvertModel, sd: StateDict, input: Tensor, device?: DeviceLike): Float32Array {
  const numClasses = sd["fc.weight"]?.shape[0] ?? 1000;
  const net = BUILDERS[model](numClasses);
  if (device !== undefined) net.to(device);
  net.loadStateDict(sd);
  net.eval();
  return Float32Array.from(noGrad(() => net(input)).dataSync());
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function fileSize(path: string | URL): Promise<number> {
  return (await Deno.stat(path)).size;
}

/**
 * Converts a weights file to a Flint pack and measures the cost: sizes, the
 * largest weight change, and for a ResNet state dict (recognised from its
 * keys, or named by `options.model`) the largest logit change from float32
 * on `torch.rand(1, 3, size, size)` after `manualSeed(0)`, in eval mode.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { save } from "@flint/models";
 * import { convertWeights } from "@flint/models/convert";
 *
 * const dir = await Deno.makeTempDir();
 * await save({ "w": torch.linspace(-1, 1, 12).view(3, 4) }, `${dir}/w.pth`);
 * const report = await convertWeights(`${dir}/w.pth`, `${dir}/w.pack`, { quantization: "float16" });
 * console.log(report.model, report.maxWeightDiff < 1e-3); // null true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function convertWeights(
  input: string | URL,
  output: string | URL,
  options: ConvertOptions = {},
): Promise<ConvertReport> {
  const quantization = options.quantization ?? "int8";
  const compression = options.compression ?? "gzip";
  const original = await load(input, { device: options.device });
  await save(original, output, { format: "pack", quantization, compression });
  const packed = await load(output, { device: options.device });

  let maxWeightDiff = 0, maxWeightDiffKey = "";
  for (const [key, t] of Object.entries(original)) {
    const d = maxAbsDiff(await t.data(), await packed[key].data());
    if (d > maxWeightDiff || maxWeightDiffKey === "") [maxWeightDiff, maxWeightDiffKey] = [d, key];
  }

  const model = options.model === undefined ? recognise(original) : options.model;
  let inputShape: number[] | null = null, maxLogitDiff: number | null = null;
  let logitRange: [number, number] | null = null;
  if (model !== null) {
    const size = options.size ?? 224;
    inputShape = [1, 3, size, size];
    manualSeed(0);
    const x = rand(inputShape, { device: options.device });
    const before = logitsOf(model, original, x, options.device);
    const after = logitsOf(model, packed, x, options.device);
    maxLogitDiff = maxAbsDiff(before, after);
    logitRange = [Math.min(...before), Math.max(...before)];
  }
  return {
    inputBytes: await fileSize(input),
    outputBytes: await fileSize(output),
    quantization,
    compression,
    model,
    inputShape,
    maxLogitDiff,
    logitRange,
    maxWeightDiff,
    maxWeightDiffKey,
  };
}

function megabytes(n: number): string {
  return `${(n / 1e6).toFixed(2)} MB`;
}

/**
 * The report as the command prints it.
 *
 * @example
 * ```ts
 * import { formatConvertReport } from "@flint/models/convert";
 *
 * console.log(formatConvertReport("a.pth", "a.pack", {
 *   inputBytes: 2e6, outputBytes: 5e5, quantization: "int8", compression: "gzip", model: null, inputShape: null,
 *   maxLogitDiff: null, logitRange: null, maxWeightDiff: 0.002, maxWeightDiffKey: "fc.weight",
 * }).split("\n")[0]); // a.pth (2.00 MB) -> a.pack (int8 + gzip, 0.50 MB, 25.0% of the input)
 * ```
 */
export function formatConvertReport(input: string, output: string, r: ConvertReport): string {
  const lines = [
    `${input} (${megabytes(r.inputBytes)}) -> ${output} (${r.quantization} + ${r.compression}, ` +
    `${megabytes(r.outputBytes)}, ${((100 * r.outputBytes) / r.inputBytes).toFixed(1)}% of the input)`,
  ];
  if (r.model !== null && r.maxLogitDiff !== null && r.logitRange !== null && r.inputShape !== null) {
    lines.push(
      `${r.model}: largest logit difference from float32 ${r.maxLogitDiff.toPrecision(4)} ` +
        `on torch.rand(${r.inputShape.join(", ")}) after manualSeed(0), eval mode ` +
        `(the logits span ${r.logitRange[0].toFixed(3)} to ${r.logitRange[1].toFixed(3)})`,
    );
  } else {
    lines.push("not a ResNet state dict Flint can build: no logits compared");
  }
  lines.push(`largest weight difference ${r.maxWeightDiff.toPrecision(4)} (${r.maxWeightDiffKey})`);
  return lines.join("\n");
}

const USAGE = "usage: deno task convert <in.pth|in.safetensors|in.pack> <out.pack> [--int8 | --float16] " +
  "[--gzip | --deflate] [--model resnet18|resnet34|resnet50] [--size 224]";

/** Parses the command line of `deno task convert`. */
export function parseConvertArgs(args: readonly string[]): { input: string; output: string; options: ConvertOptions } {
  const positional: string[] = [];
  const options: ConvertOptions = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--int8" || a === "--float16") options.quantization = a.slice(2) as PackQuantization;
    else if (a === "--gzip" || a === "--deflate" || a === "--no-compression") {
      options.compression = a === "--no-compression" ? "none" : a.slice(2) as PackCompression;
    } else if (a === "--model") {
      const m = args[++i];
      if (m !== "resnet18" && m !== "resnet34" && m !== "resnet50") {
        throw new RangeError(`--model must be resnet18, resnet34 or resnet50, got ${m}\n${USAGE}`);
      }
      options.model = m;
    } else if (a === "--size") {
      const s = Number(args[++i]);
      if (!Number.isInteger(s) || s < 32) throw new RangeError(`--size must be an integer of at least 32\n${USAGE}`);
      options.size = s;
    } else if (a.startsWith("--")) throw new RangeError(`unknown option ${a}\n${USAGE}`);
    else positional.push(a);
  }
  if (positional.length !== 2) throw new RangeError(USAGE);
  return { input: positional[0], output: positional[1], options };
}

if (import.meta.main) {
  // Run as a command, this file is an application: the umbrella picks the CPU backend, as for any script.
  // (The umbrella imports @flint/models, so this file stays out of models/mod.ts: no import cycle.)
  await import("@flint/torch");
  let parsed;
  try {
    parsed = parseConvertArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  const report = await convertWeights(parsed.input, parsed.output, parsed.options);
  console.log(formatConvertReport(parsed.input, parsed.output, report));
}
