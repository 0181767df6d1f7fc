// Test support for nn's PyTorch parity tests: reads tests/fixtures/nn_modules.json
// (written by tests/fixtures/make_nn_fixtures.py), decodes its tensors and
// compares results within float32 tolerance.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";

/** A tensor as the fixture script writes it: flat row-major data, NaN/Inf as strings. */
export interface TensorSpec {
  shape: number[];
  dtype: torch.DType;
  data: (number | string | boolean)[];
  requires_grad?: boolean;
}

/** A layer as the fixture names it: class, positional args, camelCase options. */
export interface CtorSpec {
  class: string;
  args: unknown[];
  options: Record<string, unknown>;
}

/** One layer run: see make_nn_fixtures.py. */
export interface ModuleCase {
  name: string;
  ctor: CtorSpec;
  train: boolean;
  state: Record<string, TensorSpec>;
  warmup: TensorSpec[];
  state_warm?: Record<string, TensorSpec>;
  inputs: TensorSpec[];
  output: TensorSpec[];
  grad_fn: string | null;
  state_after: Record<string, TensorSpec>;
  seed?: number;
  clone_input?: boolean;
  grad_output?: TensorSpec;
  grads?: { inputs: (TensorSpec | null)[]; params: Record<string, TensorSpec> };
}

/** One nn.functional call: see make_nn_fixtures.py. */
export interface FunctionalCase {
  name: string;
  fn: string;
  args: unknown[];
  options: Record<string, unknown>;
  output: TensorSpec[];
  grad_fn: string | null;
  seed?: number;
  args_after?: (TensorSpec | null)[];
  grad_output?: TensorSpec;
  grads?: (TensorSpec | null)[];
  option_grads?: Record<string, TensorSpec | null>;
  gradcheck?: boolean;
}

/** The whole fixture file. */
export interface NnFixtures {
  torch: string;
  modules: ModuleCase[];
  functional: FunctionalCase[];
  init: { ctor: CtorSpec; seed: number; state: Record<string, TensorSpec> }[];
  repr: { ctor: CtorSpec; text: string }[];
  init_fns: {
    fn: string;
    shape: number[];
    dtype: torch.DType;
    options: Record<string, unknown>;
    seed: number;
    output: TensorSpec;
  }[];
  gains: [string, number | null, number][];
  clip_grad_norm: {
    norm_type: number | string;
    max_norm: number;
    grads: (TensorSpec | null)[];
    total: TensorSpec;
    clipped: (TensorSpec | null)[];
  }[];
  state_dict: Record<string, string | string[]>;
}

let cached: NnFixtures | undefined;

/** The fixture file, parsed once. */
export function fixtures(): NnFixtures {
  cached ??= JSON.parse(
    Deno.readTextFileSync(new URL("../tests/fixtures/nn_modules.json", import.meta.url)),
  ) as NnFixtures;
  return cached;
}

/** A fixture number ("nan", "inf", "-inf" included). */
export function decodeNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v === "nan") return NaN;
  if (v === "inf") return Infinity;
  if (v === "-inf") return -Infinity;
  throw new TypeError(`not a fixture number: ${JSON.stringify(v)}`);
}

/** True for an encoded tensor. */
export function isTensorSpec(v: unknown): v is TensorSpec {
  return typeof v === "object" && v !== null && "shape" in v && "data" in v && "dtype" in v;
}

/** The tensor of a spec (a leaf that requires grad when the spec says so), optionally as `floatDtype`. */
export function tensorOf(spec: TensorSpec, floatDtype?: torch.DType): torch.Tensor {
  const float = spec.dtype === "float32" || spec.dtype === "float64";
  const dtype = float && floatDtype ? floatDtype : spec.dtype;
  const t = torch.tensor(spec.data.map(decodeNumber), { dtype }).reshape(spec.shape);
  if (spec.requires_grad) t.requiresGrad_(true);
  return t;
}

/** Decodes fixture values: tensors become tensors, everything else stays. */
export function decode(v: unknown, floatDtype?: torch.DType): unknown {
  if (isTensorSpec(v)) return tensorOf(v, floatDtype);
  if (Array.isArray(v)) return v.map((x) => decode(x, floatDtype));
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x, floatDtype)]));
  }
  if (v === "nan" || v === "inf" || v === "-inf") return decodeNumber(v);
  return v;
}

/** Builds the layer a fixture names: `new nn[class](...args, options)`. */
export function build(ctor: CtorSpec): torch.nn.Module {
  const cls = (torch.nn as unknown as Record<string, new (...args: unknown[]) => torch.nn.Module>)[ctor.class];
  if (!cls) throw new Error(`nn.${ctor.class} is missing`);
  const args = decode(ctor.args) as unknown[];
  const options = decode(ctor.options) as Record<string, unknown>;
  return Object.keys(options).length === 0 ? new cls(...args) : new cls(...args, options);
}

/** Float32 tolerance: rtol 1e-5, atol 1e-6 (torch.testing's float32 defaults are looser). */
export const F32_TOLERANCE = { rtol: 1e-5, atol: 1e-6 };

/**
 * Asserts `actual` matches the spec: same shape and dtype family, values within
 * tolerance (NaN only equals NaN, infinities equal only themselves), integers exact.
 */
export function assertClose(
  actual: torch.Tensor | null | undefined,
  expected: TensorSpec,
  what: string,
  tolerance: { rtol: number; atol: number } = F32_TOLERANCE,
): void {
  assert.ok(actual, `${what}: missing (expected shape [${expected.shape}])`);
  assert.deepEqual([...actual.shape], expected.shape, `${what}: shape`);
  const values = Array.from(actual.detach().dataSync() as ArrayLike<number>, Number);
  const want = expected.data.map(decodeNumber);
  const exact = expected.dtype === "int32" || expected.dtype === "bool";
  for (let i = 0; i < want.length; i++) {
    const a = values[i], e = want[i];
    const ok = Number.isNaN(e)
      ? Number.isNaN(a)
      : !Number.isFinite(e)
      ? a === e
      : exact
      ? a === e
      : Math.abs(a - e) <= tolerance.atol + tolerance.rtol * Math.abs(e);
    assert.ok(ok, `${what}: element ${i} is ${a}, PyTorch has ${e} (shape [${expected.shape}])`);
  }
}
