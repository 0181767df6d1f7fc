// Shared by the weights tests: the fixtures PyTorch wrote and a comparison of
// a loaded tensor with PyTorch's view of it.

import assert from "node:assert/strict";
import type { Tensor } from "@flint/autograd";

/** The fixture folder, tests/fixtures/weights. */
export const FIXTURES: URL = new URL("../../tests/fixtures/weights/", import.meta.url);

/** A fixture file's bytes. */
export function fixture(name: string): Promise<Uint8Array> {
  return Deno.readFile(new URL(name, FIXTURES));
}

/** A fixture file's path. */
export function fixturePath(name: string): string {
  return new URL(name, FIXTURES).pathname;
}

/** PyTorch's view of one tensor (see make_weight_fixtures.py). */
export interface ExpectedTensor {
  dtype: string;
  shape: number[];
  stride: number[];
  storage_offset: number;
  values: (number | string | boolean)[];
  requires_grad: boolean;
  parameter: boolean;
}

/** PyTorch's view of one file. */
export interface ExpectedFile {
  tensors: Record<string, ExpectedTensor>;
  shared: string[][];
  metadata?: Record<string, string>;
}

/** expected.json. */
export interface Expected {
  evil: Record<string, string>;
  files: Record<string, ExpectedFile>;
  weights_only: Record<string, string>;
  release_layout: { name: string; flag_bits: number; compress_type: number }[];
  resnet18: Record<string, { shape: number[]; parameter: boolean }>;
  int8: { w: number[]; shape: number[]; scale: number[]; q: number[]; dequantized: number[] };
  flint_written: {
    pth_weights_only: string;
    pth: ExpectedFile;
    safetensors: ExpectedFile;
    zip64_weights_only: string;
    zip64_same: boolean;
  };
}

let cached: Expected | undefined;

/** The recorded PyTorch results. */
export async function expected(): Promise<Expected> {
  cached ??= JSON.parse(await Deno.readTextFile(new URL("expected.json", FIXTURES))) as Expected;
  return cached;
}

function decode(v: number | string | boolean): number {
  if (v === "nan") return NaN;
  if (v === "inf") return Infinity;
  if (v === "-inf") return -Infinity;
  return typeof v === "boolean" ? (v ? 1 : 0) : (v as number);
}

/** Asserts `t` holds exactly PyTorch's values and shape (dtype as Flint converts it). */
export function assertMatches(t: Tensor, e: ExpectedTensor, key: string): void {
  assert.deepEqual([...t.shape], e.shape, `${key}: shape`);
  const flint = {
    float16: "float32",
    bfloat16: "float32",
    int64: "int32",
    int16: "int32",
    int8: "int32",
    uint8: "int32",
  };
  assert.equal(t.dtype, (flint as Record<string, string>)[e.dtype] ?? e.dtype, `${key}: dtype`);
  const data = Array.from(t.dataSync());
  const want = e.values.map(decode);
  assert.equal(data.length, want.length, `${key}: numel`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Object.is(data[i], want[i]) || (data[i] === want[i]), `${key}[${i}]: ${data[i]} != ${want[i]}`);
  }
}
