// The WebAssembly kernels against the TypeScript ones (the reference) on
// shapes big enough to take every path: blocked and edge tiles, transposed
// operands, the implicit and explicit im2col, strided and broadcast rows,
// NaN and infinities, one thread and two. Element-wise kernels, reductions,
// pooling and optimizer steps must agree bit for bit; products within
// float32 rounding of their sums. Also: the arena moving storages out when it
// is full, an unshared memory, and a script with worker threads exiting by
// itself.

import assert from "node:assert/strict";
import {
  type AvgPoolOptions,
  type BinaryOp,
  contiguousStrides,
  type Conv2dGeometry,
  type DataArray,
  type DType,
  numel,
  type Pool2dGeometry,
  type Shape,
  type Storage,
  type UnaryOp,
  type View,
} from "@flint/backend";
import { CpuBackend } from "./backend.ts";
import { WasmKernels } from "./_wasm_kernels.ts";
import { WasmRuntime } from "./_wasm_runtime.ts";
import { MemoryLedger } from "@flint/backend";

const ts = new CpuBackend({ name: "test-ts", kernels: "typescript" });
const one = new CpuBackend({ name: "test-wasm-1", kernels: "wasm", threads: 1 });
const two = new CpuBackend({ name: "test-wasm-2", kernels: "wasm", threads: 2 });
const twoReady = two.threadsReady();

/** Deterministic values in [-1, 1) (a linear congruential generator), so failures repeat. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** The same data as a view on each backend. */
function views(
  data: DataArray,
  shape: Shape,
  dtype: DType = "float32",
  strides = contiguousStrides(shape),
  offset = 0,
) {
  const on = (b: CpuBackend): View => ({ storage: b.upload(data, dtype), dtype, shape, strides, offset });
  return { ts: on(ts), one: on(one), two: on(two) };
}

function read(b: CpuBackend, storage: Storage, shape: Shape, dtype: DType = "float32"): DataArray {
  return b.readSync({ storage, dtype, shape, strides: contiguousStrides(shape), offset: 0 });
}

function assertSame(actual: DataArray, expected: DataArray, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (Object.is(actual[i], expected[i]) || (actual[i] === 0 && expected[i] === 0)) continue;
    assert.fail(`${what}: [${i}] ${actual[i]} but the TypeScript kernel gives ${expected[i]}`);
  }
}

/**
 * |actual − expected| within float32 rounding of a sum of `terms` products
 * of magnitude ≤ `scale` (a few units of float32's 6e-8 per term).
 */
function assertClose(actual: DataArray, expected: DataArray, terms: number, what: string, scale = 1): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const tol = 1e-7 * terms * scale + 1e-6;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol)) assert.fail(`${what}: [${i}] ${actual[i]} vs ${expected[i]} (tolerance ${tol})`);
  }
}

Deno.test("matmul matches the TypeScript product on every layout, and threads change no bit", async () => {
  await twoReady;
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [1, 5, 7, 9],
    [2, 6, 8, 4],
    [1, 13, 17, 300],
    [3, 64, 100, 33],
    [1, 250, 129, 513],
    [1, 300, 700, 90],
  ];
  for (const [batch, m, n, k] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        // A transposed operand is stored the other way round and read through swapped strides.
        const a = views(values(batch * m * k, m + 1), transA ? [batch, k, m] : [batch, m, k]);
        const b = views(values(batch * k * n, n + 2), transB ? [batch, n, k] : [batch, k, n]);
        const ta = (v: View): View => (transA ? { ...v, shape: [batch, m, k], strides: [m * k, 1, m] } : v);
        const tb = (v: View): View => (transB ? { ...v, shape: [batch, k, n], strides: [k * n, 1, k] } : v);
        const t = (v: View): View => (Object.values(a).includes(v) ? ta(v) : tb(v));
        const what = `${batch}×${m}×${n}×${k}${transA ? " aᵀ" : ""}${transB ? " bᵀ" : ""}`;
        const expected = read(ts, ts.matmul(t(a.ts), t(b.ts)), [batch, m, n]);
        const single = read(one, one.matmul(t(a.one), t(b.one)), [batch, m, n]);
        const threaded = read(two, two.matmul(t(a.two), t(b.two)), [batch, m, n]);
        assertClose(single, expected, k, what);
        assertSame(threaded, single, `${what} on two threads`);
      }
    }
  }
  // A batch broadcast through a zero stride.
  const a = views(values(5 * 40, 3), [1, 5, 40]);
  const b = views(values(3 * 40 * 11, 4), [3, 40, 11]);
  const bcast = (v: View): View => ({ ...v, shape: [3, 5, 40], strides: [0, 40, 1] });
  assertClose(
    read(one, one.matmul(bcast(a.one), b.one), [3, 5, 11]),
    read(ts, ts.matmul(bcast(a.ts), b.ts), [3, 5, 11]),
    40,
    "broadcast batch",
  );
});

