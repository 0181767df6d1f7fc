// The CPU kernels on strided, broadcast views, compared with simple
// element-by-element references.

import assert from "node:assert/strict";
import type { DataArray, View } from "@flint/backend";
import { contiguousStrides } from "@flint/backend";
import { CpuBackend } from "./backend.ts";
import { erf, powC, pythonRemainder, roundHalfEven } from "./math.ts";

const cpu = new CpuBackend();

function view(data: number[] | DataArray, shape: number[], strides = contiguousStrides(shape), offset = 0): View {
  const array = data instanceof Float32Array || data instanceof Int32Array ? data : Float32Array.from(data as number[]);
  return { storage: cpu.adopt(array, "float32"), dtype: "float32", shape, strides, offset };
}
const read = (storage: ReturnType<typeof cpu.fill>, shape: number[]) =>
  Array.from(cpu.readSync({ storage, dtype: "float32", shape, strides: contiguousStrides(shape), offset: 0 }));

Deno.test("binary ops broadcast through zero strides and walk transposed views", () => {
  const a = view([1, 2, 3, 4, 5, 6], [2, 3]);
  const row = view([10, 20, 30], [2, 3], [0, 1]); // [3] broadcast over rows
  assert.deepEqual(read(cpu.binary("add", a, row, [2, 3], "float32"), [2, 3]), [11, 22, 33, 14, 25, 36]);
  const t = view([1, 2, 3, 4, 5, 6], [3, 2], [1, 3]); // a transposed
  assert.deepEqual(read(cpu.binary("mul", t, 2, [3, 2], "float32"), [3, 2]), [2, 8, 4, 10, 6, 12]);
});

Deno.test("comparisons give bool, and casts follow C's rules", () => {
  const a = view([1, -2.7, NaN], [3]);
  const gt = cpu.binary("gt", a, 0, [3], "float32");
  assert.deepEqual(Array.from(cpu.readSync({ storage: gt, dtype: "bool", shape: [3], strides: [1], offset: 0 })), [
    1,
    0,
    0,
  ]);
  const asInt = cpu.cast(a, "int32");
  assert.deepEqual(Array.from(cpu.readSync({ storage: asInt, dtype: "int32", shape: [3], strides: [1], offset: 0 })), [
    1,
    -2,
    0,
  ]);
  const asBool = cpu.cast(a, "bool");
  assert.deepEqual(Array.from(cpu.readSync({ storage: asBool, dtype: "bool", shape: [3], strides: [1], offset: 0 })), [
    1,
    1,
    1,
  ]);
});

Deno.test("reductions over any set of axes match a naive loop", () => {
  const data = Array.from({ length: 24 }, (_, i) => (i * 7) % 11 - 5);
  const x = view(data, [2, 3, 4]);
  const at = (i: number, j: number, k: number) => data[i * 12 + j * 4 + k];
  const sum02: number[] = [];
  for (let j = 0; j < 3; j++) {
    let s = 0;
    for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) s += at(i, j, k);
    sum02.push(s);
  }
  assert.deepEqual(read(cpu.reduce("sum", x, [0, 2]), [3]), sum02);
  const max1: number[] = [];
  for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) max1.push(Math.max(at(i, 0, k), at(i, 1, k), at(i, 2, k)));
  assert.deepEqual(read(cpu.reduce("max", x, [1]), [2, 4]), max1);
  assert.deepEqual(read(cpu.reduce("sum", x, [0, 1, 2]), []), [data.reduce((a, b) => a + b, 0)]);
});

Deno.test("max propagates NaN and argmax picks the first winner (NaN wins)", () => {
  const x = view([1, NaN, 3, 5, 5, 0], [2, 3]);
  assert.ok(Number.isNaN(read(cpu.reduce("max", x, [1]), [2])[0]));
  const idx = cpu.argReduce("argmax", x, 1);
  assert.deepEqual(Array.from(cpu.readSync({ storage: idx, dtype: "int32", shape: [2], strides: [1], offset: 0 })), [
    1,
    0,
  ]);
});

