// Every WebGPU kernel against the CPU backend (the living definition of the
// ops' semantics) on strided, broadcast and offset views, with NaN, infinity
// and integer edge cases; plus the values PyTorch gives where they matter.

import assert from "node:assert/strict";
import {
  type Backend,
  BINARY_OP_KIND,
  type BinaryOp,
  contiguousStrides,
  type DataArray,
  type DType,
  numel,
  type Operand,
  type ReduceOp,
  type Shape,
  type Storage,
  UNARY_OP_INFO,
  type UnaryOp,
  type View,
} from "@flint/backend";
import * as torch from "@flint/torch";
import { WebGpuBackend } from "./backend.ts";

const cpu: Backend = torch.device("cpu").backend;
const gpu = await WebGpuBackend.create({ name: "webgpu-kernels" });

// ---- building the same view on both backends ----

let seed = 12345;
function random(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
}

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-20, 1e20, 3, -1];

function values(dtype: DType, n: number, special: boolean): number[] {
  return Array.from({ length: n }, (_, i) => {
    if (dtype === "bool") return random() < 0.5 ? 1 : 0;
    if (dtype === "int32") {
      return special && i % 5 === 0 ? [2147483647, -2147483648, 0, -7, 7][i % 4] : Math.floor(random() * 21) - 10;
    }
    if (special && i % 3 === 0) return SPECIAL[(i / 3) % SPECIAL.length];
    return Math.fround((random() - 0.5) * 8);
  });
}

function typed(dtype: DType, data: number[]): DataArray {
  return dtype === "float32"
    ? Float32Array.from(data)
    : dtype === "float64"
    ? Float64Array.from(data)
    : dtype === "int32"
    ? Int32Array.from(data)
    : Uint8Array.from(data);
}

/** A layout of a view of `shape` over a bigger storage. */
type Layout = "contiguous" | "transposed" | "strided" | "broadcast";
const LAYOUTS: Layout[] = ["contiguous", "transposed", "strided", "broadcast"];

interface Pair {
  cpu: View;
  gpu: View;
}

/** The same view, with the same elements, on both backends. */
function pair(dtype: DType, shape: Shape, layout: Layout, special = true, data?: number[]): Pair {
  let strides: number[], offset = 0, size: number;
  const rank = shape.length;
  if (layout === "contiguous" || rank === 0) {
    strides = contiguousStrides(shape);
    size = numel(shape);
  } else if (layout === "transposed") {
    // row-major over the reversed dims
    const reversed = [...shape].reverse();
    strides = contiguousStrides(reversed).reverse();
    size = numel(shape);
  } else if (layout === "strided") {
    // every other element of the last dim, starting at an offset
    const wide = [...shape.slice(0, -1), shape[rank - 1] * 2];
    strides = contiguousStrides(wide);
    strides[rank - 1] = 2;
    offset = 3;
    size = numel(wide) + offset;
  } else {
    // the first dim repeats one row (stride 0)
    const inner = shape.slice(1);
    strides = [0, ...contiguousStrides(inner)];
    offset = 1;
    size = numel(inner) + 1;
  }
  const elems = data ?? values(dtype, size, special);
  const arr = typed(dtype, elems);
  const make = (b: Backend): View => ({ storage: b.upload(arr, dtype), dtype, shape, strides, offset });
  return { cpu: make(cpu), gpu: make(gpu) };
}

function contiguousView(storage: Storage, shape: Shape, dtype: DType): View {
  return { storage, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

async function readBoth(c: Storage, g: Storage, shape: Shape, dtype: DType): Promise<[DataArray, DataArray]> {
  const expected = cpu.readSync!(contiguousView(c, shape, dtype));
  const actual = await gpu.read(contiguousView(g, shape, dtype));
  return [actual, expected];
}

function assertClose(actual: DataArray, expected: DataArray, what: string, rtol = 1e-5, atol = 1e-6): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = Number(actual[i]), e = Number(expected[i]);
    const ok = Number.isNaN(e)
      ? Number.isNaN(a)
      : !Number.isFinite(e)
      ? a === e
      : Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) assert.fail(`${what}: element ${i} is ${a}, the CPU gives ${e}`);
  }
}

// ---- element-wise ----

const UNARY_TOLERANCE: Partial<Record<UnaryOp, number>> = { tan: 1e-4, erf: 1e-6, exp: 1e-6, sigmoid: 1e-6 };

