import assert from "node:assert/strict";
import type { DType } from "@flint/backend";
import {
  formatExponential,
  formatFixed,
  type FormatSuffixes,
  formatTensor,
  getPrintOptions,
  type PrintOptions,
  setPrintOptions,
} from "./format.ts";
import fixtures from "../tests/fixtures/print.json" with { type: "json" };

// --- fixture replay (tests/fixtures/make_print_fixtures.py) -----------------

type Encoded = number | string;
type Profile = "default" | "short" | "full";
type Call = Partial<Omit<PrintOptions, "threshold">> & { threshold?: Encoded; profile?: Profile };
type EncodedOptions = Omit<PrintOptions, "threshold"> & { threshold: Encoded };

interface Case {
  name: string;
  dtype: DType;
  shape: number[];
  values: Encoded[];
  suffixes: FormatSuffixes;
  calls: Call[];
  options: EncodedOptions;
  repr: string;
}

interface Generated extends Omit<Case, "values" | "suffixes"> {
  generator: "mod997" | "arange";
}

interface Fixtures {
  torch: string;
  cases: Case[];
  generated: Generated[];
  numbers: [number, number, string, string][];
}

const data = fixtures as unknown as Fixtures;

function decode(value: Encoded): number {
  if (typeof value === "number") return value;
  const special: Record<string, number> = { nan: NaN, inf: Infinity, "-inf": -Infinity };
  if (!(value in special)) throw new Error(`bad encoded value ${value}`);
  return special[value];
}

function applyCalls(calls: Call[], expected: EncodedOptions): void {
  setPrintOptions({ profile: "default" });
  for (const { threshold, ...rest } of calls) {
    setPrintOptions(threshold === undefined ? rest : { ...rest, threshold: decode(threshold) });
  }
  assert.deepEqual(getPrintOptions(), { ...expected, threshold: decode(expected.threshold) });
}

function generate(kind: Generated["generator"], numel: number, dtype: DType): ArrayLike<number> {
  if (kind === "arange") return Int32Array.from({ length: numel }, (_, i) => i);
  assert.equal(dtype, "float32");
  return Float32Array.from({ length: numel }, (_, i) => (i % 997) * 0.01 - 3);
}

Deno.test("fixture has enough cases", () => {
  assert.ok(data.cases.length >= 60, `only ${data.cases.length} cases`);
});

for (const c of data.cases) {
  Deno.test(`repr matches torch: ${c.name}`, () => {
    try {
      applyCalls(c.calls, c.options);
      const values = c.dtype === "float32" ? Float32Array.from(c.values, decode) : c.values.map(decode);
      assert.equal(formatTensor(values, c.shape, c.dtype, c.suffixes), c.repr);
    } finally {
      setPrintOptions({ profile: "default" });
    }
  });
}

for (const g of data.generated) {
  Deno.test(`repr matches torch: ${g.name}`, () => {
    try {
      applyCalls(g.calls, g.options);
      const numel = g.shape.reduce((a, b) => a * b, 1);
      assert.equal(formatTensor(generate(g.generator, numel, g.dtype), g.shape, g.dtype), g.repr);
    } finally {
      setPrintOptions({ profile: "default" });
    }
  });
}

Deno.test("number formatting matches Python on every fixture value", () => {
  let checked = 0;
  for (const [value, precision, fixed, exponential] of data.numbers) {
    assert.equal(formatFixed(value, precision), fixed, `"{:.${precision}f}".format(${value})`);
    assert.equal(formatExponential(value, precision), exponential, `"{:.${precision}e}".format(${value})`);
    checked++;
  }
  assert.ok(checked > 1000);
});

// --- Python number formatting --------------------------------------------------

Deno.test("formatFixed rounds exact ties half to even", () => {
  assert.equal(formatFixed(0.125, 2), "0.12");
  assert.equal(formatFixed(0.375, 2), "0.38");
  assert.equal(formatFixed(2.5, 0), "2");
  assert.equal(formatFixed(3.5, 0), "4");
  assert.equal(formatFixed(0.5, 0), "0");
  assert.equal(formatFixed(1.5, 0), "2");
  assert.equal(formatFixed(-2.5, 0), "-2");
  assert.equal(formatFixed(-0.5, 0), "-0");
  assert.equal(formatFixed(0.03125, 4), "0.0312");
  assert.equal(formatFixed(0.09375, 4), "0.0938");
  assert.equal(formatFixed(-0.15625, 4), "-0.1562");
  assert.equal(formatFixed(999.5, 0), "1000");
});

