// The tfjs backend's required ops on tfjs-cpu and tfjs-wasm: strided views,
// writes through views, scatter, the dtype and NaN rules where tfjs's own
// kernels differ from PyTorch, and that no tfjs tensor outlives its op.

import assert from "node:assert/strict";
import { BackendError, type DType, type Storage, type View } from "@flint/backend";
import * as torch from "@flint/torch";
import * as tf from "@tensorflow/tfjs-core";
import { hostView, liveStorages, TF_BACKENDS, tfjsOn, viewOf, whole } from "./_testing.ts";
import type { TfjsBackend } from "./backend.ts";

const iota = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Registers `fn` as one test per tfjs backend. */
function eachBackend(name: string, fn: (backend: TfjsBackend) => void | Promise<void>): void {
  for (const b of TF_BACKENDS) Deno.test(`${name} (tfjs-${b})`, async () => fn(await tfjsOn(b)));
}

const readAll = (backend: TfjsBackend, storage: Storage, dtype: DType, shape: number[]): number[] =>
  Array.from(backend.readSync(whole(storage, dtype, shape)));

eachBackend("strided views read back in row-major order, whatever their layout", async (backend) => {
  const values = iota(24);
  const layouts: Pick<View, "shape" | "strides" | "offset">[] = [
    { shape: [2, 3], strides: [3, 1], offset: 5 }, // contiguous block at an offset
    { shape: [4, 3, 2], strides: [1, 4, 12], offset: 0 }, // permute(2, 1, 0) of [2, 3, 4]
    { shape: [3, 4], strides: [0, 1], offset: 2 }, // a row broadcast over 3
    { shape: [2, 4, 3], strides: [0, 1, 4], offset: 0 }, // broadcast and transposed
    { shape: [2, 3, 2], strides: [12, 4, 2], offset: 1 }, // every other column: a gather
    { shape: [4, 3], strides: [2, 1], offset: 0 }, // overlapping windows
    { shape: [], strides: [], offset: 7 }, // 0-d
    { shape: [0, 3], strides: [3, 1], offset: 0 }, // empty
  ];
  for (const dtype of ["float32", "int32", "bool"] as const) {
    const data = dtype === "bool" ? values.map((v) => (v % 3 === 0 ? 1 : 0)) : values;
    const { storage } = viewOf(backend, data, dtype, [24]);
    for (const layout of layouts) {
      const view = { storage, dtype, ...layout };
      const want = hostView(data, layout);
      assert.deepEqual(Array.from(backend.readSync(view)), want, `${dtype} ${JSON.stringify(layout)}`);
      assert.deepEqual(Array.from(await backend.read(view)), want);
      assert.deepEqual(readAll(backend, backend.cast(view, dtype), dtype, [want.length]), want);
    }
    backend.dispose(storage);
  }
});

eachBackend("reading a whole storage leaves it readable and usable", async (backend) => {
  const x = viewOf(backend, [1, 2, 3], "float32", [3]);
  const before = tf.memory().numTensors;
  assert.deepEqual(Array.from(backend.readSync(x)), [1, 2, 3]);
  assert.deepEqual(Array.from(await backend.read(x)), [1, 2, 3]);
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(readAll(backend, backend.unary("neg", x), "float32", [3]), [-1, -2, -3]);
});

eachBackend("copy writes through strided views into the same Storage object", (backend) => {
  const model = new Array(12).fill(0);
  const dst = viewOf(backend, model, "float32", [12]);
  const before = backend.memory().storages;
  const write = (layout: Pick<View, "shape" | "strides" | "offset">, src: number[] | number) => {
    const n = hostView(model, layout).length;
    const values = typeof src === "number" ? new Array(n).fill(src) : src;
    const operand = typeof src === "number" ? src : viewOf(backend, src, "float32", layout.shape);
    backend.copy({ storage: dst.storage, dtype: "float32", ...layout }, operand);
    hostView(iota(12), layout).forEach((at, i) => (model[at] = values[i]));
    if (typeof operand !== "number") backend.dispose(operand.storage);
  };
  write({ shape: [4, 3], strides: [1, 4], offset: 0 }, iota(12).map((v) => v + 1)); // transposed: scattered
  write({ shape: [2, 3], strides: [4, 2], offset: 1 }, -1); // every other, scalar
  write({ shape: [3], strides: [1], offset: 4 }, [7, 8, 9]); // contiguous range
  write({ shape: [2, 2], strides: [0, 1], offset: 10 }, [5, 6, 50, 60]); // repeated destination: last wins
  assert.deepEqual(readAll(backend, dst.storage, "float32", [12]), model);
  write({ shape: [12], strides: [1], offset: 0 }, iota(12).reverse()); // the whole storage
  assert.deepEqual(readAll(backend, dst.storage, "float32", [12]), model);
  assert.equal(backend.memory().storages, before);
  const mask = viewOf(backend, [0, 0, 0, 0], "bool", [4]);
  backend.copy({ ...mask, shape: [2], strides: [2] }, viewOf(backend, [1, 1], "bool", [2]));
  assert.deepEqual(readAll(backend, mask.storage, "bool", [4]), [1, 0, 1, 0]);
});