Deno.test("every unary op matches the CPU on strided float views, NaN and infinities included", async () => {
  for (const op of Object.keys(UNARY_OP_INFO) as UnaryOp[]) {
    const info = UNARY_OP_INFO[op];
    const dtypes: DType[] = info.input === "bool" ? ["bool"] : info.input === "float" ? ["float32"] : [
      "float32",
      "int32",
      "bool",
    ];
    for (const dtype of dtypes) {
      for (const layout of LAYOUTS) {
        const p = pair(dtype, [3, 7], layout);
        const outDtype = info.out === "bool" ? "bool" : dtype;
        const [a, e] = await readBoth(cpu.unary(op, p.cpu), gpu.unary(op, p.gpu), [3, 7], outDtype);
        // The CPU keeps bool storages' raw bytes (neg of true is 255); WebGPU stores 0/1 as PyTorch does.
        const expected = dtype === "bool" && outDtype === "bool" ? e.map((v) => (v !== 0 ? 1 : 0)) : e;
        assertClose(a, expected, `${op} ${dtype} ${layout}`, UNARY_TOLERANCE[op] ?? 2e-6, 1e-6);
      }
    }
  }
});

Deno.test("erf is accurate to float32 over the whole line", async () => {
  const xs = Array.from({ length: 2001 }, (_, i) => Math.fround(-6 + i * 0.006));
  xs.push(1e-30, -1e-10, 1e-5);
  const p = pair("float32", [xs.length], "contiguous", false, xs);
  const [a, e] = await readBoth(cpu.unary("erf", p.cpu), gpu.unary("erf", p.gpu), [xs.length], "float32");
  for (let i = 0; i < xs.length; i++) {
    assert.ok(Math.abs(a[i] - e[i]) <= 2.5e-7 + 2e-6 * Math.abs(e[i]), `erf(${xs[i]}) = ${a[i]}, expected ${e[i]}`);
  }
});

Deno.test("round is half to even, sign(NaN) is 0 and relu keeps NaN, as PyTorch", async () => {
  const xs = [0.5, 1.5, 2.5, -0.5, -2.5, NaN, -3, 4];
  const p = pair("float32", [xs.length], "contiguous", false, xs);
  const read = async (op: UnaryOp) => [...await gpu.read(contiguousView(gpu.unary(op, p.gpu), [xs.length], "float32"))];
  assert.deepEqual(await read("round"), [0, 2, 2, -0, -2, NaN, -3, 4]);
  assert.deepEqual(await read("sign"), [1, 1, 1, -1, -1, 0, -1, 1]);
  assert.deepEqual(await read("relu"), [0.5, 1.5, 2.5, 0, 0, NaN, 0, 4]);
});

/**
 * The CPU's pow is JavaScript's Math.pow, which gives NaN for 1 ** NaN and
 * (-1) ** ±inf; PyTorch (C's pow) and WebGPU give 1.
 */
function cPow(a: View, b: View, e: DataArray, shape: number[]): DataArray {
  const av = cpu.readSync!({ ...a, shape, strides: broadcast(a, shape) });
  const bv = cpu.readSync!({ ...b, shape, strides: broadcast(b, shape) });
  return e.map((v, i) => (av[i] === 1 || (av[i] === -1 && !Number.isFinite(bv[i]) && !Number.isNaN(bv[i])) ? 1 : v));
}

/**
 * PyTorch's float floor division (div_floor: from the exact fmod), which
 * differs from the CPU's Math.floor(a / b) at infinities: (-inf) // 2 is NaN
 * and -5 // inf is -1.
 */
function torchFloorDivide(a: View, b: View | number, shape: number[]): DataArray {
  const av = cpu.readSync!({ ...a, shape, strides: broadcast(a, shape) });
  const bv = typeof b === "number" ? null : cpu.readSync!({ ...b, shape, strides: broadcast(b, shape) });
  return Float64Array.from(av, (x, i) => {
    const y = bv === null ? (b as number) : bv[i];
    if (y === 0) return x / y;
    const m = x % y;
    let d = (x - m) / y;
    if (m !== 0 && (y < 0) !== (m < 0)) d -= 1;
    if (d === 0) return (x < 0) !== (y < 0) ? -0 : 0;
    let q = Math.floor(d);
    if (d - q > 0.5) q += 1;
    return Math.fround(q);
  });
}

function broadcast(v: View, shape: number[]): number[] {
  return v.shape.length === shape.length ? [...v.strides] : contiguousStrides(shape);
}

/** Binary ops the CPU throws on for a zero int32 divisor (PyTorch does too). */
const INT_DIVIDES: BinaryOp[] = ["floorDivide", "remainder", "div"];