const GEOMETRIES: { name: string; x: Shape; w: Shape; g: Conv2dGeometry }[] = [
  { name: "3x3 pad 1 (implicit im2col)", x: [2, 5, 8, 16], w: [7, 5, 3, 3], g: geom(1, 1, 1, 1) },
  { name: "3x3 pad 1, ow not a multiple of 8", x: [1, 4, 9, 11], w: [6, 4, 3, 3], g: geom(1, 1, 1, 1) },
  { name: "3x3 stride 2", x: [2, 3, 13, 17], w: [5, 3, 3, 3], g: geom(2, 1, 1, 1) },
  { name: "5x5 pad 2 dilation 2", x: [1, 3, 12, 16], w: [4, 3, 5, 5], g: geom(1, 4, 2, 1) },
  { name: "1x1 (a plain product)", x: [3, 8, 6, 8], w: [9, 8, 1, 1], g: geom(1, 0, 1, 1) },
  { name: "1x1 stride 2", x: [2, 8, 9, 9], w: [6, 8, 1, 1], g: geom(2, 0, 1, 1) },
  { name: "groups 2", x: [2, 6, 10, 16], w: [4, 3, 3, 3], g: geom(1, 1, 1, 2) },
  { name: "7x7 stride 2 pad 3 (ResNet's first)", x: [1, 3, 32, 32], w: [8, 3, 7, 7], g: geom(2, 3, 1, 1) },
  { name: "64 channels, 56 wide (threads split columns)", x: [1, 64, 24, 56], w: [64, 64, 3, 3], g: geom(1, 1, 1, 1) },
  { name: "batch of 8 (threads split images)", x: [8, 16, 16, 16], w: [32, 16, 3, 3], g: geom(1, 1, 1, 1) },
  { name: "512 channels on 7x7 (threads split rows)", x: [1, 256, 7, 7], w: [512, 256, 3, 3], g: geom(1, 1, 1, 1) },
  { name: "Winograd on odd sizes, in groups", x: [2, 32, 9, 13], w: [32, 16, 3, 3], g: geom(1, 1, 1, 2) },
  { name: "Winograd on a wide image (4 tiles at a time)", x: [1, 16, 10, 40], w: [16, 16, 3, 3], g: geom(1, 1, 1, 1) },
  // 19 input channels: the weight transform takes four at a time, then a tail of three.
  { name: "Winograd with channels not a multiple of 4", x: [1, 19, 14, 14], w: [17, 19, 3, 3], g: geom(1, 1, 1, 1) },
];

function geom(stride: number, padding: number, dilation: number, groups: number): Conv2dGeometry {
  return { stride: [stride, stride], padding: [padding, padding], dilation: [dilation, dilation], groups };
}

function convOut(x: Shape, w: Shape, g: Conv2dGeometry): Shape {
  const size = (i: number, d: 0 | 1) =>
    Math.floor((i + 2 * g.padding[d] - g.dilation[d] * (w[2 + d] - 1) - 1) / g.stride[d]) + 1;
  return [x[0], w[0], size(x[2], 0), size(x[3], 1)];
}