eachBackend("copy into a view leaves the storages that share its data untouched", (backend) => {
  // cast of a whole contiguous view is a tfjs reshape: both storages hold one tfjs data buffer.
  const a = viewOf(backend, iota(6), "float32", [2, 3]);
  const b = whole(backend.cast(a, "float32"), "float32", [2, 3]);
  backend.copy({ ...b, shape: [2], strides: [3], offset: 1 }, 0);
  backend.scatter(b, viewOf(backend, [5], "int32", [1]), 100, false);
  assert.deepEqual(readAll(backend, a.storage, "float32", [6]), iota(6));
  assert.deepEqual(readAll(backend, b.storage, "float32", [6]), [0, 0, 2, 3, 0, 100]);
});

eachBackend("scatter adds repeated positions when accumulating, and writes through strided views", (backend) => {
  const index = viewOf(backend, [1, 3, 1, 1], "int32", [4]);
  const f = viewOf(backend, [0, 0, 0, 0], "float32", [4]);
  backend.scatter(f, index, viewOf(backend, [1, 2, 3, 4], "float32", [4]), true);
  assert.deepEqual(readAll(backend, f.storage, "float32", [4]), [0, 8, 0, 2]);
  const i = viewOf(backend, [10, 10, 10, 10], "int32", [4]);
  backend.scatter(i, index, 5, true);
  assert.deepEqual(readAll(backend, i.storage, "int32", [4]), [10, 25, 10, 15]);
  const m = viewOf(backend, [0, 0, 1, 0], "bool", [4]);
  backend.scatter(m, index, viewOf(backend, [1, 0, 0, 0], "bool", [4]), true);
  assert.deepEqual(readAll(backend, m.storage, "bool", [4]), [0, 1, 1, 0]);
  // Row-major positions of a transposed [3, 2] view of a [2, 3] storage.
  const t = viewOf(backend, iota(6), "float32", [2, 3]);
  const transposed = { ...t, shape: [3, 2], strides: [1, 3] };
  backend.scatter(transposed, viewOf(backend, [1, 4], "int32", [2]), viewOf(backend, [-1, -2], "float32", [2]), false);
  assert.deepEqual(readAll(backend, t.storage, "float32", [6]), [0, 1, -2, -1, 4, 5]);
  assert.deepEqual(
    readAll(backend, backend.gather(transposed, viewOf(backend, [0, 1, 5], "int32", [3])), "float32", [3]),
    [0, -1, 5],
  );
});

eachBackend("dtypes: float64 kept in float32 and read as Float64Array, C casts", (backend) => {
  assert.equal(backend.float64Precision, "float32");
  const d = viewOf(backend, [0.1, 2.5], "float64", [2]);
  const read = backend.readSync(d);
  assert.ok(read instanceof Float64Array);
  assert.deepEqual(Array.from(read), [Math.fround(0.1), 2.5]);
  assert.equal(d.storage.byteLength, 8);
  const x = viewOf(backend, [-2.7, 2.7, NaN, 0, -0, 0.5], "float32", [6]);
  assert.deepEqual(readAll(backend, backend.cast(x, "int32"), "int32", [6]), [-2, 2, 0, 0, 0, 0]);
  assert.deepEqual(readAll(backend, backend.cast(x, "bool"), "bool", [6]), [1, 1, 1, 0, 0, 1]);
  assert.deepEqual(readAll(backend, backend.fill(2, 2.7, "int32"), "int32", [2]), [2, 2]);
  assert.deepEqual(readAll(backend, backend.fill(2, -3, "bool"), "bool", [2]), [1, 1]);
});