Deno.test("every binary op matches the CPU on broadcast views and scalars", async () => {
  for (const op of Object.keys(BINARY_OP_KIND) as BinaryOp[]) {
    const kind = BINARY_OP_KIND[op];
    const dtypes: DType[] = kind === "logical" ? ["bool"] : ["float32", "int32"];
    for (const dtype of dtypes) {
      for (const layout of LAYOUTS) {
        const shape = [4, 6];
        // int32 pow of huge bases: the CPU's Math.pow rounds before wrapping; WebGPU wraps exactly as PyTorch.
        const a = pair(dtype, shape, layout, !(dtype === "int32" && op === "pow"));
        let b = pair(dtype, shape, layout === "transposed" ? "strided" : "transposed");
        if (dtype === "int32" && INT_DIVIDES.includes(op)) {
          const data = values("int32", 64, false).map((v) => (v === 0 ? 3 : v));
          b = pair(dtype, shape, "transposed", false, data);
        }
        if (dtype === "int32" && op === "pow") {
          b = pair(
            dtype,
            shape,
            "contiguous",
            false,
            values("int32", 24, false).map((v) => Math.abs(v) % 5),
          );
        }
        const outDtype = kind === "arith" ? dtype : "bool";
        const [x, e] = await readBoth(
          cpu.binary(op, a.cpu, b.cpu, shape, dtype),
          gpu.binary(op, a.gpu, b.gpu, shape, dtype),
          shape,
          outDtype,
        );
        const expected = dtype !== "float32"
          ? e
          : op === "pow"
          ? cPow(a.cpu, b.cpu, e, shape)
          : op === "floorDivide"
          ? torchFloorDivide(a.cpu, b.cpu, shape)
          : e;
        assertClose(x, expected, `${op} ${dtype} ${layout}`, op === "pow" ? 1e-5 : 2e-6, 1e-6);
        const scalar = dtype === "bool" ? 1 : dtype === "int32" ? 3 : 0.75;
        const [xs, es] = await readBoth(
          cpu.binary(op, a.cpu, scalar, shape, dtype),
          gpu.binary(op, a.gpu, scalar, shape, dtype),
          shape,
          outDtype,
        );
        const expectedScalar = dtype === "float32" && op === "floorDivide"
          ? torchFloorDivide(a.cpu, scalar, shape)
          : es;
        assertClose(xs, expectedScalar, `${op} ${dtype} ${layout} with a scalar`, op === "pow" ? 1e-5 : 2e-6, 1e-6);
      }
    }
  }
});

Deno.test("int32 arithmetic wraps, divides toward minus infinity and takes the divisor's sign", async () => {
  const a = pair("int32", [6], "contiguous", false, [2147483647, -7, 7, -7, 7, -2147483648]);
  const b = pair("int32", [6], "contiguous", false, [2, 2, -2, -2, 3, -1]);
  const run = async (
    op: BinaryOp,
  ) => [...await gpu.read(contiguousView(gpu.binary(op, a.gpu, b.gpu, [6], "int32"), [6], "int32"))];
  assert.deepEqual(await run("mul"), [-2, -14, -14, 14, 21, -2147483648]);
  assert.deepEqual(await run("floorDivide"), [1073741823, -4, -4, 3, 2, -2147483648]);
  assert.deepEqual(await run("remainder"), [1, 1, -1, -1, 1, 0]);
  assert.deepEqual(await run("add"), [-2147483647, -5, 5, -9, 10, 2147483647]);
  const p = pair("int32", [4], "contiguous", false, [-2, 3, 1, 2]);
  const e = pair("int32", [4], "contiguous", false, [31, 3, -1, -1]);
  const pow = await gpu.read(contiguousView(gpu.binary("pow", p.gpu, e.gpu, [4], "int32"), [4], "int32"));
  assert.deepEqual([...pow], [-2147483648, 27, 1, 0]);
});

