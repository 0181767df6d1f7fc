// Reads the PyTorch fixtures (tests/fixtures/*.json) into tensors.

import type { DType } from "@flint/backend";
import * as torch from "@flint/torch";

/** A tensor as the fixture scripts write it: flat row-major data, NaN/Inf as strings. */
export interface TensorSpec {
  shape: number[];
  dtype: DType;
  data: (number | string)[];
  requires_grad?: boolean;
  transform?: Transform;
}

/** How a fixture input is viewed before the op sees it (to test non-contiguous inputs). */
export type Transform = null | "transpose" | "every_other" | { expand: number[] } | { permute: number[] };

/** One op case: inputs, the op's key and keyword arguments, and PyTorch's results. */
export interface OpCase {
  name: string;
  op: string;
  inputs: TensorSpec[];
  kwargs: Record<string, unknown>;
  output: TensorSpec | TensorSpec[];
  grad_output?: TensorSpec | TensorSpec[];
  grads?: (TensorSpec | null)[];
  gradcheck?: boolean;
}

/** The op fixture file. */
export interface OpFixtures {
  torch: string;
  ops: string[];
  notes: string[];
  cases: OpCase[];
}

/** Decodes fixture numbers ("nan", "inf", "-inf" included). */
export function decodeNumber(v: number | string | unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v === "nan") return NaN;
  if (v === "inf") return Infinity;
  if (v === "-inf") return -Infinity;
  throw new TypeError(`not a fixture number: ${JSON.stringify(v)}`);
}

/** Loads a fixture file from tests/fixtures. */
export function loadFixture<T>(name: string): T {
  return JSON.parse(Deno.readTextFileSync(new URL(`../fixtures/${name}`, import.meta.url))) as T;
}

/** The leaf tensor of a spec, on `device`, optionally converted to `dtype` (floats only). */
export function leafOf(spec: TensorSpec, device: string, floatDtype?: DType): torch.Tensor {
  const values = spec.data.map(decodeNumber);
  const dtype = floatDtype && (spec.dtype === "float32" || spec.dtype === "float64") ? floatDtype : spec.dtype;
  const t = torch.tensor(values, { dtype }).reshape(spec.shape).to(device);
  if (spec.requires_grad) t.requiresGrad_(true);
  return t;
}

/** Applies a fixture transform to a leaf. */
export function applyTransform(t: torch.Tensor, transform: Transform | undefined): torch.Tensor {
  if (transform === null || transform === undefined) return t;
  if (transform === "transpose") return t.transpose(-2, -1);
  if (transform === "every_other") return t.index("...", "::2");
  if ("expand" in transform) return t.expand(transform.expand);
  return t.permute(transform.permute);
}

/** The op fixture files every backend runs (missing ones are skipped until written). */
export const OP_FIXTURE_FILES: readonly string[] = ["ops.json", "nn_ops.json"];

/** Every op case from every op fixture file that exists. */
export function loadOpCases(): { ops: string[]; cases: OpCase[] } {
  const ops: string[] = [];
  const cases: OpCase[] = [];
  for (const file of OP_FIXTURE_FILES) {
    let fixture: OpFixtures;
    try {
      fixture = loadFixture<OpFixtures>(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    ops.push(...fixture.ops);
    cases.push(...fixture.cases);
  }
  return { ops, cases };
}