eachBackend("int32 arithmetic is exact: wrapping products, floored division, Python remainders", (backend) => {
  const int = (values: number[]) => viewOf(backend, values, "int32", [values.length]);
  const run = (op: "mul" | "floorDivide" | "remainder" | "div", a: number[], b: number[]) =>
    readAll(backend, backend.binary(op, int(a), int(b), [a.length], "int32"), "int32", [a.length]);
  assert.deepEqual(run("mul", [2147483647, 65537, -2147483648, -7], [2147483647, 65537, -1, 6]), [
    1,
    131073,
    -2147483648,
    -42,
  ]);
  assert.deepEqual(run("floorDivide", [2147483647, -7, 7, -2147483647], [3, 2, -2, 7]), [
    715827882,
    -4,
    -4,
    -306783379,
  ]);
  assert.deepEqual(run("remainder", [-7, 7, 2147483647], [2, -2, 10]), [1, -1, 7]);
  assert.deepEqual(run("div", [-7, 7, 5], [2, 2, 0]), [-3, 3, 0]);
  assert.throws(() => run("floorDivide", [1, 2], [1, 0]), /ZeroDivisionError: integer division by zero/);
  assert.throws(() => run("remainder", [1], [0]), /ZeroDivisionError: integer remainder by zero/);
});

eachBackend("NaN and rounding follow PyTorch where tfjs's kernels do not", (backend) => {
  const f = (values: number[]) => viewOf(backend, values, "float32", [values.length]);
  const unary = (op: Parameters<TfjsBackend["unary"]>[0], values: number[]) =>
    readAll(backend, backend.unary(op, f(values)), "float32", [values.length]);
  const binary = (op: Parameters<TfjsBackend["binary"]>[0], a: number[], b: number[]) =>
    readAll(backend, backend.binary(op, f(a), f(b), [a.length], "float32"), "float32", [a.length]);
  assert.deepEqual(binary("maximum", [NaN, 0, 1], [0, NaN, 2]), [NaN, NaN, 2]);
  assert.deepEqual(binary("minimum", [NaN, 0, 1], [0, NaN, 2]), [NaN, NaN, 1]);
  assert.deepEqual(binary("remainder", [5, -5, 5, -5, 5.5], [Infinity, Infinity, -Infinity, -Infinity, -2]), [
    5,
    Infinity,
    -Infinity,
    -5,
    -0.5,
  ]);
  assert.deepEqual(unary("sign", [NaN, -3, 0, 2]), [0, -1, 0, 1]);
  assert.deepEqual(unary("relu", [NaN, -1, 2]), [NaN, 0, 2]);
  assert.deepEqual(unary("round", [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]), [-2, -2, -0, 0, 2, 2]);
  assert.deepEqual(unary("trunc", [-2.7, 2.7]), [-2, 2]);
  const [tiny] = unary("log1p", [1e-7]);
  assert.ok(Math.abs(tiny - 1e-7) < 1e-13, `log1p(1e-7) = ${tiny}`);
  const isnan = backend.unary("isnan", viewOf(backend, [0, -1, 7], "int32", [3]));
  assert.deepEqual(readAll(backend, isnan, "bool", [3]), [0, 0, 0]);
  const x = viewOf(backend, [1, NaN, 3, NaN, 2, 2, 1, 2], "float32", [2, 4]);
  assert.deepEqual(readAll(backend, backend.argReduce("argmax", x, 1), "int32", [2]), [1, 0]);
  assert.deepEqual(readAll(backend, backend.argReduce("argmin", x, 1), "int32", [2]), [1, 2]);
  assert.deepEqual(readAll(backend, backend.reduce("max", x, [1]), "float32", [2]), [NaN, 2]);
  assert.deepEqual(readAll(backend, backend.reduce("any", x, [0, 1]), "bool", [1]), [1]);
  assert.deepEqual(readAll(backend, backend.reduce("sum", { ...x, shape: [0, 4] }, [0]), "float32", [4]), [0, 0, 0, 0]);
});