Deno.test("float ops follow PyTorch at the edges: pow of a negative base, maximum with NaN, ne with NaN", async () => {
  const a = pair("float32", [7], "contiguous", false, [1, -1, -Infinity, -0, -2, NaN, 3]);
  const b = pair("float32", [7], "contiguous", false, [NaN, Infinity, 0.5, -1, 3, 1, NaN]);
  const run = async (
    op: BinaryOp,
    dtype: DType = "float32",
  ) => [...await gpu.read(contiguousView(gpu.binary(op, a.gpu, b.gpu, [7], "float32"), [7], dtype))];
  assert.deepEqual(await run("pow"), [1, 1, Infinity, -Infinity, -8, NaN, NaN]);
  assert.deepEqual(await run("maximum"), [NaN, Infinity, 0.5, -0, 3, NaN, NaN]);
  assert.deepEqual(await run("ne", "bool"), [1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(await run("eq", "bool"), [0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("cast converts between every pair of dtypes as the CPU does (C truncation, NaN is true)", async () => {
  const dtypes: DType[] = ["float32", "float64", "int32", "bool"];
  for (const from of dtypes) {
    for (const to of dtypes) {
      const data = from === "float32" || from === "float64"
        ? [1.7, -1.7, 0, -0, NaN, 2.5, -3.5, 1e9, 0.25]
        : from === "int32"
        ? [0, 1, -1, 7, 2147483647, -2147483648, 3, 4, 5]
        : [0, 1, 1, 0, 1, 0, 0, 1, 1];
      const p = pair(from, [3, 3], "transposed", false, data);
      const [a, e] = await readBoth(cpu.cast(p.cpu, to), gpu.cast(p.gpu, to), [3, 3], to);
      const expected = to === "float64" || to === "float32" ? e.map((v) => Math.fround(v)) : e;
      assertClose(a, expected, `cast ${from} → ${to}`, 0, 0);
    }
  }
});

Deno.test("where selects over broadcast condition, tensor and scalar operands", async () => {
  for (const dtype of ["float32", "int32", "bool"] as DType[]) {
    const c = pair("bool", [5, 4], "broadcast");
    const a = pair(dtype, [5, 4], "transposed");
    const scalar = dtype === "float32" ? -1.5 : dtype === "int32" ? 9 : 0;
    for (const b of [scalar, pair(dtype, [5, 4], "strided")] as (number | Pair)[]) {
      const bc: Operand = typeof b === "number" ? b : b.cpu, bg: Operand = typeof b === "number" ? b : b.gpu;
      const [x, e] = await readBoth(
        cpu.where(c.cpu, a.cpu, bc, [5, 4], dtype),
        gpu.where(c.gpu, a.gpu, bg, [5, 4], dtype),
        [5, 4],
        dtype,
      );
      assertClose(x, e, `where ${dtype}`, 0, 0);
    }
  }
});

Deno.test("copy writes through strided destinations from broadcast and overlapping sources", async () => {
  // dst: the odd columns of a [4, 6] storage; src: one row broadcast over the rows
  const dst = pair("float32", [4, 3], "strided", false, Array.from({ length: 27 }, (_, i) => i));
  const src = pair("float32", [4, 3], "broadcast", false, [100, 1, 2, 3]);
  cpu.copy(dst.cpu, src.cpu);
  gpu.copy(dst.gpu, src.gpu);
  const whole = (v: View): View => ({ ...v, shape: [27], strides: [1], offset: 0 });
  assertClose(await gpu.read(whole(dst.gpu)), cpu.readSync!(whole(dst.cpu)), "copy strided", 0, 0);
  gpu.copy(dst.gpu, 7);
  cpu.copy(dst.cpu, 7);
  assertClose(await gpu.read(whole(dst.gpu)), cpu.readSync!(whole(dst.cpu)), "copy scalar", 0, 0);
  // shift a row right by one within the same storage: the source is read before it is overwritten
  const row = gpu.upload(Float32Array.of(1, 2, 3, 4, 5), "float32");
  gpu.copy(
    { storage: row, dtype: "float32", shape: [4], strides: [1], offset: 1 },
    { storage: row, dtype: "float32", shape: [4], strides: [1], offset: 0 },
  );
  assert.deepEqual([...await gpu.read(contiguousView(row, [5], "float32"))], [1, 1, 2, 3, 4]);
});

Deno.test("element-wise ops handle ranks beyond 8 on permuted views", async () => {
  const shape = [2, 1, 2, 3, 1, 2, 2, 1, 2, 3];
  const a = pair("float32", shape, "transposed");
  const b = pair("float32", shape, "strided");
  const [x, e] = await readBoth(
    cpu.binary("sub", a.cpu, b.cpu, shape, "float32"),
    gpu.binary("sub", a.gpu, b.gpu, shape, "float32"),
    shape,
    "float32",
  );
  assertClose(x, e, "rank-10 sub");
  const [s, se] = await readBoth(cpu.reduce("sum", a.cpu, [0, 3, 9]), gpu.reduce("sum", a.gpu, [0, 3, 9]), [
    numel(shape) / 18,
  ], "float32");
  assertClose(s, se, "rank-10 sum", 1e-5, 1e-5);
});

// ---- reductions ----

Deno.test("every reduction matches the CPU over any axis set, for short and long reductions", async () => {
  const ops: ReduceOp[] = ["sum", "prod", "max", "min", "any", "all"];
  const cases: { shape: number[]; axes: number[] }[] = [
    { shape: [3, 4, 5], axes: [1] },
    { shape: [3, 4, 5], axes: [0, 2] },
    { shape: [3, 4, 5], axes: [0, 1, 2] },
    { shape: [2, 300], axes: [1] }, // long rows: one workgroup per output
    { shape: [700, 3], axes: [0] },
    { shape: [40, 50], axes: [0] },
    { shape: [0, 4], axes: [0] },
  ];
  for (const op of ops) {
    for (const dtype of ["float32", "int32", "bool"] as DType[]) {
      for (const { shape, axes } of cases) {
        for (const layout of ["contiguous", "transposed", "broadcast"] as Layout[]) {
          const special = op === "max" || op === "min" || op === "any" || op === "all";
          const data = op === "prod" && dtype !== "bool"
            ? values(dtype, 2 * numel(shape) + 2, false).map((
              v,
            ) => (dtype === "int32" ? (v % 2 === 0 ? 1 : -1) : 1 + v / 400))
            : undefined;
          const p = pair(dtype, shape, layout, special, data);
          const kept = shape.filter((_, d) => !axes.includes(d));
          const outDtype = op === "any" || op === "all" ? "bool" : dtype;
          const [a, e] = await readBoth(cpu.reduce(op, p.cpu, axes), gpu.reduce(op, p.gpu, axes), kept, outDtype);
          const expected = dtype === "bool" && outDtype === "bool" ? e.map((v) => (v !== 0 ? 1 : 0)) : e;
          assertClose(a, expected, `${op} ${dtype} ${layout} [${shape}] over [${axes}]`, 2e-5, 1e-4);
        }
      }
    }
  }
});

Deno.test("max and min propagate NaN; argmax and argmin take the first winner and the first NaN", async () => {
  const rows = [
    [1, 5, 5, 2],
    [1, NaN, 7, NaN],
    [-Infinity, -Infinity, -Infinity, -Infinity],
    [3, 1, 1, 3],
  ];
  const p = pair("float32", [4, 4], "contiguous", false, rows.flat());
  const read = async (s: Storage, dtype: DType) => [...await gpu.read(contiguousView(s, [4], dtype))];
  assert.deepEqual(await read(gpu.reduce("max", p.gpu, [1]), "float32"), [5, NaN, -Infinity, 3]);
  assert.deepEqual(await read(gpu.reduce("min", p.gpu, [1]), "float32"), [1, NaN, -Infinity, 1]);
  assert.deepEqual(await read(gpu.argReduce("argmax", p.gpu, 1), "int32"), [1, 1, 0, 0]);
  assert.deepEqual(await read(gpu.argReduce("argmin", p.gpu, 1), "int32"), [0, 1, 0, 1]);
  // long rows use the workgroup tree: the same rules
  const long = Array.from({ length: 1000 }, (_, i) => (i % 7 === 3 ? 9 : i % 5));
  long[600] = NaN;
  long[900] = NaN;
  const q = pair("float32", [2, 1000], "contiguous", false, [...long, ...long.map((v) => (Number.isNaN(v) ? 0 : -v))]);
  assert.deepEqual(
    [...await gpu.read(contiguousView(gpu.argReduce("argmax", q.gpu, 1), [2], "int32"))],
    [600, 0],
  );
  assert.deepEqual(
    [...await gpu.read(contiguousView(gpu.argReduce("argmin", q.gpu, 1), [2], "int32"))],
    [600, 3],
  );
});

Deno.test("argmax and argmin match the CPU along every axis of strided views", async () => {
  for (const dtype of ["float32", "int32"] as DType[]) {
    for (const layout of LAYOUTS) {
      for (const axis of [0, 1, 2]) {
        const shape = [3, 40, 5];
        const p = pair(dtype, shape, layout, false);
        const kept = shape.filter((_, d) => d !== axis);
        for (const op of ["argmax", "argmin"] as const) {
          const [a, e] = await readBoth(cpu.argReduce(op, p.cpu, axis), gpu.argReduce(op, p.gpu, axis), kept, "int32");
          assertClose(a, e, `${op} ${dtype} ${layout} axis ${axis}`, 0, 0);
        }
      }
    }
  }
});

Deno.test("sums accumulate in float32 by a tree, so a long sum of ones is exact", async () => {
  const n = 1 << 20;
  const ones = gpu.fill(n, 1, "float32");
  const s = await gpu.read(contiguousView(gpu.reduce("sum", contiguousView(ones, [n], "float32"), [0]), [], "float32"));
  assert.equal(s[0], n);
});

// ---- matmul ----

Deno.test("matmul matches the CPU for odd sizes, transposed operands and a broadcast batch", async () => {
  const cases: {
    a: [number, number, number];
    b: [number, number, number];
    at?: boolean;
    bt?: boolean;
    bb?: boolean;
  }[] = [
    { a: [1, 1, 1], b: [1, 1, 1] },
    { a: [1, 37, 45], b: [1, 45, 29] },
    { a: [3, 33, 17], b: [3, 17, 65], at: true },
    { a: [2, 8, 70], b: [2, 70, 5], bt: true, bb: true },
    { a: [2, 5, 0], b: [2, 0, 4] },
    // the larger tilings: tall (128×64 tiles), medium (64×64), wide (64×128)
    { a: [1, 200, 30], b: [1, 30, 70], bt: true },
    { a: [2, 70, 20], b: [2, 20, 70], at: true },
    { a: [1, 65, 9], b: [1, 9, 130] },
  ];
  for (const dtype of ["float32", "int32"] as DType[]) {
    for (const c of cases) {
      const make = (shape: [number, number, number], transposed?: boolean, broadcast?: boolean): Pair => {
        const [bt, r, k] = shape;
        const data = values(dtype, bt * r * k, false).map((v) => (dtype === "int32" ? v : v / 4));
        const p = pair(dtype, [bt * r * k], "contiguous", false, data);
        const strides = transposed ? [r * k, 1, r] : [r * k, k, 1];
        if (broadcast) strides[0] = 0;
        const as3 = (v: View): View => ({ ...v, shape, strides });
        return { cpu: as3(p.cpu), gpu: as3(p.gpu) };
      };
      const a = make(c.a, c.at), b = make(c.b, c.bt, c.bb);
      const out = [c.a[0], c.a[1], c.b[2]];
      const [x, e] = await readBoth(cpu.matmul(a.cpu, b.cpu), gpu.matmul(a.gpu, b.gpu), out, dtype);
      assertClose(x, e, `matmul ${dtype} ${JSON.stringify(c)}`, 1e-5, 1e-5);
    }
  }
});

// ---- indexing ----

Deno.test("gather reads row-major positions of strided views", async () => {
  for (const layout of LAYOUTS) {
    const x = pair("float32", [4, 5], layout);
    const idx = pair("int32", [3, 4], "transposed", false, [0, 19, 7, 7, 3, 12, 18, 1, 2, 5, 5, 10]);
    const [a, e] = await readBoth(cpu.gather(x.cpu, idx.cpu), gpu.gather(x.gpu, idx.gpu), [3, 4], "float32");
    assertClose(a, e, `gather ${layout}`, 0, 0);
  }
});

Deno.test("scatter keeps the last write of a repeated position, and accumulates every one with accumulate", async () => {
  for (const dtype of ["float32", "int32", "bool"] as DType[]) {
    for (const accumulate of [false, true]) {
      const dst = pair(dtype, [3, 4], "strided", false, values(dtype, 27, false));
      const idx = pair("int32", [8], "contiguous", false, [5, 0, 5, 11, 5, 2, 0, 7]);
      const src = pair(dtype, [8], "contiguous", false, values(dtype, 8, false));
      cpu.scatter(dst.cpu, idx.cpu, src.cpu, accumulate);
      gpu.scatter(dst.gpu, idx.gpu, src.gpu, accumulate);
      const whole = (v: View): View => ({ ...v, shape: [27], strides: [1], offset: 0 });
      const expected = cpu.readSync!(whole(dst.cpu));
      assertClose(await gpu.read(whole(dst.gpu)), expected, `scatter ${dtype} accumulate=${accumulate}`, 1e-6, 1e-6);
      cpu.scatter(dst.cpu, idx.cpu, 1, accumulate);
      gpu.scatter(dst.gpu, idx.gpu, 1, accumulate);
      assertClose(await gpu.read(whole(dst.gpu)), cpu.readSync!(whole(dst.cpu)), `scatter scalar ${dtype}`, 1e-6, 1e-6);
    }
  }
  // many float adds onto one element
  const n = 5000;
  const target = gpu.fill(2, 0, "float32");
  const ones = gpu.fill(n, 1, "int32");
  gpu.scatter(contiguousView(target, [2], "float32"), contiguousView(ones, [n], "int32"), 0.5, true);
  assert.deepEqual([...await gpu.read(contiguousView(target, [2], "float32"))], [0, n / 2]);
});

Deno.test("gather and scatter never touch memory outside the storage for out-of-range positions", async () => {
  const x = pair("float32", [4], "contiguous", false, [1, 2, 3, 4]);
  const idx = pair("int32", [3], "contiguous", false, [-1, 4, 2]);
  assert.deepEqual([...await gpu.read(contiguousView(gpu.gather(x.gpu, idx.gpu), [3], "float32"))], [0, 0, 3]);
  gpu.scatter(x.gpu, idx.gpu, 9, false);
  assert.deepEqual([...await gpu.read(x.gpu)], [1, 2, 9, 4]);
});

// ---- fused kernels ----

function softmaxReference(x: number[], shape: number[], axis: number, log: boolean): number[] {
  const out = new Array<number>(x.length);
  const strides = contiguousStrides(shape);
  const n = shape[axis], step = strides[axis];
  for (let base = 0; base < x.length; base++) {
    if (Math.floor(base / step) % n !== 0) continue;
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x[base + j * step]);
    if (!Number.isFinite(m)) m = 0;
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x[base + j * step] - m);
    for (let j = 0; j < n; j++) {
      const t = x[base + j * step] - m;
      out[base + j * step] = log ? t - Math.log(s) : Math.exp(t) / s;
    }
  }
  return out;
}

Deno.test("fused softmax and log-softmax match a float64 reference along every axis, short and long rows", async () => {
  for (const shape of [[3, 4, 5], [2, 300]]) {
    for (let axis = 0; axis < shape.length; axis++) {
      for (const log of [false, true]) {
        const data = values("float32", numel(shape), false);
        const p = pair("float32", shape, "contiguous", false, data);
        const out = gpu.fused.softmax!(p.gpu, axis, log);
        const got = await gpu.read(contiguousView(out, shape, "float32"));
        assertClose(
          got,
          Float64Array.from(softmaxReference(data, shape, axis, log)),
          `softmax ${shape} ${axis}`,
          1e-5,
          1e-6,
        );
        // backward: softmax: y·(g − Σ g·y); log-softmax: g − exp(y)·Σ g
        const g = values("float32", numel(shape), false);
        const gp = pair("float32", shape, "contiguous", false, g);
        const y = Array.from(got);
        const strides = contiguousStrides(shape);
        const expected = y.map((_, i) => {
          const step = strides[axis], n = shape[axis];
          const base = i - (Math.floor(i / step) % n) * step;
          let s = 0;
          for (let j = 0; j < n; j++) s += log ? g[base + j * step] : g[base + j * step] * y[base + j * step];
          return log ? g[i] - Math.exp(y[i]) * s : y[i] * (g[i] - s);
        });
        const back = gpu.fused.softmaxBackward!(gp.gpu, contiguousView(out, shape, "float32"), axis, log);
        assertClose(
          await gpu.read(contiguousView(back, shape, "float32")),
          Float64Array.from(expected),
          "softmax bwd",
          1e-4,
          1e-5,
        );
      }
    }
  }
  // rows of -inf give NaN, a row with +inf shifts by 0, a NaN row is NaN
  const p = pair("float32", [3, 2], "contiguous", false, [-Infinity, -Infinity, Infinity, 1, NaN, 0]);
  const s = await gpu.read(contiguousView(gpu.fused.softmax!(p.gpu, 1, false), [3, 2], "float32"));
  assert.deepEqual([...s], [NaN, NaN, NaN, 0, NaN, NaN]);
});

Deno.test("fused conv2d and its gradients match the CPU's for stride, padding, dilation and groups", async () => {
  const geometries = [
    { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 },
    { stride: [2, 1], padding: [1, 2], dilation: [1, 1], groups: 1 },
    { stride: [2, 2], padding: [1, 1], dilation: [2, 1], groups: 2 },
    { stride: [1, 3], padding: [2, 0], dilation: [1, 2], groups: 4 },
    { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, big: true },
  ] as const;
  for (const { big, ...geometry } of geometries.map((g) => ({ big: false, ...g }))) {
    // `big`: 144 pixels × 64 channels, so the products use the larger tiles
    const [N, C, H, W, O, kH, kW] = big ? [1, 5, 12, 12, 64, 3, 3] : [2, 4, 7, 8, 8, 3, 2];
    const [sH, sW] = geometry.stride, [pH, pW] = geometry.padding, [dH, dW] = geometry.dilation;
    const oH = Math.floor((H + 2 * pH - dH * (kH - 1) - 1) / sH) + 1;
    const oW = Math.floor((W + 2 * pW - dW * (kW - 1) - 1) / sW) + 1;
    const xShape = [N, C, H, W], wShape = [O, C / geometry.groups, kH, kW], oShape = [N, O, oH, oW];
    const x = pair("float32", xShape, "transposed", false);
    const w = pair("float32", wShape, "contiguous", false);
    const g = pair("float32", oShape, "strided", false);
    const what = JSON.stringify(geometry);
    // float32 sums of hundreds of products of values up to 4 (the CPU sums in float64)
    const tol = big ? 5e-4 : 1e-5;
    let [a, e] = await readBoth(
      cpu.fused.conv2d!(x.cpu, w.cpu, geometry, oShape),
      gpu.fused.conv2d!(x.gpu, w.gpu, geometry, oShape),
      oShape,
      "float32",
    );
    assertClose(a, e, `conv2d ${what}`, 1e-5, tol);
    [a, e] = await readBoth(
      cpu.fused.conv2dBackwardInput!(g.cpu, w.cpu, geometry, xShape),
      gpu.fused.conv2dBackwardInput!(g.gpu, w.gpu, geometry, xShape),
      xShape,
      "float32",
    );
    assertClose(a, e, `conv2dBackwardInput ${what}`, 1e-5, tol);
    [a, e] = await readBoth(
      cpu.fused.conv2dBackwardWeight!(x.cpu, g.cpu, geometry, wShape),
      gpu.fused.conv2dBackwardWeight!(x.gpu, g.gpu, geometry, wShape),
      wShape,
      "float32",
    );
    assertClose(a, e, `conv2dBackwardWeight ${what}`, 1e-5, tol);
  }
});

Deno.test("fused max and average pooling and their gradients match the CPU's", async () => {
  const geometries = [
    { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: false },
    { kernel: [3, 3], stride: [2, 1], padding: [1, 1], dilation: [1, 1], ceilMode: true },
    { kernel: [3, 2], stride: [1, 2], padding: [1, 0], dilation: [2, 1], ceilMode: false },
  ] as const;
  const [N, C, H, W] = [2, 3, 7, 6];
  for (const g0 of geometries) {
    const out = [0, 1].map((d) => {
      const size = [H, W][d], k = g0.kernel[d], s = g0.stride[d], p = g0.padding[d], dl = g0.dilation[d];
      const span = size + 2 * p - dl * (k - 1) - 1;
      let o = (g0.ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      if (g0.ceilMode && (o - 1) * s >= size + p) o--;
      return o;
    }) as [number, number];
    const geometry = { ...g0, outSize: out };
    const x = pair("float32", [N, C, H, W], "transposed", true);
    const oShape = [N, C, out[0], out[1]];
    const what = JSON.stringify(geometry);
    const mc = cpu.fused.maxPool2d!(x.cpu, geometry), mg = gpu.fused.maxPool2d!(x.gpu, geometry);
    let [a, e] = await readBoth(mc.values, mg.values, oShape, "float32");
    assertClose(a, e, `maxPool2d ${what}`, 0, 0);
    [a, e] = await readBoth(mc.indices, mg.indices, oShape, "int32");
    assertClose(a, e, `maxPool2d indices ${what}`, 0, 0);
    const g = pair("float32", oShape, "contiguous", false);
    const iv = (s: Storage) => contiguousView(s, oShape, "int32");
    [a, e] = await readBoth(
      cpu.fused.maxPool2dBackward!(g.cpu, iv(mc.indices), [N, C, H, W]),
      gpu.fused.maxPool2dBackward!(g.gpu, iv(mg.indices), [N, C, H, W]),
      [N, C, H, W],
      "float32",
    );
    assertClose(a, e, `maxPool2dBackward ${what}`, 1e-6, 1e-6);
    if (g0.dilation[0] !== 1 || g0.dilation[1] !== 1) continue;
    for (
      const options of [{ countIncludePad: true }, { countIncludePad: false }, {
        countIncludePad: false,
        divisorOverride: 3,
      }]
    ) {
      const xf = pair("float32", [N, C, H, W], "strided", false);
      [a, e] = await readBoth(
        cpu.fused.avgPool2d!(xf.cpu, geometry, options),
        gpu.fused.avgPool2d!(xf.gpu, geometry, options),
        oShape,
        "float32",
      );
      assertClose(a, e, `avgPool2d ${what} ${JSON.stringify(options)}`, 1e-5, 1e-6);
      [a, e] = await readBoth(
        cpu.fused.avgPool2dBackward!(g.cpu, geometry, options, [N, C, H, W]),
        gpu.fused.avgPool2dBackward!(g.gpu, geometry, options, [N, C, H, W]),
        [N, C, H, W],
        "float32",
      );
      assertClose(a, e, `avgPool2dBackward ${what} ${JSON.stringify(options)}`, 1e-5, 1e-6);
    }
  }
});

Deno.test("fused Adam, AdamW and SGD steps update parameters and state as the CPU's do", async () => {
  const shape = [5, 7];
  const adamOptions = [
    {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0,
      decoupledWeightDecay: false,
      amsgrad: false,
      maximize: false,
    },
    {
      lr: 0.1,
      beta1: 0.8,
      beta2: 0.99,
      eps: 1e-6,
      weightDecay: 0.05,
      decoupledWeightDecay: false,
      amsgrad: true,
      maximize: true,
    },
    {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.01,
      decoupledWeightDecay: true,
      amsgrad: true,
      maximize: false,
    },
  ];
  for (const base of adamOptions) {
    const fresh = (special = false) => pair("float32", shape, "contiguous", special);
    const p = pair("float32", shape, "transposed", false),
      m = fresh(),
      v = pair("float32", shape, "contiguous", false, new Array(35).fill(0.5));
    const vmax = pair("float32", shape, "contiguous", false, new Array(35).fill(0.25));
    for (let step = 1; step <= 3; step++) {
      const g = pair("float32", shape, "strided", false);
      const o = { ...base, step };
      cpu.fused.adamStep!(p.cpu, g.cpu, m.cpu, v.cpu, vmax.cpu, o);
      gpu.fused.adamStep!(p.gpu, g.gpu, m.gpu, v.gpu, vmax.gpu, o);
    }
    for (const [name, t] of Object.entries({ p, m, v, vmax })) {
      assertClose(await gpu.read(t.gpu), cpu.readSync!(t.cpu), `adam ${name} ${JSON.stringify(base)}`, 1e-5, 1e-6);
    }
  }
  const sgdOptions = [
    { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: false, maximize: true },
    { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true, maximize: false },
  ];
  for (const base of sgdOptions) {
    const p = pair("float32", shape, "strided", false);
    const buf = pair("float32", shape, "contiguous", false);
    for (let step = 1; step <= 3; step++) {
      const g = pair("float32", shape, "transposed", false);
      const o = { ...base, firstStep: step === 1 };
      cpu.fused.sgdStep!(p.cpu, g.cpu, buf.cpu, o);
      gpu.fused.sgdStep!(p.gpu, g.gpu, buf.gpu, o);
    }
    assertClose(await gpu.read(p.gpu), cpu.readSync!(p.cpu), `sgd param ${JSON.stringify(base)}`, 1e-5, 1e-6);
    assertClose(await gpu.read(buf.gpu), cpu.readSync!(buf.cpu), `sgd buffer ${JSON.stringify(base)}`, 1e-5, 1e-6);
  }
});