Deno.test("conv2d and both its gradients match the TypeScript kernels on every path, on one and two threads", async () => {
  await twoReady;
  for (const { name, x: xs, w: ws, g } of GEOMETRIES) {
    const os = convOut(xs, ws, g);
    const x = views(values(numel(xs), 1), xs), w = views(values(numel(ws), 2), ws);
    const gOut = views(values(numel(os), 3), os);
    const taps = ws[1] * ws[2] * ws[3];
    for (const [b, key] of [[one, "one"], [two, "two"]] as const) {
      const fwd = (k: CpuBackend, v: typeof x, u: typeof w) => read(k, k.fused.conv2d!(v[key], u[key], g, os), os);
      assertClose(fwd(b, x, w), read(ts, ts.fused.conv2d!(x.ts, w.ts, g, os), os), taps, `${name} forward (${key})`);
      assertClose(
        read(b, b.fused.conv2dBackwardInput!(gOut[key], w[key], g, xs), xs),
        read(ts, ts.fused.conv2dBackwardInput!(gOut.ts, w.ts, g, xs), xs),
        ws[0] * ws[2] * ws[3],
        `${name} input gradient (${key})`,
      );
      assertClose(
        read(b, b.fused.conv2dBackwardWeight!(x[key], gOut[key], g, ws), ws),
        read(ts, ts.fused.conv2dBackwardWeight!(x.ts, gOut.ts, g, ws), ws),
        xs[0] * os[2] * os[3],
        `${name} weight gradient (${key})`,
      );
    }
  }
});

Deno.test("conv2d reads a non-contiguous input", () => {
  const xs = [1, 3, 8, 16], ws = [4, 3, 3, 3], g = geom(1, 1, 1, 1), os = convOut(xs, ws, g);
  // x is the transpose of a [1, 3, 16, 8] tensor.
  const data = values(numel(xs), 9);
  const strided = (b: CpuBackend): View => ({
    storage: b.upload(data, "float32"),
    dtype: "float32",
    shape: xs,
    strides: [384, 128, 1, 8],
    offset: 0,
  });
  const w = views(values(numel(ws), 5), ws);
  assertClose(
    read(one, one.fused.conv2d!(strided(one), w.one, g, os), os),
    read(ts, ts.fused.conv2d!(strided(ts), w.ts, g, os), os),
    27,
    "transposed input",
  );
});

function poolGeometry(k: number, s: number, p: number, d: number, x: Shape, ceil = false): Pool2dGeometry {
  const size = (i: number) => {
    const span = i + 2 * p - d * (k - 1) - 1;
    let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    if (ceil && (o - 1) * s >= i + p) o--;
    return o;
  };
  return {
    kernel: [k, k],
    stride: [s, s],
    padding: [p, p],
    dilation: [d, d],
    ceilMode: ceil,
    outSize: [size(x[2]), size(x[3])],
  };
}

