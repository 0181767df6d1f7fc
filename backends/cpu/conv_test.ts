// The CPU convolution and pooling kernels against direct loops that follow
// the definitions, over strides, padding, dilation and groups; and the fused
// kernel table the backend exposes.

import assert from "node:assert/strict";
import type { Conv2dGeometry, Pool2dGeometry, View } from "@flint/backend";
import { CpuBackend } from "./backend.ts";
import {
  conv2dBackwardInputKernel,
  conv2dBackwardWeightKernel,
  conv2dForward,
  type Conv2dSizes,
  conv2dSizes,
  im2col,
} from "./conv.ts";
import { gemm } from "./matmul.ts";
import { avgPool2dBackwardKernel, avgPool2dKernel, maxPool2dBackwardKernel, maxPool2dKernel } from "./pool.ts";

/** Deterministic values in [-1, 1) (a linear congruential generator), so failures repeat. */
function values(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-9): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

/** Calls `visit(inputIndex, outputIndex, weightIndex)` for every product a convolution sums, by its definition. */
function eachTap(s: Conv2dSizes, visit: (xi: number, oi: number, wi: number) => void): void {
  const cg = s.c / s.groups, og = s.o / s.groups;
  for (let n = 0; n < s.n; n++) {
    for (let o = 0; o < s.o; o++) {
      const g = Math.floor(o / og);
      for (let y = 0; y < s.oh; y++) {
        for (let x = 0; x < s.ow; x++) {
          for (let ci = 0; ci < cg; ci++) {
            for (let i = 0; i < s.kh; i++) {
              for (let j = 0; j < s.kw; j++) {
                const iy = y * s.strideH - s.padH + i * s.dilationH;
                const ix = x * s.strideW - s.padW + j * s.dilationW;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                const c = g * cg + ci;
                visit(
                  ((n * s.c + c) * s.h + iy) * s.w + ix,
                  ((n * s.o + o) * s.oh + y) * s.ow + x,
                  ((o * cg + ci) * s.kh + i) * s.kw + j,
                );
              }
            }
          }
        }
      }
    }
  }
}

function sizes(
  [n, c, h, w]: number[],
  [o, kh, kw]: number[],
  g: Partial<Conv2dGeometry> = {},
): { s: Conv2dSizes; geometry: Conv2dGeometry } {
  const geometry: Conv2dGeometry = {
    stride: g.stride ?? [1, 1],
    padding: g.padding ?? [0, 0],
    dilation: g.dilation ?? [1, 1],
    groups: g.groups ?? 1,
  };
  const out = (i: 0 | 1, size: number, k: number) =>
    Math.floor((size + 2 * geometry.padding[i] - geometry.dilation[i] * (k - 1) - 1) / geometry.stride[i]) + 1;
  const weight = [o, c / geometry.groups, kh, kw];
  return { s: conv2dSizes([n, c, h, w], weight, [n, o, out(0, h, kh), out(1, w, kw)], geometry), geometry };
}

const GEOMETRIES: [string, number[], number[], Partial<Conv2dGeometry>][] = [
  ["3x3 padding 1", [2, 3, 6, 5], [4, 3, 3], { padding: [1, 1] }],
  ["stride 2 with padding", [1, 2, 7, 8], [3, 3, 2], { stride: [2, 2], padding: [1, 0] }],
  ["dilation 2", [1, 2, 8, 7], [2, 3, 3], { dilation: [2, 1], padding: [2, 1] }],
  ["groups 2", [2, 4, 5, 5], [6, 3, 3], { groups: 2, padding: [1, 1] }],
  ["depthwise", [1, 3, 6, 6], [3, 3, 3], { groups: 3, stride: [2, 1], padding: [1, 1] }],
  ["pointwise 1x1", [2, 5, 4, 3], [3, 1, 1], {}],
  ["strided 1x1", [1, 4, 5, 5], [2, 1, 1], { stride: [2, 2] }],
  ["kernel larger than the stride grid", [1, 1, 9, 9], [2, 5, 4], {
    stride: [3, 2],
    dilation: [1, 2],
    padding: [2, 2],
  }],
];

for (const [name, input, kernel, g] of GEOMETRIES) {
  const { s } = sizes(input, kernel, g);
  const xLen = s.n * s.c * s.h * s.w, wLen = s.o * (s.c / s.groups) * s.kh * s.kw, oLen = s.n * s.o * s.oh * s.ow;
  const x = values(xLen, 1), w = values(wLen, 2), gOut = values(oLen, 3);

  Deno.test(`conv2d kernel matches the definition: ${name}`, () => {
    const expected = new Float64Array(oLen);
    eachTap(s, (xi, oi, wi) => (expected[oi] += x[xi] * w[wi]));
    const out = new Float64Array(oLen);
    conv2dForward(x, w, s, out);
    assertClose(out, expected);
  });

  Deno.test(`conv2d gradient kernels match the definition: ${name}`, () => {
    const gradIn = new Float64Array(xLen), gradW = new Float64Array(wLen);
    eachTap(s, (xi, oi, wi) => {
      gradIn[xi] += gOut[oi] * w[wi];
      gradW[wi] += gOut[oi] * x[xi];
    });
    const outIn = new Float64Array(xLen), outW = new Float64Array(wLen);
    conv2dBackwardInputKernel(gOut, w, s, outIn);
    conv2dBackwardWeightKernel(x, gOut, s, outW);
    assertClose(outIn, gradIn);
    assertClose(outW, gradW);
  });
}