Deno.test("formatFixed rounds non-ties on the exact binary value", () => {
  assert.equal(formatFixed(1.005, 2), "1.00"); // 1.005 is 1.00499999999999989...
  assert.equal(formatFixed(0.1, 20), "0.10000000000000000555");
  assert.equal(formatFixed(1.12345, 4), "1.1235"); // 1.12345000000000005969...
  assert.equal(formatFixed(Math.fround(1.12345), 4), "1.1235");
  assert.equal(formatFixed(1e25, 4), "10000000000000000905969664.0000");
  assert.equal(formatFixed(5e-324, 2), "0.00");
});

Deno.test("formatFixed signs, zero and non-finite values", () => {
  assert.equal(formatFixed(0, 4), "0.0000");
  assert.equal(formatFixed(-0, 4), "-0.0000");
  assert.equal(formatFixed(-0, 0), "-0");
  assert.equal(formatFixed(-0.00004, 4), "-0.0000");
  assert.equal(formatFixed(NaN, 4), "nan");
  assert.equal(formatFixed(Infinity, 4), "inf");
  assert.equal(formatFixed(-Infinity, 0), "-inf");
});

Deno.test("formatExponential: two-digit exponents and half-even ties", () => {
  assert.equal(formatExponential(123400, 4), "1.2340e+05");
  assert.equal(formatExponential(1e-5, 4), "1.0000e-05");
  assert.equal(formatExponential(1e100, 4), "1.0000e+100");
  assert.equal(formatExponential(5e-324, 3), "4.941e-324");
  assert.equal(formatExponential(25, 0), "2e+01");
  assert.equal(formatExponential(35, 0), "4e+01");
  assert.equal(formatExponential(0.125, 1), "1.2e-01");
  assert.equal(formatExponential(0.375, 1), "3.8e-01");
  assert.equal(formatExponential(2.5, 0), "2e+00");
  assert.equal(formatExponential(9.5, 0), "1e+01");
  assert.equal(formatExponential(95, 0), "1e+02");
  assert.equal(formatExponential(1, 0), "1e+00");
  assert.equal(formatExponential(0, 4), "0.0000e+00");
  assert.equal(formatExponential(-0, 2), "-0.00e+00");
  assert.equal(formatExponential(-1.5e-7, 4), "-1.5000e-07");
  assert.equal(formatExponential(NaN, 4), "nan");
  assert.equal(formatExponential(-Infinity, 4), "-inf");
});

Deno.test("number formatting beyond toFixed's range of digits", () => {
  assert.equal(formatFixed(0.125, 101), "0.125" + "0".repeat(98));
  assert.equal(formatExponential(0.125, 101), "1.25" + "0".repeat(99) + "e-01");
});

// --- print options -------------------------------------------------------------

Deno.test("setPrintOptions: profiles, overrides and the sciMode reset", () => {
  try {
    setPrintOptions({ profile: "short" });
    assert.deepEqual(getPrintOptions(), { precision: 2, threshold: 1000, edgeitems: 2, linewidth: 80, sciMode: null });
    setPrintOptions({ profile: "full", precision: 6, sciMode: true });
    assert.deepEqual(getPrintOptions(), {
      precision: 6,
      threshold: Infinity,
      edgeitems: 3,
      linewidth: 80,
      sciMode: true,
    });
    setPrintOptions({ linewidth: 100 });
    assert.deepEqual(getPrintOptions(), {
      precision: 6,
      threshold: Infinity,
      edgeitems: 3,
      linewidth: 100,
      sciMode: null,
    });
    setPrintOptions({ profile: "default" });
    assert.deepEqual(getPrintOptions(), { precision: 4, threshold: 1000, edgeitems: 3, linewidth: 80, sciMode: null });
  } finally {
    setPrintOptions({ profile: "default" });
  }
});

Deno.test("getPrintOptions returns a copy", () => {
  const options = getPrintOptions();
  options.precision = 9;
  assert.equal(getPrintOptions().precision, 4);
});

