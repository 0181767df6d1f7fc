// The tfjs fused kernels against the CPU backend's (the living definition of
// their semantics) on random inputs over many geometries, on tfjs-cpu and
// tfjs-wasm, plus softmax's infinities against values PyTorch printed.

import assert from "node:assert/strict";
import type { AvgPoolOptions, Backend, Conv2dGeometry, DType, Pool2dGeometry, Storage, View } from "@flint/backend";
import { numel } from "@flint/backend";
import * as torch from "@flint/torch";
import { TF_BACKENDS, tfjsOn, viewOf, whole } from "./_testing.ts";

const cpu: Backend = torch.device("cpu").backend;

/** Deterministic values in [-2, 2) with a few exact ties. */
function values(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return Math.round(((s / 2147483648) * 4 - 2) * 64) / 64;
  });
}

/** Reads a kernel's output storage as numbers. */
const read = (backend: Backend, s: Storage, shape: readonly number[], dtype: DType = "float32"): number[] =>
  Array.from(backend.readSync!(whole(s, dtype, shape)));

function assertClose(actual: number[], expected: number[], what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : a === e || Math.abs(a - e) <= tol * (1 + Math.abs(e));
    assert.ok(ok, `${what}: [${i}] ${a} vs ${e}`);
  }
}

interface ConvCase {
  readonly name: string;
  readonly x: number[];
  readonly w: number[];
  readonly geometry: Conv2dGeometry;
}

const conv = (
  name: string,
  x: number[],
  w: number[],
  g: Partial<Conv2dGeometry> = {},
): ConvCase => ({
  name,
  x,
  w,
  geometry: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, ...g },
});

const CONVS: ConvCase[] = [
  conv("3x3 padding 1", [2, 3, 6, 5], [4, 3, 3, 3], { padding: [1, 1] }),
  conv("stride 2 with dilation 2", [1, 2, 9, 8], [3, 2, 3, 2], { stride: [2, 2], dilation: [2, 2], padding: [2, 1] }),
  conv("stride and padding pairs", [1, 2, 7, 6], [2, 2, 3, 2], { stride: [2, 1], padding: [1, 2] }),
  conv("groups 2", [2, 4, 5, 5], [6, 2, 3, 3], { groups: 2, padding: [1, 1] }),
  conv("depthwise with multiplier 2", [1, 3, 6, 6], [6, 1, 3, 3], { groups: 3, stride: [2, 2], padding: [1, 1] }),
  conv("dilated depthwise", [1, 2, 7, 7], [2, 1, 3, 3], { groups: 2, dilation: [2, 2], padding: [2, 2] }),
  conv("1x1 stride 2", [1, 3, 5, 5], [2, 3, 1, 1], { stride: [2, 2] }),
];

const outSize = (size: number, k: number, s: number, p: number, d: number): number =>
  Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;

function convOutShape(c: ConvCase): number[] {
  const { stride, padding, dilation } = c.geometry;
  return [
    c.x[0],
    c.w[0],
    outSize(c.x[2], c.w[2], stride[0], padding[0], dilation[0]),
    outSize(c.x[3], c.w[3], stride[1], padding[1], dilation[1]),
  ];
}

for (const b of TF_BACKENDS) {
  Deno.test(`conv2d and its gradients match the CPU backend's (tfjs-${b})`, async () => {
    const tfjs = await tfjsOn(b);
    for (const [i, c] of CONVS.entries()) {
      const out = convOutShape(c);
      const [xv, wv, gv] = [values(numel(c.x), i + 1), values(numel(c.w), i + 50), values(numel(out), i + 99)];
      const on = (backend: Backend) => {
        const [x, w] = [viewOf(backend, xv, "float32", c.x), viewOf(backend, wv, "float32", c.w)];
        const gy = viewOf(backend, gv, "float32", out);
        const y = read(backend, backend.fused.conv2d!(x, w, c.geometry, out), out);
        const dx = read(backend, backend.fused.conv2dBackwardInput!(gy, w, c.geometry, c.x), c.x);
        const dw = backend.fused.conv2dBackwardWeight?.(x, gy, c.geometry, c.w);
        return { y, dx, dw: dw && read(backend, dw, c.w) };
      };
      const [got, want] = [on(tfjs), on(cpu)];
      assertClose(got.y, want.y, `${c.name}: conv2d`);
      assertClose(got.dx, want.dx, `${c.name}: input gradient`);
      if (got.dw) assertClose(got.dw, want.dw!, `${c.name}: weight gradient`);
    }
  });
}