Deno.test("pooling agrees bit for bit, NaN, ties and -inf windows included", async () => {
  await twoReady;
  const xs = [2, 3, 13, 21];
  const data = values(numel(xs), 7).map((v, i) => (i % 17 === 0 ? NaN : i % 23 === 0 ? -Infinity : Math.round(v * 4)));
  const x = views(data, xs);
  const cases = [
    poolGeometry(3, 2, 1, 1, xs),
    poolGeometry(2, 2, 0, 1, xs),
    poolGeometry(3, 1, 1, 1, xs),
    poolGeometry(3, 2, 1, 2, xs),
    poolGeometry(3, 2, 1, 1, xs, true),
  ];
  for (const g of cases) {
    const os = [xs[0], xs[1], ...g.outSize];
    const ref = ts.fused.maxPool2d!(x.ts, g);
    const gOut = views(values(numel(os), 8), os);
    const refIdx = {
      storage: ref.indices,
      dtype: "int32" as const,
      shape: os,
      strides: contiguousStrides(os),
      offset: 0,
    };
    const refBack = read(ts, ts.fused.maxPool2dBackward!(gOut.ts, refIdx, xs), xs);
    for (const [b, key] of [[one, "one"], [two, "two"]] as const) {
      const what = `max ${g.kernel[0]}/${g.stride[0]}/${g.padding[0]}/${g.dilation[0]}${
        g.ceilMode ? " ceil" : ""
      } (${key})`;
      const got = b.fused.maxPool2d!(x[key], g);
      assertSame(read(b, got.values, os), read(ts, ref.values, os), `${what} values`);
      assertSame(read(b, got.indices, os, "int32"), read(ts, ref.indices, os, "int32"), `${what} indices`);
      const idx = { ...refIdx, storage: got.indices };
      assertSame(read(b, b.fused.maxPool2dBackward!(gOut[key], idx, xs), xs), refBack, `${what} backward`);
    }
  }
  const avg: [Pool2dGeometry, AvgPoolOptions][] = [
    [poolGeometry(3, 2, 1, 1, xs), { countIncludePad: true }],
    [poolGeometry(3, 2, 1, 1, xs), { countIncludePad: false }],
    [poolGeometry(2, 2, 0, 1, xs, true), { countIncludePad: false, divisorOverride: 3 }],
  ];
  const finite = views(values(numel(xs), 11), xs);
  for (const [g, options] of avg) {
    const os = [xs[0], xs[1], ...g.outSize];
    const gOut = views(values(numel(os), 12), os);
    for (const [b, key] of [[one, "one"], [two, "two"]] as const) {
      const what = `avg ${JSON.stringify(options)} (${key})`;
      assertSame(
        read(b, b.fused.avgPool2d!(finite[key], g, options), os),
        read(ts, ts.fused.avgPool2d!(finite.ts, g, options), os),
        what,
      );
      assertSame(
        read(b, b.fused.avgPool2dBackward!(gOut[key], g, options, xs), xs),
        read(ts, ts.fused.avgPool2dBackward!(gOut.ts, g, options, xs), xs),
        `${what} backward`,
      );
    }
  }
});

/** Values with the awkward ones mixed in: NaN, ±inf, ±0, and ties. */
function awkward(n: number, seed: number): Float32Array {
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5];
  return values(n, seed).map((v, i) => (i % 13 === 5 ? specials[(i / 13 | 0) % specials.length] : v * 3));
}