eachBackend("where selects bool values without touching neighbouring storage", (backend) => {
  const cond = viewOf(backend, [1, 0, 1, 0, 0, 1], "bool", [6]);
  const a = viewOf(backend, [1, 1, 0, 0, 1, 0], "bool", [6]);
  const b = viewOf(backend, [0, 1, 1, 0, 1, 1], "bool", [6]);
  const guard = viewOf(backend, iota(64), "float32", [64]);
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(readAll(backend, backend.where(cond, a, b, [6], "bool"), "bool", [6]), [1, 1, 0, 0, 1, 0]);
  }
  assert.deepEqual(readAll(backend, guard.storage, "float32", [64]), iota(64));
});

eachBackend("matmul reads transposed operands in place and survives one storage in two shapes", (backend) => {
  const a = viewOf(backend, iota(6), "float32", [1, 2, 3]);
  const b = viewOf(backend, iota(6), "float32", [1, 3, 2]);
  const at = { ...viewOf(backend, iota(6), "float32", [3, 2]), shape: [1, 2, 3], strides: [0, 1, 2] };
  assert.deepEqual(readAll(backend, backend.matmul(a, b), "float32", [4]), [10, 13, 28, 40]);
  assert.deepEqual(readAll(backend, backend.matmul(at, b), "float32", [4]), [20, 26, 26, 35]);
  // One vector as a [1, 4, 1] column, then as a [1, 1, 4] row (matmul's forward and backward).
  const v = viewOf(backend, [0, 1, 2, 3], "float32", [4]);
  const m = viewOf(backend, iota(8), "float32", [1, 2, 4]);
  const ones = viewOf(backend, [1, 1], "float32", [1, 2, 1]);
  assert.deepEqual(
    readAll(backend, backend.matmul(m, { ...v, shape: [1, 4, 1], strides: [0, 1, 1] }), "float32", [2]),
    [
      14,
      38,
    ],
  );
  assert.deepEqual(
    readAll(backend, backend.matmul(ones, { ...v, shape: [1, 1, 4], strides: [0, 4, 1] }), "float32", [8]),
    [0, 1, 2, 3, 0, 1, 2, 3],
  );
  const ai = viewOf(backend, iota(6), "int32", [1, 2, 3]);
  const bi = viewOf(backend, iota(6), "int32", [1, 3, 2]);
  assert.deepEqual(readAll(backend, backend.matmul(ai, bi), "int32", [4]), [10, 13, 28, 40]);
});

Deno.test("create() names the tfjs backends that are registered when asked for another", async () => {
  const { TfjsBackend } = await import("./backend.ts");
  await assert.rejects(
    TfjsBackend.create({ backend: "webgpu" }),
    (e: Error) => e instanceof BackendError && /"webgpu" is not registered \(registered: .*cpu.*wasm/.test(e.message),
  );
});

Deno.test("a device refuses to run while tfjs has another backend active", async () => {
  const cpu = await tfjsOn("cpu");
  const s = cpu.fill(2, 1, "float32");
  await tfjsOn("wasm");
  assert.throws(() => cpu.unary("neg", whole(s, "float32", [2])), (e: Error) => {
    return e instanceof BackendError && e.message.includes(`tfjs's active backend is "wasm"`);
  });
  await tfjsOn("cpu");
  cpu.dispose(s);
});

for (const b of TF_BACKENDS) {
  Deno.test(`1,000 ops through Flint leave no tfjs tensor behind (tfjs-${b})`, async () => {
    const backend = await tfjsOn(b);
    const device = torch.registerBackend(backend);
    const before = backend.memory().storages;
    const w = torch.randn(8, 8).to(device).requiresGrad_(true);
    torch.scope(() => {
      let x = torch.randn(4, 8).to(device);
      for (let i = 0; i < 100; i++) {
        // Ten ops a round: matmul, views, broadcasting, reductions, indexing, in-place writes.
        x = x.matmul(w).tanh().add(x.t().t()).mul(0.5);
        x.index("::2").mul_(1);
        x = x.sub(x.mean(1, { keepdim: true })).relu().softmax(1);
      }
      x.sum().backward();
    });
    w.grad!.dispose();
    w.dispose();
    assert.equal(backend.memory().storages, before);
    assert.equal(tf.memory().numTensors, liveStorages());
  });
}
