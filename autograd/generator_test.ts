// Tests for Generator against PyTorch 1.13 (tests/fixtures/random.json, written by
// tests/fixtures/make_random_fixtures.py on x86-64 with torch's AVX2 kernels).
//
// Everything is compared bit for bit (Object.is, so signed zeros count), including the float32 normal_ fill
// path (the AVX2 polynomial code is emulated operation by operation), except float64 normals, which use
// JavaScript's Math.log/sin/cos where torch uses glibc's: those are checked to within 2 ulp.

import assert from "node:assert/strict";
import { DEFAULT_SEED, Generator } from "./generator.ts";

// ---------------------------------------------------------------------------------------------------
// fixture types and helpers

type Dtype = "float32" | "float64" | "int64" | "int32" | "bool" | "uint8";
interface Step {
  op: "uniform" | "normal" | "randint" | "randperm" | "bernoulli";
  dtype?: Dtype;
  n: number;
  low?: number;
  high?: number;
  mean?: number;
  std?: number;
  p?: number;
  repeat?: number;
  values?: number[];
  checksum?: number;
  samples?: [number, number][];
}
interface Sequence {
  name: string;
  seed?: number;
  words?: number[];
  steps: Step[];
}
interface Fixture {
  meta: Record<string, string>;
  seeds: { seed: string | null; initial_seed?: string; rand?: number[]; error?: string }[];
  sequences: Sequence[];
  crafted: Sequence[];
  exhaustive_avx2: { batch: number; batches_per_sweep: number; words: number; checksum: number };
  linear: {
    seed: number;
    in: number;
    out: number;
    weight_bound: number;
    bias_bound: number;
    weight: number[];
    bias: number[];
    next_rand: number;
  }[];
  dropout: {
    seed: number;
    p: number;
    dtype: "float32" | "float64";
    x: number[];
    output: number[];
    mask: number[];
    scale: number;
    next_rand: number;
  }[];
}

const fixture: Fixture = JSON.parse(
  await Deno.readTextFile(new URL("../tests/fixtures/random.json", import.meta.url)),
);

type Out = Float32Array | Float64Array | Int32Array | Uint8Array;

function makeArray(dtype: Dtype | undefined, n: number): Out {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
    case "int64": // int64 tensors hold integers below 2^53 here: a Float64Array stores them exactly
      return new Float64Array(n);
    case "int32":
      return new Int32Array(n);
    case "bool":
    case "uint8":
      return new Uint8Array(n);
    default:
      throw new Error(`no dtype ${dtype}`);
  }
}

function runStep(g: Generator, step: Step, out: Out = makeArray(step.dtype ?? "int64", step.n)): Out {
  switch (step.op) {
    case "uniform":
      g.uniform(out as Float32Array | Float64Array, step.low, step.high);
      return out;
    case "normal":
      g.normal(out as Float32Array | Float64Array, step.mean, step.std);
      return out;
    case "randint":
      g.randint(out as Int32Array | Float32Array | Float64Array, step.low!, step.high!);
      return out;
    case "randperm":
      return g.randperm(step.n);
    case "bernoulli":
      g.bernoulli(out as Float32Array | Float64Array | Uint8Array, step.p!);
      return out;
  }
}

/** Sum of the little-endian uint32 words w[k] of the array's bytes times (2k + 1), mod 2^32. */
function checksum(a: Out): number {
  const w = new Uint32Array(a.buffer, a.byteOffset, a.byteLength / 4);
  let cs = 0;
  for (let k = 0; k < w.length; k++) cs = (cs + Math.imul(w[k], 2 * k + 1)) >>> 0;
  return cs;
}

function show(v: number): string {
  return Object.is(v, -0) ? "-0" : String(v);
}