Deno.test("element-wise ops, where and copies agree bit for bit over broadcasts, strides and scalars", async () => {
  await twoReady;
  const shape = [3, 37, 41];
  const n = numel(shape);
  const a = views(awkward(n, 1), shape), b = views(awkward(n, 2), shape);
  const row = views(awkward(41, 3), [41]), col = views(awkward(37, 4), [37]);
  const big = views(awkward(600 * 700, 5), [600, 700]);
  const bigT = (v: View): View => ({ ...v, shape: [700, 600], strides: [1, 700] });
  const rowB = (v: View): View => ({ ...v, shape, strides: [0, 0, 1] });
  const colB = (v: View): View => ({ ...v, shape, strides: [0, 1, 0] });
  const transposed = (v: View): View => ({ ...v, shape: [3, 41, 37], strides: [37 * 41, 1, 41] });
  const ops: BinaryOp[] = ["add", "sub", "mul", "div", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "pow"];
  for (const op of ops) {
    const out = op === "eq" || op === "ne" || op === "lt" || op === "le" || op === "gt" || op === "ge"
      ? "bool"
      : "float32";
    const pairs: [string, (k: "ts" | "one" | "two") => [View | number, View | number, Shape]][] = [
      ["same shape", (k) => [a[k], b[k], shape]],
      ["row broadcast", (k) => [a[k], rowB(row[k]), shape]],
      ["column broadcast", (k) => [colB(col[k]), a[k], shape]],
      ["scalar", (k) => [a[k], op === "pow" ? 2 : 0.75, shape]],
      ["scalar first", (k) => [-1.5, b[k], shape]],
      ["transposed", (k) => [transposed(a[k]), transposed(b[k]), [3, 41, 37]]],
      ["big transposed", (k) => [bigT(big[k]), 0.5, [700, 600]]],
    ];
    for (const [what, args] of pairs) {
      const [x0, y0, s0] = args("ts");
      const expected = read(ts, ts.binary(op, x0, y0, s0, "float32"), s0, out);
      for (const key of ["one", "two"] as const) {
        const [x, y, s] = args(key);
        const backend = key === "one" ? one : two;
        assertSame(read(backend, backend.binary(op, x, y, s, "float32"), s, out), expected, `${op} ${what} (${key})`);
      }
    }
  }
  const unary: UnaryOp[] = ["neg", "abs", "relu", "sqrt", "rsqrt", "reciprocal"];
  for (const op of unary) {
    for (
      const [what, pick, s] of [["plain", (v: View) => v, shape], ["transposed", transposed, [3, 41, 37]]] as const
    ) {
      assertSame(
        read(two, two.unary(op, pick(a.two)), s),
        read(ts, ts.unary(op, pick(a.ts)), s),
        `${op} ${what}`,
      );
    }
  }
  const mask = views(Uint8Array.from(awkward(n, 6), (v) => (v > 0 ? 1 : 0)), shape, "bool");
  for (const [what, x, y] of [["views", a, b], ["scalar", a, 0]] as const) {
    const pick = (k: "ts" | "one" | "two") => (typeof y === "number" ? y : y[k]);
    assertSame(
      read(one, one.where(mask.one, x.one, pick("one"), shape, "float32"), shape),
      read(ts, ts.where(mask.ts, x.ts, pick("ts"), shape, "float32"), shape),
      `where ${what}`,
    );
  }
  // copy into a strided destination, from a view and from a scalar
  for (const src of ["view", "scalar"] as const) {
    const results = [ts, one].map((backend) => {
      const k = backend === ts ? "ts" : "one";
      const dst = backend.upload(new Float32Array(2 * n), "float32");
      const dstView: View = { storage: dst, dtype: "float32", shape, strides: [2 * 37 * 41, 2 * 41, 2], offset: 1 };
      backend.copy(dstView, src === "view" ? b[k] : 2.5);
      return read(backend, dst, [2 * n]);
    });
    assertSame(results[1], results[0], `copy from a ${src}`);
  }
  assertSame(
    read(two, two.cast(bigT(big.two), "float32"), [700, 600]),
    read(ts, ts.cast(bigT(big.ts), "float32"), [700, 600]),
    "contiguous() of a transpose",
  );
});

Deno.test("sum, max and min over any axes agree with the TypeScript reductions", () => {
  const shape = [4, 19, 3, 33];
  const x = views(awkward(numel(shape), 9), shape);
  const finite = views(values(numel(shape), 10), shape);
  for (const axes of [[0], [1], [3], [0, 2, 3], [1, 3], [0, 1, 2, 3]]) {
    const kept = shape.filter((_, d) => !axes.includes(d));
    for (const op of ["sum", "max", "min"] as const) {
      const src = op === "sum" ? finite : x;
      const got = read(one, one.reduce(op, src.one, axes), kept);
      const want = read(ts, ts.reduce(op, src.ts, axes), kept);
      if (op === "sum") assertClose(got, want, 1, `sum over ${axes}`, 1e-1);
      else assertSame(got, want, `${op} over ${axes}`);
    }
  }
});

Deno.test("softmax and log-softmax are fused on the CPU and match their definition", () => {
  const shape = [3, 5];
  const data = Float32Array.of(1, 2, 3, 4, 5, -1, 0, 1, NaN, 2, -Infinity, -Infinity, 0, 1, 2);
  const x = views(data, shape);
  const soft = read(one, one.fused.softmax!(x.one, 1, false), shape);
  const row = [1, 2, 3, 4, 5].map(Math.exp);
  const total = row.reduce((s, v) => s + v, 0);
  assertClose(soft.subarray(0, 5), Float32Array.from(row, (v) => v / total), 1, "softmax row");
  assert.ok(Array.from(soft.subarray(5, 10)).every(Number.isNaN), "a NaN makes its row NaN");
  assert.deepEqual(Array.from(soft.subarray(10, 12)), [0, 0]);
  const log = read(one, one.fused.softmax!(x.one, 1, true), shape);
  assertClose(log.subarray(0, 5), Float32Array.from(row, (v) => Math.log(v / total)), 1, "log-softmax row");
});

