// Shared by the ResNet, transforms and tutorial tests: what
// tests/fixtures/make_resnet_fixtures.py recorded from torchvision, and the
// helpers that summarise Flint's tensors the same way (sha256 of the
// little-endian bytes, the same sampled positions).

import { createHash } from "node:crypto";
import type { Tensor } from "@flint/autograd";

/** tests/fixtures/resnet/. */
export const RESNET_FIXTURES: URL = new URL("../tests/fixtures/resnet/", import.meta.url);

/** One state-dict entry as torchvision built it. */
export interface KeyRecord {
  key: string;
  shape: number[];
  dtype: string;
  sha256?: string;
  value?: number[];
}

/** A tensor's norm, sum and sampled entries. */
export interface Summary {
  norm: number;
  sum: number;
  samples: number[];
}

/** What PyTorch decoded and made of one image. */
export interface ImageRecord {
  file: string;
  mode: string;
  size: [number, number];
  decoded: { sha256: string; mean: number[]; samples: [number, number, number, number][] };
  resized: [number, number];
  crop: { sha256: string; mean: number[]; samples: number[] };
  normalized: { mean: number[]; samples: number[] };
  label?: number;
}

/** resnet.json. */
export interface ResNetFixture {
  versions: Record<string, string>;
  categories_sha256: string;
  models: Record<string, { state_dict: KeyRecord[]; after_init?: number[]; input_seed?: number; logits?: number[] }>;
  eval: {
    input: { seed: number; shape: number[]; first: number[] };
    logits: number[][];
    input224: { seed: number; shape: number[] };
    logits224: number[];
    float16_logits: number[][];
    float16_max_change: number;
  };
  train_step: {
    seed_model: number;
    seed_data: number;
    loss: number;
    grads: Record<string, Summary>;
    after_step: Record<string, number[]>;
    bn1_running_mean: number[];
    layer4_1_bn2_running_var: number[];
  };
  small_fp16: {
    keys: { key: string; dtype: string; shape: number[] }[];
    values: Record<string, number[]>;
    input_seed: number;
    input_shape: number[];
    output_shape: number[];
    output: number[];
  };
  images: ImageRecord[];
  photos: ImageRecord[];
  tutorial003: {
    weights_seed: number;
    image: string;
    lines: string[];
    graph: string[];
    loss_graph: string[];
    targets: number[];
  };
}

let cached: ResNetFixture | undefined;

/** The parsed resnet.json (read once). */
export async function resnetFixture(): Promise<ResNetFixture> {
  cached ??= JSON.parse(await Deno.readTextFile(new URL("resnet.json", RESNET_FIXTURES))) as ResNetFixture;
  return cached;
}

/** The fixture script's i-th sampled position in [0, n). */
export function sampleIndex(n: number, i: number): number {
  return (i * 7919 + 13) % n;
}

/** `k` sampled entries of a CPU tensor, as the fixture script's `samples`. */
export function samplesOf(t: Tensor, k = 256): number[] {
  const data = t.contiguous().dataSync();
  return Array.from({ length: k }, (_, i) => data[sampleIndex(data.length, i)]);
}

/** The sha256 of bytes, hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The sha256 of a float tensor's float32 little-endian bytes, as the fixture script hashes them. */
export function tensorSha256(t: Tensor): string {
  const data = t.contiguous().dataSync();
  const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
  return sha256Hex(new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength));
}

/** The largest |a - b| over two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The largest |x| of an array. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Whether a file exists (false without read permission). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