function assertSameValues(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}: element ${i} is ${show(actual[i])}, torch gives ${show(expected[i])}`);
    }
  }
}

/**
 * float64 normals agree with torch to within an ulp: torch's glibc log/sincos and JavaScript's Math
 * round differently on about 0.16% of inputs (see the normal() doc). Everything else is bit-exact.
 */
function isFloat64Normal(step: Step): boolean {
  return step.op === "normal" && step.dtype === "float64";
}

function assertWithinUlp(actual: ArrayLike<number>, expected: readonly (readonly [number, number])[], what: string) {
  for (const [i, v] of expected) {
    const tol = 2 * Number.EPSILON * Math.max(Math.abs(v), Number.MIN_VALUE);
    if (!(Math.abs(actual[i] - v) <= tol)) assert.fail(`${what}: element ${i} is ${actual[i]}, torch gives ${v}`);
  }
}

function checkStep(g: Generator, step: Step, what: string): void {
  let got: Out;
  if (step.repeat) {
    got = makeArray(step.dtype, step.n * step.repeat);
    for (let r = 0; r < step.repeat; r++) {
      runStep(g, step, got.subarray(r * step.n, (r + 1) * step.n) as Out);
    }
  } else {
    got = runStep(g, step);
  }
  if (isFloat64Normal(step)) {
    if (step.values) assertWithinUlp(got, step.values.map((v, i) => [i, v] as const), what);
    assertWithinUlp(got, step.samples ?? [], what);
    return;
  }
  if (step.values) assertSameValues(got, step.values, what);
  if (step.checksum !== undefined) {
    for (const [i, v] of step.samples ?? []) {
      if (!Object.is(got[i], v)) assert.fail(`${what}: element ${i} is ${show(got[i])}, torch gives ${show(v)}`);
    }
    assert.equal(checksum(got), step.checksum, `${what}: checksum over all ${got.length} values`);
  }
}

function untemper(y: number): number {
  y ^= y >>> 18;
  y ^= (y << 15) & 0xefc60000;
  let t = y;
  for (let i = 0; i < 5; i++) t = y ^ ((t << 7) & 0x9d2c5680);
  y = t;
  for (let i = 0; i < 3; i++) t = y ^ (t >>> 11);
  return t >>> 0;
}

/**
 * State bytes (getState's layout: "FLRG", version 1, flags, u16 position at byte 6, ..., the 624 words from
 * byte 32) for a generator whose next outputs are `words`: position 0 and state word i = untemper(words[i]).
 */
function stateForWords(words: readonly number[]): Uint8Array {
  assert.ok(words.length <= 624);
  const state = new Generator(1).getState();
  const view = new DataView(state.buffer);
  view.setUint16(6, 0, true);
  words.forEach((w, i) => view.setUint32(32 + 4 * i, untemper(w), true));
  return state;
}

function generatorWithWords(words: readonly number[]): Generator {
  return new Generator().setState(stateForWords(words));
}

/** Two outputs (high word first, as torch's random64()) whose 53-bit uniform is k * 2^-53. */
function words53(k: number): number[] {
  return [Math.floor(k / 2 ** 32), k % 2 ** 32];
}

// ---------------------------------------------------------------------------------------------------
// the values quoted in the task, from torch 1.13

Deno.test("known torch values: rand, randn, randint, randperm", () => {
  const g = new Generator();
  const f = new Float32Array(3);
  g.manualSeed(0).uniform(f);
  assert.deepEqual(Array.from(f), [0.49625658988952637, 0.7682217955589294, 0.08847743272781372]);

  g.manualSeed(0).normal(f);
  assert.deepEqual(Array.from(f), [1.5409960746765137, -0.293428897857666, -2.1787893772125244]);
  g.normal(f);
  assert.deepEqual(Array.from(f), [0.5684312582015991, -1.0845223665237427, -1.3985954523086548]);

  const f17 = new Float32Array(17);
  g.manualSeed(0).normal(f17);
  assert.deepEqual(Array.from(f17.subarray(0, 3)), [-1.1258398294448853, -1.6959311962127686, 0.5666506290435791]);

  const d = new Float64Array(3);
  g.manualSeed(0).uniform(d);
  assert.deepEqual(Array.from(d), [0.9700530018065531, 0.707819864399788, 0.45938294312745087]);

  const i = new Int32Array(5);
  g.manualSeed(0).randint(i, 0, 10);
  assert.deepEqual(Array.from(i), [4, 9, 3, 0, 3]);

  assert.deepEqual(Array.from(g.manualSeed(0).randperm(10)), [4, 1, 7, 5, 3, 9, 0, 8, 6, 2]);
});

Deno.test("known torch values: nn.Linear(3, 2) initialisation", () => {
  const g = new Generator(0);
  const fanIn = 3;
  const weight = new Float32Array(2 * 3);
  const bias = new Float32Array(2);
  const weightBound = Math.sqrt(3) * (Math.sqrt(2 / (1 + Math.sqrt(5) ** 2)) / Math.sqrt(fanIn));
  g.uniform(weight, -weightBound, weightBound); // kaiming_uniform_(a=sqrt(5))
  g.uniform(bias, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
  assert.deepEqual(Array.from(weight), [
    -0.004322517663240433,
    0.3097158372402191,
    -0.4751853346824646,
    -0.4248946011066437,
    -0.2223689705133438,
    0.15482072532176971,
  ]);
  assert.deepEqual(Array.from(bias), [-0.011439144611358643, 0.45777493715286255]);
});

Deno.test("the engine is the reference MT19937 (std::mt19937: 10000th output for seed 5489)", () => {
  const g = new Generator(5489);
  assert.equal(g.nextUint32(), 3499211612);
  for (let i = 2; i < 10000; i++) g.nextUint32();
  assert.equal(g.nextUint32(), 4123659995);
  assert.equal(new Generator(0).nextUint32(), 2357136044);
});

// ---------------------------------------------------------------------------------------------------
// fixture

Deno.test("fixture was made by torch's AVX2 kernels on x86-64", () => {
  assert.equal(fixture.meta.cpu_capability, "AVX2");
  assert.equal(fixture.meta.machine, "x86_64");
});

Deno.test("seeds: manualSeed and initialSeed follow torch.Generator.manual_seed", () => {
  for (const c of fixture.seeds) {
    if (c.error) {
      assert.throws(() => new Generator().manualSeed(BigInt(c.seed!)), (e: unknown) => {
        return e instanceof RangeError && e.message.includes(c.seed!);
      }, `seed ${c.seed}`);
      continue;
    }
    const g = c.seed === null ? new Generator() : new Generator().manualSeed(BigInt(c.seed));
    assert.equal(g.initialSeed(), BigInt(c.initial_seed!), `initial seed for ${c.seed}`);
    const f = new Float32Array(3);
    g.uniform(f);
    assertSameValues(f, c.rand!, `rand(3) after manual_seed(${c.seed})`);
  }
  assert.equal(new Generator().initialSeed(), DEFAULT_SEED);
  assert.equal(new Generator(-1).initialSeed(), 2n ** 64n - 1n);
  assert.equal(new Generator(2 ** 60).initialSeed(), 2n ** 60n);
});

Deno.test("sequences: rand/randn/randint/randperm/bernoulli/uniform_/normal_ and their interleavings", () => {
  assert.ok(fixture.sequences.length > 100);
  for (const seq of fixture.sequences) {
    const g = new Generator(seq.seed);
    seq.steps.forEach((step, k) => checkStep(g, step, `${seq.name} (seed ${seq.seed}), step ${k} ${step.op}`));
  }
});

Deno.test("crafted draws: uniform_ FMA ties, Box-Muller edges, 64-bit randint, bernoulli thresholds", () => {
  for (const seq of fixture.crafted) {
    const g = generatorWithWords(seq.words!);
    seq.steps.forEach((step, k) => checkStep(g, step, `${seq.name}, step ${k} ${step.op}`));
  }
});

Deno.test("float32 normal_ fill equals torch for every 24-bit uniform, as u1 and as u2 (2 x 2^24 lanes)", () => {
  const { batch, batches_per_sweep: nb, words, checksum: expected } = fixture.exhaustive_avx2;
  const ut = new Int32Array(1 << 24);
  for (let v = 0; v < 1 << 24; v++) ut[v] = untemper(v);
  const state = new Generator(1).getState();
  const view = new DataView(state.buffer);
  view.setUint16(6, 0, true);
  const g = new Generator();
  const out = new Float32Array(batch);
  const w = new Uint32Array(out.buffer);
  let cs = 0;
  let k = 0;
  for (let sweep = 0; sweep < 2; sweep++) {
    for (let b = 0; b < nb; b++) {
      for (let i = 0; i < batch; i++) view.setInt32(32 + 4 * i, ut[(b * batch + (sweep ? i ^ 8 : i)) & 0xffffff], true);
      g.setState(state).normal(out);
      for (let i = 0; i < batch; i++, k++) cs = (cs + Math.imul(w[i], 2 * k + 1)) >>> 0;
    }
  }
  assert.equal(k, words);
  assert.equal(cs, expected);
});

Deno.test("nn.Linear initialisation: kaiming_uniform_(a=sqrt(5)) weight, then bias, as uniform_(-bound, bound)", () => {
  for (const c of fixture.linear) {
    const weightBound = Math.sqrt(3) * (Math.sqrt(2 / (1 + Math.sqrt(5) ** 2)) / Math.sqrt(c.in));
    const biasBound = 1 / Math.sqrt(c.in);
    assert.equal(weightBound, c.weight_bound);
    assert.equal(biasBound, c.bias_bound);
    const g = new Generator(c.seed);
    const weight = new Float32Array(c.out * c.in);
    const bias = new Float32Array(c.out);
    g.uniform(weight, -weightBound, weightBound);
    g.uniform(bias, -biasBound, biasBound);
    assertSameValues(weight, c.weight, `Linear(${c.in}, ${c.out}) weight`);
    assertSameValues(bias, c.bias, `Linear(${c.in}, ${c.out}) bias`);
    const next = new Float32Array(1);
    g.uniform(next);
    assert.equal(next[0], c.next_rand);
  }
});

Deno.test("F.dropout(x, p, training=True) is x * bernoulli_(1 - p) / (1 - p)", () => {
  for (const c of fixture.dropout) {
    const g = new Generator(c.seed);
    const n = c.x.length;
    const is32 = c.dtype === "float32";
    const mask = is32 ? new Float32Array(n) : new Float64Array(n);
    g.bernoulli(mask, 1 - c.p);
    assertSameValues(mask, c.mask, `dropout p=${c.p} mask`);
    const scale = is32 ? Math.fround(1 / Math.fround(1 - c.p)) : 1 / (1 - c.p);
    assert.equal(scale, c.scale);
    const y = is32 ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = c.x[i] * (mask[i] === 1 ? scale : 0);
    assertSameValues(y, c.output, `dropout p=${c.p} output`);
    const next = new Float32Array(1);
    g.uniform(next);
    assert.equal(next[0], c.next_rand);
  }
});

// ---------------------------------------------------------------------------------------------------
// exact fused multiply-add in uniform_, against a BigInt oracle

const BITS = new BigUint64Array(1);
const BITS_F = new Float64Array(BITS.buffer);

/** x = m * 2^e with m an integer (normal, finite, nonzero doubles). */
function decompose(x: number): [bigint, number] {
  BITS_F[0] = x;
  const b = BITS[0];
  const m = (b & ((1n << 52n) - 1n)) | (1n << 52n);
  const e = Number((b >> 52n) & 0x7ffn) - 1075;
  return [b >> 63n ? -m : m, e];
}

/** a * b + c rounded once to `prec` bits (nearest, ties to even). */
function exactFma(a: number, b: number, c: number, prec: number): number {
  if (a === 0 || b === 0 || c === 0) return a * b + c;
  const [ma, ea] = decompose(a);
  const [mb, eb] = decompose(b);
  const [mc, ec] = decompose(c);
  const e = Math.min(ea + eb, ec);
  let m = ((ma * mb) << BigInt(ea + eb - e)) + (mc << BigInt(ec - e));
  if (m === 0n) return 0;
  const neg = m < 0n;
  if (neg) m = -m;
  const shift = m.toString(2).length - prec;
  let exp = e;
  if (shift > 0) {
    const q = m >> BigInt(shift);
    const r = m - (q << BigInt(shift));
    const half = 1n << BigInt(shift - 1);
    m = r > half || (r === half && (q & 1n) === 1n) ? q + 1n : q;
    exp += shift;
  }
  const v = Number(m) * 2 ** exp;
  return neg ? -v : v;
}

Deno.test("uniform_ is the single-rounding fma(x, high - low, low) in float32 and float64", () => {
  let seed = 12345;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let trial = 0; trial < 300; trial++) {
    const scale = 2 ** Math.floor(rnd() * 40 - 20);
    const low = (rnd() - 0.5) * scale * (trial % 3 === 0 ? 2 ** -30 : 1);
    const high = low + rnd() * scale + 2 ** -40;
    const ms = Array.from({ length: 8 }, () => Math.floor(rnd() * 2 ** 24));
    const f = new Float32Array(8);
    generatorWithWords(ms).uniform(f, low, high);
    const from = Math.fround(low);
    const range = Math.fround(Math.fround(high) - from);
    ms.forEach((m, i) =>
      assert.equal(f[i], Math.fround(exactFma(m * 2 ** -24, range, from, 24)), `f32 ${low} ${high} ${m}`)
    );

    const ks = Array.from({ length: 8 }, () => Math.floor(rnd() * 2 ** 21) * 2 ** 32 + Math.floor(rnd() * 2 ** 32));
    const d = new Float64Array(8);
    generatorWithWords(ks.flatMap(words53)).uniform(d, low, high);
    ks.forEach((k, i) => assert.equal(d[i], exactFma(k * 2 ** -53, high - low, low, 53), `f64 ${low} ${high} ${k}`));
  }
});

// ---------------------------------------------------------------------------------------------------
// state

Deno.test("getState/setState round trip restores the position and the cached normal sample", () => {
  const g = new Generator(123);
  g.uniform(new Float32Array(700)); // into the second MT19937 block
  g.normal(new Float64Array(1)); // leaves a cached sample
  const saved = g.getState();
  const draw = (h: Generator): number[] => {
    const a = new Float64Array(3);
    h.normal(a); // the first one is the cached sample
    const b = new Float32Array(600);
    h.uniform(b);
    const c = new Int32Array(4);
    h.randint(c, -10, 10);
    return [...a, ...b, ...c, h.nextUint32()];
  };
  const first = draw(g);
  assert.deepEqual(draw(new Generator().setState(saved)), first);
  assert.deepEqual(draw(g.setState(saved)), first);
  assert.equal(new Generator().setState(saved).initialSeed(), 123n);

  // the snapshot is a copy
  saved.fill(0, 32);
  assert.throws(() => g.setState(saved), RangeError);

  // a fresh (never drawn) generator round-trips too
  const fresh = new Generator(9);
  const h = new Generator().setState(fresh.getState());
  assert.equal(h.nextUint32(), fresh.nextUint32());
});

Deno.test("clone is independent and starts in the same state", () => {
  const draw = (h: Generator): number[] => {
    const a = new Float32Array(5);
    h.normal(a); // the first value is the cached sample
    const b = new Float64Array(20);
    h.normal(b);
    return [...a, ...b, h.nextUint32()];
  };
  const g = new Generator(77);
  g.normal(new Float32Array(1)); // leaves a cached sample
  g.uniform(new Float32Array(650));
  const h = g.clone();
  const ref = new Generator(77);
  ref.normal(new Float32Array(1));
  ref.uniform(new Float32Array(650));
  const expected = draw(ref);
  assert.deepEqual(draw(h), expected);
  h.uniform(new Float32Array(1000)); // moving the clone does not move the original
  assert.deepEqual(draw(g), expected);
  g.manualSeed(1);
  assert.equal(h.initialSeed(), 77n);
});

Deno.test("seed() reseeds non-deterministically and reports the seed", () => {
  const g = new Generator();
  const s = g.seed();
  assert.equal(typeof s, "bigint");
  assert.ok(s >= 0n && s < 2n ** 64n);
  assert.equal(g.initialSeed(), s);
  assert.equal(g.nextUint32(), new Generator(s).nextUint32());
  assert.notEqual(new Generator().seed(), new Generator().seed());
});

Deno.test("manualSeed clears the cached normal sample", () => {
  const g = new Generator(0);
  g.normal(new Float32Array(1));
  g.manualSeed(0);
  const a = new Float32Array(3);
  g.normal(a);
  assert.deepEqual(Array.from(a), [1.5409960746765137, -0.293428897857666, -2.1787893772125244]);
});

// ---------------------------------------------------------------------------------------------------
// errors

function throwsMentioning(fn: () => unknown, type: typeof RangeError | typeof TypeError, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    for (const p of parts) assert.ok((e as Error).message.includes(p), `"${(e as Error).message}" should mention ${p}`);
    return true;
  });
}

Deno.test("bad seeds are RangeErrors naming the value", () => {
  const g = new Generator();
  throwsMentioning(() => g.manualSeed(1.5), RangeError, "1.5");
  throwsMentioning(() => g.manualSeed(NaN), RangeError, "NaN");
  throwsMentioning(() => g.manualSeed(Infinity), RangeError, "Infinity");
  throwsMentioning(() => g.manualSeed(2n ** 64n), RangeError, "18446744073709551616");
  throwsMentioning(() => g.manualSeed(-(2n ** 63n) - 1n), RangeError, "-9223372036854775809");
  throwsMentioning(() => g.manualSeed("5" as unknown as number), RangeError, '"5"');
  throwsMentioning(() => new Generator(2 ** 70), RangeError, "1180591620717411303424");
  // accepted extremes, as torch
  assert.equal(g.manualSeed(-(2n ** 63n)).initialSeed(), 2n ** 63n);
  assert.equal(g.manualSeed(2n ** 64n - 1n).initialSeed(), 2n ** 64n - 1n);
});

Deno.test("bad states are rejected with a RangeError naming the problem", () => {
  const good = new Generator(5).getState();
  const edit = (f: (b: Uint8Array, v: DataView) => void): Uint8Array => {
    const b = good.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  const g = new Generator(1);
  throwsMentioning(() => g.setState(good.subarray(0, 100)), RangeError, "2528", "100");
  throwsMentioning(() => g.setState(new Uint8Array(3000)), RangeError, "3000");
  throwsMentioning(() => g.setState(edit((b) => (b[0] = 0))), RangeError, "magic");
  throwsMentioning(() => g.setState(edit((b) => (b[4] = 2))), RangeError, "version 2");
  throwsMentioning(() => g.setState(edit((b) => (b[5] = 4))), RangeError, "flags", "4");
  throwsMentioning(() => g.setState(edit((_, v) => v.setUint16(6, 625, true))), RangeError, "position 625");
  throwsMentioning(() => g.setState(edit((b) => (b[27] = 1))), RangeError, "reserved byte 27");
  throwsMentioning(() => g.setState(edit((b, v) => (b[5] = 1, v.setFloat64(16, NaN, true)))), RangeError, "NaN");
  throwsMentioning(() => g.setState(edit((_, v) => v.setFloat64(16, 0.5, true))), RangeError, "0.5", "absent");
  throwsMentioning(() => g.setState(edit((b) => b.fill(0, 32))), RangeError, "all zero");
  throwsMentioning(() => g.setState([1, 2, 3] as unknown as Uint8Array), TypeError, "Uint8Array");
  // the failed calls left g untouched
  assert.equal(g.nextUint32(), new Generator(1).nextUint32());
});

Deno.test("bad arguments are RangeErrors / TypeErrors naming the value", () => {
  const g = new Generator(0);
  const f = new Float32Array(4);
  throwsMentioning(() => g.uniform(f, 2, 1), RangeError, "low=2", "high=1");
  throwsMentioning(() => g.uniform(f, NaN, 1), RangeError, "NaN");
  throwsMentioning(() => g.uniform(f, 0, 1e39), RangeError, "1e+39", "float32");
  throwsMentioning(() => g.uniform(new Float64Array(1), -1e308, 1e308), RangeError, "overflows");
  throwsMentioning(() => g.normal(f, 0, -1), RangeError, "std=-1");
  throwsMentioning(() => g.normal(f, 0, NaN), RangeError, "std=NaN");
  throwsMentioning(() => g.normal(f, NaN, 1), RangeError, "NaN");
  throwsMentioning(() => g.randint(new Int32Array(2), 5, 5), RangeError, "low=5", "high=5");
  throwsMentioning(() => g.randint(new Int32Array(2), 0.5, 5), RangeError, "0.5");
  throwsMentioning(() => g.randint(new Int32Array(2), 0, 2 ** 54), RangeError, "18014398509481984");
  throwsMentioning(() => g.randint(new Int32Array(2), 0, 2 ** 31 + 1), RangeError, "Int32Array");
  throwsMentioning(() => g.randperm(-1), RangeError, "n=-1");
  throwsMentioning(() => g.randperm(2.5), RangeError, "n=2.5");
  throwsMentioning(() => g.bernoulli(f, 1.5), RangeError, "p=1.5");
  throwsMentioning(() => g.bernoulli(f, NaN), RangeError, "p=NaN");
  throwsMentioning(() => g.uniform(new Int16Array(2) as unknown as Float32Array), TypeError, "Float32Array");
  throwsMentioning(() => g.randint(new Uint8Array(2) as unknown as Int32Array, 0, 2), TypeError, "Int32Array");
  // failed calls drew nothing
  assert.equal(g.nextUint32(), new Generator(0).nextUint32());
});

Deno.test("empty outputs draw nothing", () => {
  const g = new Generator(3);
  g.uniform(new Float32Array(0));
  g.normal(new Float64Array(0));
  g.randint(new Int32Array(0), 0, 3);
  g.bernoulli(new Uint8Array(0), 0.5);
  assert.equal(g.randperm(0).length, 0);
  assert.deepEqual(Array.from(g.randperm(1)), [0]);
  assert.equal(g.nextUint32(), new Generator(3).nextUint32());
});