Deno.test("matmul handles transposed operands and a broadcast batch", () => {
  // a: 2x3 stored transposed; b: 3x2 shared by both batches (stride 0).
  const a = view([1, 4, 2, 5, 3, 6], [1, 2, 3], [0, 1, 2]);
  const b = view([7, 8, 9, 10, 11, 12], [1, 3, 2], [0, 2, 1]);
  assert.deepEqual(read(cpu.matmul(a, b), [1, 2, 2]), [58, 64, 139, 154]);
  const batchA = view([1, 0, 0, 1, 2, 0, 0, 2], [2, 2, 2]);
  const shared = view([1, 2, 3, 4], [2, 2, 2], [0, 2, 1]);
  assert.deepEqual(read(cpu.matmul(batchA, shared), [2, 2, 2]), [1, 2, 3, 4, 2, 4, 6, 8]);
});

Deno.test("matmul of 100x100 matches a naive triple loop", () => {
  const n = 100;
  const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: n * n }, (_, i) => Math.cos(i));
  const out = read(cpu.matmul(view(a, [1, n, n]), view(b, [1, n, n])), [1, n, n]);
  for (const [i, j] of [[0, 0], [17, 93], [99, 99], [50, 1]]) {
    let s = 0;
    for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
    assert.ok(Math.abs(out[i * n + j] - s) < 1e-4, `(${i},${j}) ${out[i * n + j]} vs ${s}`);
  }
});

Deno.test("gather and scatter address non-contiguous views by row-major position", () => {
  const t = view([1, 2, 3, 4, 5, 6], [3, 2], [1, 3]); // logical [[1,4],[2,5],[3,6]]
  const idx = {
    storage: cpu.adopt(Int32Array.of(0, 3, 5), "int32"),
    dtype: "int32" as const,
    shape: [3],
    strides: [1],
    offset: 0,
  };
  assert.deepEqual(read(cpu.gather(t, idx), [3]), [1, 5, 6]);
  cpu.scatter(t, idx, 0, false);
  assert.deepEqual(read(cpu.cast(t, "float32"), [3, 2]), [0, 4, 2, 0, 3, 0]);
  const bad = { ...idx, storage: cpu.adopt(Int32Array.of(6), "int32"), shape: [1] };
  assert.throws(() => cpu.gather(t, bad), /index 6 is out of bounds for a tensor of 6 elements/);
});

Deno.test("copy writes a broadcast source into a strided destination", () => {
  const dst = view(new Float32Array(6), [2, 3]);
  cpu.copy({ ...dst, shape: [2, 2], strides: [3, 2] }, view([7, 8], [2, 2], [0, 1]));
  assert.deepEqual(read(dst.storage, [2, 3]), [7, 0, 8, 7, 0, 8]);
});

Deno.test("memory() counts live storages and bytes; dispose frees", () => {
  const local = new CpuBackend();
  const s = local.fill(10, 1, "float64");
  assert.deepEqual(local.memory(), { storages: 1, bytes: 80 });
  local.dispose(s);
  assert.deepEqual(local.memory(), { storages: 0, bytes: 0 });
  assert.throws(
    () => local.readSync({ storage: s, dtype: "float64", shape: [10], strides: [1], offset: 0 }),
    /disposed/,
  );
});

Deno.test("erf is accurate to double precision", () => {
  // Reference values of erf (Abramowitz & Stegun tables / mpmath).
  const cases: [number, number][] = [
    [0, 0],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [3.5, 0.9999992569016276],
    [-1.5, -0.9661051464753108],
  ];
  for (const [x, want] of cases) assert.ok(Math.abs(erf(x) - want) < 1e-15, `erf(${x}) = ${erf(x)}`);
});

Deno.test("round is half-to-even and remainder takes the divisor's sign", () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4].map(roundHalfEven), [0, 2, 2, -0, -2, 2]);
  assert.deepEqual([pythonRemainder(5, 3), pythonRemainder(-5, 3), pythonRemainder(5, -3)], [2, 1, -1]);
});

Deno.test("pow follows C: 1 to any power and -1 to ±inf are 1, where Math.pow says NaN", () => {
  assert.deepEqual(
    [powC(1, NaN), powC(-1, Infinity), powC(-1, -Infinity), powC(NaN, 0), powC(2, 3), powC(-2, 0.5)],
    [1, 1, 1, 1, 8, NaN],
  );
});