Deno.test("fused Adam, AdamW and SGD steps agree bit for bit with the TypeScript reference", () => {
  const n = 1003;
  const adam = [
    { amsgrad: false, decoupledWeightDecay: false, weightDecay: 0, maximize: false },
    { amsgrad: true, decoupledWeightDecay: false, weightDecay: 0.01, maximize: false },
    { amsgrad: false, decoupledWeightDecay: true, weightDecay: 0.01, maximize: true },
  ];
  for (const flags of adam) {
    const options = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3, ...flags };
    const results = [ts, one].map((b) => {
      const v = (seed: number, scale = 1) => {
        const storage = b.upload(values(n, seed).map((x) => Math.abs(x) * scale), "float32");
        return { storage, dtype: "float32" as const, shape: [n], strides: [1], offset: 0 };
      };
      const p = v(1), g = v(2), m = v(3, 0.1), s = v(4, 0.01), mx = v(5, 0.01);
      b.fused.adamStep!(p, g, m, s, flags.amsgrad ? mx : null, options);
      return [p, m, s, mx].map((x) => read(b, x.storage, [n]));
    });
    results[1].forEach((got, i) => assertSame(got, results[0][i], `adam ${JSON.stringify(flags)} tensor ${i}`));
  }
  const sgd = [
    { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, firstStep: false },
    { momentum: 0.9, dampening: 0.1, weightDecay: 1e-4, nesterov: false, maximize: false, firstStep: true },
    { momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true, maximize: true, firstStep: false },
  ];
  for (const flags of sgd) {
    const results = [ts, one].map((b) => {
      const v = (seed: number) => ({
        storage: b.upload(values(n, seed), "float32"),
        dtype: "float32" as const,
        shape: [n],
        strides: [1],
        offset: 0,
      });
      const p = v(1), g = v(2), buf = v(3);
      b.fused.sgdStep!(p, g, flags.momentum ? buf : null, { lr: 0.01, ...flags });
      return [p, buf].map((x) => read(b, x.storage, [n]));
    });
    results[1].forEach((got, i) => assertSame(got, results[0][i], `sgd ${JSON.stringify(flags)} tensor ${i}`));
  }
});

Deno.test("a full arena moves the least recently used storages out, and every value survives", () => {
  const small = new CpuBackend({ name: "test-small-arena", threads: 1, arenaBytes: 1 << 20 });
  const n = 64 * 1024; // 256 KiB each: four fit
  const kept = Array.from({ length: 12 }, (_, i) => small.upload(values(n, i + 1), "float32"));
  const x = (s: Storage): View => ({ storage: s, dtype: "float32", shape: [n], strides: [1], offset: 0 });
  // Every op still computes from the right data, wherever its operands live now.
  for (let i = 0; i < kept.length; i++) {
    const doubled = small.binary("add", x(kept[i]), x(kept[(i + 5) % kept.length]), [n], "float32");
    const other = values(n, ((i + 5) % kept.length) + 1);
    const expected = values(n, i + 1).map((v, j) => v + other[j]);
    assertSame(read(small, doubled, [n]), expected, `sum ${i}`);
    small.dispose(doubled);
  }
  const info = small.info();
  assert.ok(info.arena.evictions > 0, "storages moved out to make room");
  assert.ok(info.arena.resident <= 1 << 20, `resident ${info.arena.resident} bytes within the 1 MiB limit`);
  assert.deepEqual(small.memory(), { storages: 12, bytes: 12 * n * 4 });
  for (const s of kept) small.dispose(s);
  assert.deepEqual(small.memory(), { storages: 0, bytes: 0 });
});

Deno.test("an adopted array stays shared with its caller under the WebAssembly kernels", () => {
  const data = values(64, 1);
  const s = one.adopt(data, "float32");
  const v: View = { storage: s, dtype: "float32", shape: [64], strides: [1], offset: 0 };
  one.copy(v, 3); // a write through the backend reaches the caller's array
  assert.ok(data.every((x) => x === 3));
  data[0] = -7; // and the caller's write reaches the next kernel
  assert.equal(read(one, one.binary("mul", v, 2, [64], "float32"), [64])[0], -14);
});