Deno.test("tfjs-wasm leaves the weight gradient to autograd: it has no filter-gradient kernel", async () => {
  assert.equal(typeof (await tfjsOn("cpu")).fused.conv2dBackwardWeight, "function");
  assert.equal((await tfjsOn("wasm")).fused.conv2dBackwardWeight, undefined);
});

interface PoolCase {
  readonly name: string;
  readonly x: number[];
  readonly geometry: Pool2dGeometry;
}

function pool(name: string, x: number[], g: Partial<Pool2dGeometry> & Pick<Pool2dGeometry, "kernel">): PoolCase {
  const base = { stride: g.kernel, padding: [0, 0] as const, dilation: [1, 1] as const, ceilMode: false, ...g };
  const size = (i: 0 | 1) => {
    const [n, k, s, p, d] = [x[x.length - 2 + i], base.kernel[i], base.stride[i], base.padding[i], base.dilation[i]];
    const span = n + 2 * p - d * (k - 1) - 1;
    let o = (base.ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    // PyTorch drops a last window that would start inside the right padding.
    if (base.ceilMode && (o - 1) * s >= n + p) o--;
    return o;
  };
  return { name, x, geometry: { ...base, outSize: [size(0), size(1)] } };
}

const POOLS: PoolCase[] = [
  pool("2x2", [2, 3, 6, 6], { kernel: [2, 2] }),
  pool("3x3 stride 2 padding 1", [1, 2, 9, 7], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }),
  pool("ceil mode with padding", [1, 2, 6, 6], { kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: true }),
  pool("ceil mode", [1, 1, 5, 7], { kernel: [2, 3], stride: [2, 2], ceilMode: true }),
  pool("dilation 2", [1, 2, 7, 7], { kernel: [2, 2], stride: [1, 1], dilation: [2, 2], padding: [1, 1] }),
  pool("unbatched", [3, 5, 5], { kernel: [3, 3], stride: [2, 2] }),
];

const AVG_OPTIONS: AvgPoolOptions[] = [
  { countIncludePad: true },
  { countIncludePad: false },
  { countIncludePad: true, divisorOverride: 3 },
];