Deno.test("setPrintOptions rejects nonsense and changes nothing", () => {
  assert.throws(() => setPrintOptions({ precision: -1 }), RangeError);
  assert.throws(() => setPrintOptions({ precision: 1.5, sciMode: true }), RangeError);
  assert.throws(() => setPrintOptions({ edgeitems: -2 }), RangeError);
  assert.throws(() => setPrintOptions({ threshold: NaN }), RangeError);
  assert.throws(() => setPrintOptions({ profile: "long" as "full" }), RangeError);
  assert.deepEqual(getPrintOptions(), { precision: 4, threshold: 1000, edgeitems: 3, linewidth: 80, sciMode: null });
});

// --- formatTensor beyond the fixtures --------------------------------------------

Deno.test("device suffix comes first and wraps like the others", () => {
  assert.equal(formatTensor([1, 2], [2], "float32", { device: "cuda:0" }), "tensor([1., 2.], device='cuda:0')");
  assert.equal(formatTensor([1, 2], [2], "float32", { device: "cpu" }), "tensor([1., 2.])");
  assert.equal(
    formatTensor([1, 2], [2], "int32", { device: "webgpu", requiresGrad: true }),
    "tensor([1, 2], device='webgpu', dtype=torch.int32, requires_grad=True)",
  );
  assert.equal(
    formatTensor([], [0, 2], "float64", { device: "webgpu" }),
    "tensor([], device='webgpu', size=(0, 2), dtype=torch.float64)",
  );
  const long = formatTensor(new Float32Array(8).fill(0.5), [8], "float32", {
    device: "webgpu",
    gradFn: "MulBackward0",
  });
  assert.equal(
    long,
    "tensor([0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000, 0.5000],\n" +
      "       device='webgpu', grad_fn=<MulBackward0>)",
  );
});

Deno.test("grad_fn wins over requires_grad", () => {
  assert.equal(
    formatTensor([2], [], "float32", { requiresGrad: true, gradFn: "SumBackward0" }),
    "tensor(2., grad_fn=<SumBackward0>)",
  );
});

Deno.test("float32 values are rounded to float32", () => {
  assert.equal(formatTensor([0.1], [1], "float32"), formatTensor([Math.fround(0.1)], [1], "float32"));
  // 1.00005 is not a tie in float64 but rounds down in float32 (1.00004994869...).
  assert.equal(formatTensor([1.00005], [], "float32"), "tensor(1.0000)");
  assert.equal(formatTensor([1.00005], [], "float64"), "tensor(1.0001, dtype=torch.float64)");
});

Deno.test("formatTensor rejects a shape that does not fit the values", () => {
  assert.throws(() => formatTensor([1, 2, 3], [2, 2], "float32"), RangeError);
  assert.throws(() => formatTensor([1, 2], [-2], "float32"), RangeError);
  assert.throws(() => formatTensor([1], [0.5], "float32"), RangeError);
});

Deno.test("edgeitems=0 summarising 2 or more dimensions throws, as torch does", () => {
  try {
    setPrintOptions({ edgeitems: 0, threshold: 3 });
    assert.throws(() => formatTensor([1, 2, 3, 4], [2, 2], "float32"), RangeError);
  } finally {
    setPrintOptions({ profile: "default" });
  }
});

Deno.test("printing a 1000x1000 tensor reads only the edge items and is fast", () => {
  const n = 1000 * 1000;
  const backing = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  let reads = 0;
  const counted = new Proxy(backing, {
    get(target, key) {
      if (typeof key === "string" && key !== "length") reads++;
      return Reflect.get(target, key);
    },
  }) as ArrayLike<number>;
  const start = performance.now();
  const text = formatTensor(counted, [1000, 1000], "float32", { requiresGrad: true });
  const elapsed = performance.now() - start;
  assert.ok(reads <= 2 * 36, `read ${reads} elements`);
  assert.ok(elapsed < 100, `took ${elapsed} ms`);
  assert.equal(text.split("\n").length, 8);
  assert.ok(text.endsWith(" requires_grad=True)"));

  const plain = performance.now();
  formatTensor(backing, [1000, 1000], "float32");
  assert.ok(performance.now() - plain < 50);
});