Deno.test("conv2d kernel computes float32 with float64 sums and int32 exactly", () => {
  const { s } = sizes([1, 2, 4, 4], [2, 3, 3], { padding: [1, 1] });
  const x = Float32Array.from(values(32, 4)), w = Float32Array.from(values(36, 5));
  const expected = new Float64Array(32);
  eachTap(s, (xi, oi, wi) => (expected[oi] += x[xi] * w[wi]));
  const out = new Float32Array(32);
  conv2dForward(x, w, s, out);
  assertClose(out, Float32Array.from(expected), 1e-6);
  const xi = Int32Array.from(x, (v) => Math.round(v * 100)), wi = Int32Array.from(w, (v) => Math.round(v * 100));
  const exact = new Float64Array(32);
  eachTap(s, (a, o, b) => (exact[o] += xi[a] * wi[b]));
  const outInt = new Int32Array(32);
  conv2dForward(xi, wi, s, outInt);
  assert.deepEqual(Array.from(outInt), Array.from(exact));
});

Deno.test("im2col lays out each tap as a row, with zeros in the padding", () => {
  const { s } = sizes([1, 1, 2, 2], [1, 2, 2], { padding: [1, 1], stride: [2, 2] });
  // x = [[1, 2], [3, 4]]; padded 4×4 with stride 2 gives 2×2 outputs, each
  // seeing one input element per tap.
  const cols = new Float64Array(4 * 4);
  im2col(Float64Array.of(1, 2, 3, 4), 0, s, 0, 1, cols);
  assert.deepEqual(Array.from(cols), [
    ...[0, 0, 0, 4], // tap (0, 0)
    ...[0, 0, 3, 0], // tap (0, 1)
    ...[0, 2, 0, 0], // tap (1, 0)
    ...[1, 0, 0, 0], // tap (1, 1)
  ]);
});

Deno.test("gemm accumulates a strided product into a row-major block", () => {
  const m = 7, n = 9, k = 300; // k spans two K blocks, m and n leave partial 4×4 tiles
  const a = values(k * m, 6); // stored transposed: a[i][p] at p * m + i
  const b = values(k * n, 7); // row-major k×n
  const c = new Float64Array(2 + m * n).fill(1);
  gemm(
    m,
    n,
    k,
    { data: a, offset: 0, rowStride: 1, colStride: m },
    { data: b, offset: 0, rowStride: n, colStride: 1 },
    c,
    2,
  );
  const expected = new Float64Array(m * n).fill(1);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) expected[i * n + j] += a[p * m + i] * b[p * n + j];
  }
  assertClose(c.subarray(2), expected);
  assert.deepEqual([c[0], c[1]], [1, 1]);
});

function poolGeometry(g: Partial<Pool2dGeometry> & { outSize: [number, number] }): Pool2dGeometry {
  const kernel = g.kernel ?? [2, 2];
  return {
    kernel,
    stride: g.stride ?? kernel,
    padding: g.padding ?? [0, 0],
    dilation: g.dilation ?? [1, 1],
    ceilMode: g.ceilMode ?? false,
    outSize: g.outSize,
  };
}

Deno.test("max pooling keeps the first max, lets the last NaN win and reports padding-only maxima inside", () => {
  const x = Float64Array.of(
    ...[1, 3, 3, 0],
    ...[2, NaN, 1, 0],
    ...[NaN, NaN, -Infinity, -Infinity],
    ...[5, 5, -Infinity, -Infinity],
  );
  const values2 = new Float64Array(4), indices = new Int32Array(4);
  maxPool2dKernel(x, { planes: 1, h: 4, w: 4 }, poolGeometry({ outSize: [2, 2] }), values2, indices);
  assert.deepEqual(Array.from(indices), [5, 2, 9, 10]);
  assert.deepEqual(Array.from(values2), [NaN, 3, NaN, -Infinity]);
});