for (const b of TF_BACKENDS) {
  Deno.test(`max pooling matches the CPU backend's values, indices and gradients (tfjs-${b})`, async () => {
    const tfjs = await tfjsOn(b);
    for (const [i, c] of POOLS.entries()) {
      const xv = values(numel(c.x), i + 7);
      // NaN windows, all -inf windows and ties, where PyTorch's rules are particular.
      xv[0] = NaN, xv[3] = NaN, xv[numel(c.x) - 1] = -Infinity, xv[numel(c.x) - 2] = -Infinity;
      const out = [...c.x.slice(0, -2), ...c.geometry.outSize];
      const gv = values(numel(out), i + 70);
      const on = (backend: Backend) => {
        const r = backend.fused.maxPool2d!(viewOf(backend, xv, "float32", c.x), c.geometry);
        const indices = whole(r.indices, "int32", out);
        const dx = backend.fused.maxPool2dBackward!(viewOf(backend, gv, "float32", out), indices, c.x);
        return { values: read(backend, r.values, out), indices: read(backend, r.indices, out, "int32"), dx };
      };
      const [got, want] = [on(tfjs), on(cpu)];
      assertClose(got.values, want.values, `${c.name}: values`);
      assert.deepEqual(got.indices, want.indices, `${c.name}: indices`);
      assertClose(read(tfjs, got.dx, c.x), read(cpu, want.dx, c.x), `${c.name}: gradient`);
    }
  });

  Deno.test(`average pooling matches the CPU backend's, every divisor rule (tfjs-${b})`, async () => {
    const tfjs = await tfjsOn(b);
    for (const [i, c] of POOLS.entries()) {
      if (c.geometry.dilation[0] !== 1) continue; // average pooling has no dilation
      const out = [...c.x.slice(0, -2), ...c.geometry.outSize];
      const [xv, gv] = [values(numel(c.x), i + 3), values(numel(out), i + 30)];
      for (const options of AVG_OPTIONS) {
        const on = (backend: Backend) => ({
          y: read(backend, backend.fused.avgPool2d!(viewOf(backend, xv, "float32", c.x), c.geometry, options), out),
          dx: read(
            backend,
            backend.fused.avgPool2dBackward!(viewOf(backend, gv, "float32", out), c.geometry, options, c.x),
            c.x,
          ),
        });
        const [got, want] = [on(tfjs), on(cpu)];
        assertClose(got.y, want.y, `${c.name} ${JSON.stringify(options)}: values`);
        assertClose(got.dx, want.dx, `${c.name} ${JSON.stringify(options)}: gradient`);
      }
    }
  });

  Deno.test(`softmax keeps PyTorch's infinities and NaN rows (tfjs-${b})`, async () => {
    const tfjs = await tfjsOn(b);
    // torch.softmax / log_softmax over dim 1 of [[inf, 0], [-inf, 0], [-inf, -inf], [nan, 1]] (PyTorch 1.13).
    const x: View = viewOf(tfjs, [Infinity, 0, -Infinity, 0, -Infinity, -Infinity, NaN, 1], "float32", [4, 2]);
    assertClose(read(tfjs, tfjs.fused.softmax!(x, 1, false), [8]), [NaN, NaN, 0, 1, NaN, NaN, NaN, NaN], "softmax");
    assertClose(read(tfjs, tfjs.fused.softmax!(x, 1, true), [8]), [NaN, NaN, -Infinity, 0, NaN, NaN, NaN, NaN], "log");
    // Along the last dim of a transposed view, against the formula.
    const xv = values(12, 5);
    const t = { ...viewOf(tfjs, xv, "float32", [3, 4]), shape: [4, 3], strides: [1, 4] };
    const rows = [0, 1, 2, 3].map((r) => [0, 1, 2].map((c) => Math.exp(xv[c * 4 + r])));
    const want = rows.flatMap((row) => row.map((e) => e / row.reduce((s, v) => s + v)));
    assertClose(read(tfjs, tfjs.fused.softmax!(t, 1, false), [12]), want, "softmax of a transposed view");
    // Backward: softmax out · (g − Σ g·out); log-softmax g − exp(out) · Σ g.
    const y = [0.2, 0.8, 0.5, 0.5], g = [1, -1, 2, 0];
    const [yv, gvw] = [viewOf(tfjs, y, "float32", [2, 2]), viewOf(tfjs, g, "float32", [2, 2])];
    const dots = [0.2 - 0.8, 1];
    assertClose(read(tfjs, tfjs.fused.softmaxBackward!(gvw, yv, 1, false), [4]), [
      0.2 * (1 - dots[0]),
      0.8 * (-1 - dots[0]),
      0.5 * (2 - dots[1]),
      0.5 * (0 - dots[1]),
    ], "softmax backward");
    assertClose(read(tfjs, tfjs.fused.softmaxBackward!(gvw, yv, 1, true), [4]), [
      1 - Math.exp(0.2) * 0,
      -1 - Math.exp(0.8) * 0,
      2 - Math.exp(0.5) * 2,
      0 - Math.exp(0.5) * 2,
    ], "log-softmax backward");
  });
}
