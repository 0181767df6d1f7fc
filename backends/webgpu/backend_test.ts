// The WebGPU backend's plumbing: batching and upload ordering, the buffer
// pool, limits, device loss and out-of-memory errors, float16 storage.

import assert from "node:assert/strict";
import { BackendError, contiguousStrides, type DType, type Storage, type View } from "@flint/backend";
import { WebGpuBackend } from "./backend.ts";
import { WebGpuDeviceLostError, WebGpuLimitError, WebGpuOutOfMemoryError } from "./errors.ts";
import { elementwiseSource } from "./_elementwise.ts";
import { fromHalfBits, packHalf, toHalfBits } from "./_half.ts";

function view(storage: Storage, shape: number[], dtype: DType = "float32"): View {
  return { storage, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

const gpu = await WebGpuBackend.create({ name: "webgpu-unit", maxBatch: 1000 });
const adapter = await navigator.gpu.requestAdapter();
const hasF16 = adapter?.features.has("shader-f16") ?? false;

Deno.test("ops are recorded into one submission until a read needs them", async () => {
  await gpu.sync();
  const before = gpu.stats().submissions;
  const x = gpu.upload(Float32Array.of(1, 2, 3), "float32");
  let y = x;
  for (let i = 0; i < 10; i++) y = gpu.binary("add", view(y, [3]), 1, [3], "float32");
  assert.equal(gpu.stats().submissions, before);
  assert.equal(gpu.stats().queued, 10);
  assert.deepEqual([...await gpu.read(view(y, [3]))], [11, 12, 13]);
  assert.equal(gpu.stats().submissions, before + 1);
  assert.equal(gpu.stats().queued, 0);
});

Deno.test("maxBatch forces a submission every maxBatch ops", async () => {
  const small = await WebGpuBackend.create({ name: "webgpu-batch", maxBatch: 4 });
  const x = small.upload(Float32Array.of(1), "float32");
  for (let i = 0; i < 10; i++) small.unary("neg", view(x, [1]));
  assert.equal(small.stats().submissions, 2);
  assert.equal(small.stats().queued, 2);
  await small.sync();
  assert.equal(small.stats().queued, 0);
  assert.equal(small.stats().submissions, 3);
  small.destroy();
});

Deno.test("an upload into a reused buffer does not overtake pending ops that read the buffer", async () => {
  await gpu.sync();
  const a = gpu.upload(Float32Array.of(1, 2, 3, 4), "float32");
  const doubled = gpu.binary("mul", view(a, [4]), 2, [4], "float32");
  assert.ok(gpu.stats().queued > 0, "the multiply is still pending");
  gpu.dispose(a);
  const pooled = gpu.stats().pooledBuffers;
  // Same size class: the upload reuses a's buffer while the multiply that reads it has not run.
  const b = gpu.upload(Float32Array.of(10, 20, 30, 40), "float32");
  assert.equal(gpu.stats().pooledBuffers, pooled - 1, "the upload took the pooled buffer");
  assert.deepEqual([...await gpu.read(view(doubled, [4]))], [2, 4, 6, 8]);
  assert.deepEqual([...await gpu.read(view(b, [4]))], [10, 20, 30, 40]);
});

Deno.test("an upload into a buffer free of pending work writes it directly and reads back", async () => {
  const a = gpu.upload(Float32Array.of(5, 6), "float32");
  await gpu.sync();
  gpu.dispose(a);
  const b = gpu.upload(Float32Array.of(7, 8), "float32");
  assert.deepEqual([...await gpu.read(view(b, [2]))], [7, 8]);
});

Deno.test("disposed buffers return to the pool and memory() counts only live storages", async () => {
  const pool = await WebGpuBackend.create({ name: "webgpu-pool" });
  const a = pool.fill(1000, 1, "float32");
  const b = pool.fill(10, 1, "int32");
  assert.deepEqual(pool.memory(), { storages: 2, bytes: 4040 });
  pool.dispose(a);
  pool.dispose(a); // twice is harmless
  assert.deepEqual(pool.memory(), { storages: 1, bytes: 40 });
  assert.equal(pool.stats().pooledBuffers, 1);
  const c = pool.fill(990, 2, "float32"); // same size class as a: reused
  assert.equal(pool.stats().pooledBuffers, 0);
  assert.equal((await pool.read(view(c, [990])))[989], 2);
  pool.dispose(b);
  pool.dispose(c);
  assert.deepEqual(pool.memory(), { storages: 0, bytes: 0 });
  assert.ok(pool.trimPool() >= 4000);
  assert.equal(pool.stats().pooledBytes, 0);
  pool.destroy();
});

Deno.test("a disposed storage cannot be used again", () => {
  const a = gpu.fill(3, 0, "float32");
  gpu.dispose(a);
  assert.throws(() => gpu.unary("neg", view(a, [3])), /disposed/);
});

Deno.test("a storage larger than maxStorageBufferBindingSize is refused with the size and the limit", () => {
  const limited = WebGpuBackend.create({ name: "webgpu-limit", limits: { maxStorageBufferBindingSize: 1024 } });
  return limited.then((b) => {
    assert.throws(
      () => b.upload(new Float32Array(300), "float32"),
      (e: unknown) =>
        e instanceof WebGpuLimitError && e instanceof BackendError && e.requested === 1200 && e.allowed === 1024 &&
        /maxStorageBufferBindingSize is 1024 but 1200 was needed/.test(e.message) && /split/.test(e.message),
    );
    // 256 floats fit exactly
    b.dispose(b.upload(new Float32Array(256), "float32"));
    b.destroy();
  });
});

Deno.test("dispatches larger than maxComputeWorkgroupsPerDimension are tiled over a second dimension", async () => {
  const tiled = await WebGpuBackend.create({ name: "webgpu-tiled", limits: { maxComputeWorkgroupsPerDimension: 3 } });
  const n = 64 * 10 + 5; // 11 workgroups: a 3 × 4 grid
  const x = tiled.upload(Float32Array.from({ length: n }, (_, i) => i), "float32");
  const y = await tiled.read(view(tiled.binary("mul", view(x, [n]), 2, [n], "float32"), [n]));
  assert.ok(y.every((v, i) => v === 2 * i));
  // tree reductions: one workgroup per output row
  const rows = 20, cols = 300;
  const m = tiled.upload(Float32Array.from({ length: rows * cols }, (_, i) => i % cols), "float32");
  const sums = await tiled.read(view(tiled.reduce("sum", view(m, [rows, cols]), [1]), [rows]));
  assert.deepEqual([...sums], new Array(rows).fill((cols * (cols - 1)) / 2));
  // matmul: 5 row tiles and 5 column tiles are chunked into dispatches of at most 3 × 3
  const k = 3, size = 150;
  const a = tiled.fill(size * k, 1, "float32");
  const b = tiled.fill(k * size, 2, "float32");
  const threeD = (s: Storage, r: number, c: number): View => ({
    storage: s,
    dtype: "float32",
    shape: [1, r, c],
    strides: [0, c, 1],
    offset: 0,
  });
  const c = await tiled.read(view(tiled.matmul(threeD(a, size, k), threeD(b, k, size)), [size * size]));
  assert.ok(c.every((v) => v === 6));
  tiled.destroy();
});

Deno.test("a lost device makes the next op and read throw WebGpuDeviceLostError within a second", async () => {
  const doomed = await WebGpuBackend.create({ name: "webgpu-doomed" });
  const x = doomed.fill(4, 1, "float32");
  const pending = doomed.unary("exp", view(x, [4]));
  // the device itself, not the backend: the loss arrives the way a driver reset's would
  doomed.device.destroy();
  const started = performance.now();
  await assert.rejects(
    doomed.read(view(pending, [4])),
    (e: unknown) =>
      e instanceof WebGpuDeviceLostError && e.reason === "destroyed" && /WebGpuBackend\.create/.test(e.message),
  );
  assert.ok(performance.now() - started < 1000, "the read failed fast instead of hanging");
  assert.throws(() => doomed.fill(4, 0, "float32"), WebGpuDeviceLostError);
  await assert.rejects(doomed.sync(), WebGpuDeviceLostError);
});

Deno.test("destroy() makes the very next op throw WebGpuDeviceLostError", () => {
  return WebGpuBackend.create({ name: "webgpu-destroyed" }).then((b) => {
    const x = b.fill(2, 1, "float32");
    b.destroy();
    assert.throws(
      () => b.unary("neg", view(x, [2])),
      (e: unknown) => e instanceof WebGpuDeviceLostError && e.reason === "destroyed",
    );
  });
});

Deno.test({
  name: "a read the device does not finish within timeoutMs fails with a BackendError instead of waiting",
  // Deno's mapAsync keeps polling after the timeout: its op outlives the test.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Deno completes a map no sooner than 10 ms after it is asked for, so 1 ms always runs out.
    const impatient = await WebGpuBackend.create({ name: "webgpu-timeout", timeoutMs: 1 });
    const x = impatient.fill(16, 1, "float32");
    await assert.rejects(
      impatient.read(view(x, [16])),
      (e: unknown) => e instanceof BackendError && /did not finish reading a tensor back within 1 ms/.test(e.message),
    );
    impatient.destroy();
  },
});

Deno.test("out of memory reported by the device becomes WebGpuOutOfMemoryError on the next op", async () => {
  const device = gpu.device;
  device.dispatchEvent(
    new GPUUncapturedErrorEvent("uncapturederror", { error: new GPUOutOfMemoryError("simulated allocation failure") }),
  );
  assert.throws(
    () => gpu.fill(4, 0, "float32"),
    (e: unknown) =>
      e instanceof WebGpuOutOfMemoryError && /Dispose tensors/.test(e.message) && /simulated/.test(e.message),
  );
  // the error is reported once; the device still works
  const ok = gpu.fill(2, 3, "float32");
  assert.deepEqual([...await gpu.read(view(ok, [2]))], [3, 3]);
});

Deno.test("a validation error from the device is reported on the next op as a BackendError", () => {
  gpu.device.dispatchEvent(
    new GPUUncapturedErrorEvent("uncapturederror", { error: new GPUValidationError("simulated validation") }),
  );
  assert.throws(
    () => gpu.fill(1, 0, "float32"),
    (e: unknown) => e instanceof BackendError && /simulated/.test(e.message),
  );
});

Deno.test("float64 tensors are stored as float32 and read back as Float64Array", async () => {
  assert.equal(gpu.float64Precision, "float32");
  const x = gpu.upload(Float64Array.of(0.1, 1e-50, 2), "float64");
  const back = await gpu.read(view(x, [3], "float64"));
  assert.ok(back instanceof Float64Array);
  assert.deepEqual([...back], [Math.fround(0.1), 0, 2]);
});

Deno.test("bool storages hold one u32 per element and read back as 0/1 bytes", async () => {
  const m = gpu.upload(Uint8Array.of(1, 0, 7, 0, 1), "bool");
  assert.equal(m.byteLength, 20);
  const back = await gpu.read(view(m, [5], "bool"));
  assert.ok(back instanceof Uint8Array);
  assert.deepEqual([...back], [1, 0, 1, 0, 1]);
  // a strided bool view reads through the copy kernel
  const strided = await gpu.read({ storage: m, dtype: "bool", shape: [2], strides: [2], offset: 1 });
  assert.deepEqual([...strided], [0, 0]);
});

Deno.test("the float16 kernels are generated with f16 storage and f32 arithmetic", () => {
  const wgsl = elementwiseSource("binary", "add", "float32", true);
  assert.match(wgsl, /^enable f16;/);
  assert.match(wgsl, /var<storage, read> in0: array<f16>;/);
  assert.match(wgsl, /var<storage, read_write> out: array<f16>;/);
  assert.match(wgsl, /let v0: f32 = f32\(in0\[o0\]\);/);
  assert.match(wgsl, /out\[o2\] = f16\(f\(v0, v1\)\);/);
  const plain = elementwiseSource("binary", "add", "float32", false);
  assert.doesNotMatch(plain, /f16/);
  // integers and bools keep 32-bit storage under float16Storage
  assert.doesNotMatch(elementwiseSource("binary", "mul", "int32", true), /f16/);
  assert.match(elementwiseSource("unary", "isnan", "float32", true), /out: array<u32>/);
});

Deno.test({
  name: "float16 storage computes in float32 and rounds to half on store",
  ignore: !hasF16,
  async fn() {
    const half = await WebGpuBackend.create({ name: "webgpu-f16", float16Storage: true });
    const x = half.upload(Float32Array.of(1, 0.1, 65504, 1e-8, -2.5, 3), "float32");
    assert.equal(x.byteLength, 12);
    assert.deepEqual([...await half.read(view(x, [6]))], [1, 0.0999755859375, 65504, 0, -2.5, 3]);
    const y = half.binary("mul", view(x, [6]), 2, [6], "float32");
    assert.deepEqual([...await half.read(view(y, [6]))], [2, 0.199951171875, Infinity, 0, -5, 6]);
    const s = half.reduce("sum", { ...view(x, [2, 3]) }, [1]);
    assert.deepEqual([...await half.read(view(s, [2]))], [65504, 0.5]);
    // atomic adds on halves: two halves share a word
    const z = half.fill(4, 0, "float32");
    const idx = half.upload(Int32Array.of(1, 1, 2, 3, 1), "int32");
    half.scatter(view(z, [4]), view(idx, [5], "int32"), 0.5, true);
    assert.deepEqual([...await half.read(view(z, [4]))], [0, 1.5, 0.5, 0.5]);
    half.destroy();
  },
});

Deno.test("float16Storage is refused with a clear error when the adapter lacks shader-f16", async () => {
  if (hasF16) {
    const fake = { features: new Set<string>(), limits: adapter!.limits } as unknown as GPUAdapter;
    await assert.rejects(
      WebGpuBackend.create({ adapter: fake, float16Storage: true }),
      (e: unknown) => e instanceof BackendError && /shader-f16/.test(e.message),
    );
  } else {
    await assert.rejects(WebGpuBackend.create({ float16Storage: true }), /shader-f16/);
  }
});

Deno.test({
  name: "every kernel family runs on float16 storage and agrees with float32 to half precision",
  ignore: !hasF16,
  async fn() {
    const half = await WebGpuBackend.create({ name: "webgpu-f16-all", float16Storage: true });
    const data = Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => Math.sin(i * 1.7) * 2);
    const shape = [2, 3, 8, 8];
    const run = async (b: WebGpuBackend) => {
      const x = b.upload(data, "float32");
      const v: View = view(x, shape);
      const t: View = { ...v, shape: [2, 3, 8, 8], strides: [192, 64, 1, 8] }; // last two dims transposed
      const w = b.upload(data.slice(0, 3 * 3 * 3 * 3), "float32");
      const geometry = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } as const;
      const pool = {
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
        dilation: [1, 1],
        ceilMode: false,
        outSize: [4, 4],
      } as const;
      const conv = b.fused.conv2d!(t, view(w, [3, 3, 3, 3]), geometry, [2, 3, 8, 8]);
      const mp = b.fused.maxPool2d!(v, pool);
      const idx = b.upload(Int32Array.of(3, 3, 0, 100), "int32");
      const target = b.fill(8, 0, "float32");
      b.scatter(view(target, [8]), view(idx, [4], "int32"), 0.25, true);
      const results: [Storage, number[], DType][] = [
        [b.reduce("sum", t, [1, 3]), [2, 8], "float32"],
        [b.reduce("max", v, [0, 1, 2, 3]), [], "float32"],
        [b.argReduce("argmax", t, 3), [2, 3, 8], "int32"],
        [b.matmul({ ...v, shape: [6, 8, 8], strides: [64, 8, 1] }, { ...t, shape: [6, 8, 8], strides: [64, 1, 8] }), [
          384,
        ], "float32"],
        [conv, [384], "float32"],
        [b.fused.conv2dBackwardInput!(view(conv, shape), view(w, [3, 3, 3, 3]), geometry, shape), [384], "float32"],
        [b.fused.conv2dBackwardWeight!(v, view(conv, shape), geometry, [3, 3, 3, 3]), [81], "float32"],
        [mp.values, [96], "float32"],
        [b.fused.maxPool2dBackward!(view(mp.values, [2, 3, 4, 4]), view(mp.indices, [2, 3, 4, 4], "int32"), shape), [
          384,
        ], "float32"],
        [b.fused.avgPool2d!(t, pool, { countIncludePad: true }), [96], "float32"],
        [b.fused.softmax!(t, 2, true), [384], "float32"],
        [b.gather(t, view(idx, [3], "int32")), [3], "float32"],
        [target, [8], "float32"],
        [b.unary("erf", t), [384], "float32"],
        [b.cast(t, "int32"), [384], "int32"],
      ];
      return await Promise.all(results.map(([s, sh, dt]) => b.read(view(s, sh, dt))));
    };
    const [got, want] = [await run(half), await run(gpu)];
    for (let k = 0; k < want.length; k++) {
      for (let i = 0; i < want[k].length; i++) {
        const a = got[k][i], e = want[k][i];
        // the convolutions sum dozens of half-rounded products of values up to ~10
        // (and truncation to int32 can land on the other side of an integer)
        const atol = k >= 4 && k <= 6 ? 0.15 : k === 14 ? 1 : 0.02;
        assert.ok(Math.abs(a - e) <= atol + 0.01 * Math.abs(e), `result ${k} element ${i}: ${a} (half) vs ${e}`);
      }
    }
    half.destroy();
  },
});

Deno.test("host-side half conversion rounds to nearest even and keeps subnormals, infinities and NaN", () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00], // halfway to the next binade: rounds up to infinity
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway to zero: ties to even
    [3 * 2 ** -25, 0x0002],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1 + 2^-10: even mantissa
    [1 + 3 * 2 ** -11, 0x3c02],
    [0.1, 0x2e66],
  ];
  for (const [value, bits] of cases) {
    assert.equal(toHalfBits(value), bits, `toHalfBits(${value})`);
  }
  assert.ok(Number.isNaN(fromHalfBits(toHalfBits(NaN))));
  assert.equal(fromHalfBits(0x3555), 0.333251953125);
  assert.equal(fromHalfBits(0x0001), 2 ** -24);
  assert.equal(fromHalfBits(0x7bff), 65504);
  assert.equal(fromHalfBits(0xfc00), -Infinity);
  assert.deepEqual([...packHalf([1, -2])], [0x3c00, 0xc000]);
});