Deno.test("max pooling with padding and dilation reads only in-bounds taps", () => {
  // 1×5 input, window 2 with dilation 2 and padding 1, stride 1: taps (i-1, i+1).
  const x = Float64Array.of(4, 1, 5, 2, 3);
  const g = poolGeometry({ kernel: [1, 2], stride: [1, 1], padding: [0, 1], dilation: [1, 2], outSize: [1, 5] });
  const out = new Float64Array(5), idx = new Int32Array(5);
  maxPool2dKernel(x, { planes: 1, h: 1, w: 5 }, g, out, idx);
  assert.deepEqual(Array.from(out), [1, 5, 2, 5, 2]);
  assert.deepEqual(Array.from(idx), [1, 2, 3, 2, 3]);
  const grad = new Float64Array(5);
  maxPool2dBackwardKernel(Float64Array.of(1, 10, 100, 1000, 10000), idx, { planes: 1, h: 1, w: 5 }, 5, grad);
  assert.deepEqual(Array.from(grad), [0, 1, 1010, 10100, 0]);
});

Deno.test("average pooling divides by the padded window, the inside count or the override", () => {
  const x = Float64Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9); // 3×3
  const p = { planes: 1, h: 3, w: 3 };
  // window 2, stride 2, padding 1: outputs cover rows/cols [-1,0], [1,2]
  const g = poolGeometry({ padding: [1, 1], outSize: [2, 2] });
  const run = (countIncludePad: boolean, divisorOverride?: number) => {
    const out = new Float64Array(4);
    avgPool2dKernel(x, p, g, { countIncludePad, divisorOverride }, out);
    return Array.from(out);
  };
  assert.deepEqual(run(true), [1 / 4, (2 + 3) / 4, (4 + 7) / 4, (5 + 6 + 8 + 9) / 4]);
  assert.deepEqual(run(false), [1, 5 / 2, 11 / 2, 28 / 4]);
  assert.deepEqual(run(false, 2), [1 / 2, 5 / 2, 11 / 2, 28 / 2]);
  const grad = new Float64Array(9);
  avgPool2dBackwardKernel(Float64Array.of(4, 8, 12, 16), p, g, { countIncludePad: false }, grad);
  assert.deepEqual(Array.from(grad), [4, 4, 4, 6, 4, 4, 6, 4, 4]);
});

Deno.test("ceil-mode average windows count padding only up to the padded edge", () => {
  // 1×4 input, window 3, stride 2, padding 1, ceil mode: windows [-1,1], [1,3], [3,5] → 3 outputs,
  // the last one clipped at 4 + 1 = 5, so it counts 2 (one padding zero and x[3]).
  const g = poolGeometry({ kernel: [1, 3], stride: [1, 2], padding: [0, 1], ceilMode: true, outSize: [1, 3] });
  const out = new Float64Array(3);
  avgPool2dKernel(Float64Array.of(2, 4, 6, 8), { planes: 1, h: 1, w: 4 }, g, { countIncludePad: true }, out);
  assert.deepEqual(Array.from(out), [6 / 3, 18 / 3, 8 / 2]);
});

function viewOf(storage: ReturnType<CpuBackend["upload"]>, shape: number[], strides: number[], offset = 0): View {
  return { storage, dtype: "float32", shape, strides, offset };
}

Deno.test("the backend's fused conv2d reads strided views and returns ledger-counted storages", () => {
  const cpu = new CpuBackend();
  const { s, geometry } = sizes([1, 2, 3, 3], [1, 2, 2], {});
  // x stored as [1, 2, 3, 3] transposed in its last two dims.
  const data = Float32Array.from(values(18, 8));
  const xs = cpu.upload(data, "float32");
  const ws = cpu.upload(Float32Array.from(values(8, 9)), "float32");
  const before = cpu.memory().storages;
  const out = cpu.fused.conv2d!(
    viewOf(xs, [1, 2, 3, 3], [18, 9, 1, 3]),
    viewOf(ws, [1, 2, 2, 2], [8, 4, 2, 1]),
    geometry,
    [1, 1, s.oh, s.ow],
  );
  assert.equal(cpu.memory().storages, before + 1);
  const transposed = new Float64Array(18);
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) transposed[c * 9 + i * 3 + j] = data[c * 9 + j * 3 + i];
  }
  const expected = new Float64Array(4);
  const w = Float32Array.from(values(8, 9));
  eachTap(s, (xi, oi, wi) => (expected[oi] += transposed[xi] * w[wi]));
  assertClose(cpu.readSync(viewOf(out, [1, 1, 2, 2], [4, 4, 2, 1])), Float32Array.from(expected), 1e-6);
});

Deno.test("the backend offers the addmm, conv, pooling, softmax, ReLU-gradient, batch-norm and optimizer kernels of the contract", () => {
  assert.deepEqual(Object.keys(new CpuBackend().fused).sort(), [
    "adamStep",
    "addmm",
    "avgPool2d",
    "avgPool2dBackward",
    "channelAffine",
    "conv2d",
    "conv2dBackwardInput",
    "conv2dBackwardWeight",
    "maxPool2d",
    "maxPool2dBackward",
    "sgdStep",
    "softmax",
    "softmaxBackward",
    "thresholdBackward",
  ]);
});