Deno.test("the kernels run on an unshared memory, as where SharedArrayBuffer is missing", () => {
  const runtime = WasmRuntime.for({ threads: 2, shared: false, arenaBytes: 1 << 22 })!;
  assert.equal(runtime.shared, false);
  assert.equal(runtime.parallelism(), 1);
  const kernels = new WasmKernels(runtime, new MemoryLedger());
  const a = kernels.alloc("float32", 96 * 80), b = kernels.alloc("float32", 80 * 70);
  a.data.set(values(96 * 80, 1));
  b.data.set(values(80 * 70, 2));
  const view = (storage: Storage, shape: Shape): View => ({
    storage,
    dtype: "float32",
    shape,
    strides: contiguousStrides(shape),
    offset: 0,
  });
  const c = kernels.matmul(view(a, [1, 96, 80]), view(b, [1, 80, 70]))!;
  const ref = views(values(96 * 80, 1), [1, 96, 80]), refB = views(values(80 * 70, 2), [1, 80, 70]);
  assertClose(c.data, read(ts, ts.matmul(ref.ts, refB.ts), [1, 96, 70]), 80, "matmul on an unshared memory");
});

Deno.test('info() names the kernels, and kernels: "typescript" never touches WebAssembly', () => {
  assert.equal(ts.info().kernels, "typescript");
  assert.equal(ts.info().arena.span, 0);
  assert.equal(one.info().kernels, "wasm");
  assert.equal(one.info().threads, 1);
  assert.equal(two.info().threads, 2);
  assert.ok(["relaxed", "simd"].includes(one.info().simd));
});

Deno.test("a script whose kernels ran on worker threads exits by itself", async () => {
  const script = `
    import { CpuBackend } from ${JSON.stringify(new URL("./mod.ts", import.meta.url).href)};
    const cpu = new CpuBackend({ threads: 2 });
    console.log(await cpu.threadsReady());
    const n = 512, data = new Float32Array(n * n).fill(0.5);
    const v = { storage: cpu.upload(data, "float32"), dtype: "float32", shape: [1, n, n], strides: [n * n, n, 1], offset: 0 };
    const c = cpu.matmul(v, v);
    console.log(cpu.readSync({ ...v, storage: c })[0]);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const timer = setTimeout(() => child.kill(), 30_000);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.deepEqual(new TextDecoder().decode(stdout).trim().split("\n"), ["2", "128"]);
});

Deno.test("workers keep up when the shared memory grows between kernels", async () => {
  // A fresh process, so the memory starts small: each round grows it, then at once hands the workers a job
  // that lies in the new pages (they must see the grown memory, not the one they started with). The race is
  // timing-dependent: it showed as "Invalid typed array length" in a worker during a profiled ResNet18
  // forward (--cpu-prof slows the engine's notice of a growth to other threads), so this runs profiled too.
  const profiles = await Deno.makeTempDir();
  const script = `
    import { CpuBackend } from ${JSON.stringify(new URL("./mod.ts", import.meta.url).href)};
    const cpu = new CpuBackend({ threads: 2 });
    await cpu.threadsReady();
    const keep = [];
    const v = (s, n) => ({ storage: s, dtype: "float32", shape: [1, n, n], strides: [n * n, n, 1], offset: 0 });
    for (let round = 0; round < 16; round++) {
      const n = 128 + 64 * round; // bigger operands and scratch every round
      keep.push(cpu.fill(4 << 20, 1, "float32")); // and 16 MB more of storages
      const a = v(cpu.upload(new Float32Array(n * n).fill(0.5), "float32"), n);
      const c = cpu.matmul(a, a);
      if (cpu.readSync(v(c, n))[0] !== n / 4) throw new Error("wrong product in round " + round);
    }
    console.log("ok", cpu.info().activeThreads);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "--cpu-prof", `--cpu-prof-dir=${profiles}`, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const timer = setTimeout(() => child.kill(), 60_000);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  await Deno.remove(profiles, { recursive: true });
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.equal(new TextDecoder().decode(stdout).trim(), "ok 2");
});
