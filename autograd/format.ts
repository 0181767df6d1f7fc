// Tensor printing, character for character as PyTorch's `repr` (torch/_tensor_str.py).

import type { DType } from "@flint/backend";

/**
 * The options that shape how tensors print, as `torch.set_printoptions`.
 *
 * @example
 * ```ts
 * import { getPrintOptions } from "./format.ts";
 *
 * const options = getPrintOptions();
 * console.log(options.precision, options.threshold, options.edgeitems); // 4 1000 3
 * ```
 */
export interface PrintOptions {
  /** digits after the decimal point (or in the mantissa, in scientific mode); default 4 */
  precision: number;
  /** more elements than this prints a summary with `...`; default 1000 (`Infinity` never summarises) */
  threshold: number;
  /** leading and trailing items of each dimension kept in a summary; default 3 */
  edgeitems: number;
  /** characters per line before a row wraps; default 80 */
  linewidth: number;
  /** force (`true`) or forbid (`false`) scientific notation; `null` lets each tensor choose */
  sciMode: boolean | null;
}

const DEFAULTS: Readonly<PrintOptions> = { precision: 4, threshold: 1000, edgeitems: 3, linewidth: 80, sciMode: null };

const PROFILES: Readonly<Record<"default" | "short" | "full", Omit<PrintOptions, "sciMode">>> = {
  default: { precision: 4, threshold: 1000, edgeitems: 3, linewidth: 80 },
  short: { precision: 2, threshold: 1000, edgeitems: 2, linewidth: 80 },
  full: { precision: 4, threshold: Infinity, edgeitems: 3, linewidth: 80 },
};

const printOptions: PrintOptions = { ...DEFAULTS };

function checkCount(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
    throw new RangeError(`setPrintOptions: ${name} must be a non-negative integer, got ${value}`);
  }
}

function checkNumber(name: string, value: number | undefined): void {
  if (value !== undefined && (typeof value !== "number" || Number.isNaN(value))) {
    throw new RangeError(`setPrintOptions: ${name} must be a number, got ${value}`);
  }
}

/**
 * Sets how tensors print, as `torch.set_printoptions`: a `profile`
 * ("default", "short" or "full") is applied first, then every option given
 * overrides it; options left out keep their value. As in PyTorch, `sciMode`
 * is always reset: leaving it out sets it back to `null` (automatic).
 *
 * Unlike PyTorch, nonsense values (a negative or fractional precision or
 * edgeitems, an unknown profile) throw a `RangeError` instead of failing
 * later or being ignored.
 *
 * @example
 * ```ts
 * import { formatTensor, setPrintOptions } from "./format.ts";
 *
 * setPrintOptions({ precision: 2 });
 * console.log(formatTensor([1.12345], [1], "float32")); // tensor([1.12])
 * setPrintOptions({ threshold: 5 });
 * console.log(formatTensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10], "int32"));
 * // tensor([0, 1, 2,  ..., 7, 8, 9], dtype=torch.int32)
 * setPrintOptions({ profile: "default" });
 * ```
 */
export function setPrintOptions(options: Partial<PrintOptions> & { profile?: "default" | "short" | "full" }): void {
  const { profile, precision, threshold, edgeitems, linewidth, sciMode } = options;
  if (profile !== undefined && !Object.hasOwn(PROFILES, profile)) {
    throw new RangeError(`setPrintOptions: unknown profile ${JSON.stringify(profile)}`);
  }
  checkCount("precision", precision);
  checkCount("edgeitems", edgeitems);
  checkNumber("threshold", threshold);
  checkNumber("linewidth", linewidth);
  if (sciMode !== undefined && sciMode !== null && typeof sciMode !== "boolean") {
    throw new RangeError(`setPrintOptions: sciMode must be a boolean or null, got ${sciMode}`);
  }
  if (profile !== undefined) Object.assign(printOptions, PROFILES[profile]);
  if (precision !== undefined) printOptions.precision = precision;
  if (threshold !== undefined) printOptions.threshold = threshold;
  if (edgeitems !== undefined) printOptions.edgeitems = edgeitems;
  if (linewidth !== undefined) printOptions.linewidth = linewidth;
  printOptions.sciMode = sciMode ?? null;
}

/**
 * A copy of the print options in force (see {@linkcode setPrintOptions}).
 *
 * @example
 * ```ts
 * import { getPrintOptions, setPrintOptions } from "./format.ts";
 *
 * setPrintOptions({ profile: "full" });
 * console.log(getPrintOptions().threshold); // Infinity
 * setPrintOptions({ profile: "default" });
 * ```
 */
export function getPrintOptions(): PrintOptions {
  return { ...printOptions };
}

// ---------------------------------------------------------------------------
// Python's float formatting: "{:.Nf}" and "{:.Ne}" round the exact binary
// value half-to-even. JavaScript's toFixed/toExponential also work on the
// exact value but break ties away from zero, so exact ties (and everything
// toFixed cannot do) go through an exact decimal expansion made with BigInt.

const view = new DataView(new ArrayBuffer(8));
const fivePowers: bigint[] = [1n];

function powerOfFive(k: number): bigint {
  for (let i = fivePowers.length; i <= k; i++) fivePowers.push(fivePowers[i - 1] * 5n);
  return fivePowers[k];
}

/** The exact decimal digits of a positive finite double: value = 0.DIGITS × 10^point. */
function exactDigits(x: number): { digits: string; point: number } {
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (hi & 0xfffff) * 2 ** 32 + lo;
  let exponent: number;
  if (biased === 0) {
    exponent = -1074;
  } else {
    mantissa += 2 ** 52;
    exponent = biased - 1075;
  }
  while (mantissa % 2 === 0) {
    mantissa /= 2;
    exponent++;
  }
  if (exponent >= 0) {
    const digits = (BigInt(mantissa) << BigInt(exponent)).toString();
    return { digits, point: digits.length };
  }
  const digits = (BigInt(mantissa) * powerOfFive(-exponent)).toString();
  return { digits, point: digits.length + exponent };
}

/** round(0.DIGITS × 10^keep) half-to-even, as a decimal integer string. */
function roundDigits(digits: string, keep: number): string {
  if (keep < 0) return "0";
  if (keep >= digits.length) return keep === 0 ? "0" : digits + "0".repeat(keep - digits.length);
  const head = digits.slice(0, keep);
  const next = digits.charCodeAt(keep) - 48;
  let up = next > 5;
  if (next === 5) {
    for (let i = keep + 1; i < digits.length && !up; i++) up = digits.charCodeAt(i) !== 48;
    if (!up) up = keep > 0 && (digits.charCodeAt(keep - 1) - 48) % 2 === 1;
  }
  if (!up) return head === "" ? "0" : head;
  return (BigInt(head === "" ? "0" : head) + 1n).toString();
}

function exactFixed(x: number, precision: number): string {
  const { digits, point } = exactDigits(x);
  let rounded = roundDigits(digits, point + precision);
  if (rounded.length <= precision) rounded = "0".repeat(precision + 1 - rounded.length) + rounded;
  if (precision === 0) return rounded;
  const cut = rounded.length - precision;
  return rounded.slice(0, cut) + "." + rounded.slice(cut);
}

function exactExponential(x: number, precision: number): string {
  const { digits, point } = exactDigits(x);
  let exponent = point - 1;
  let rounded = roundDigits(digits, precision + 1);
  if (rounded.length > precision + 1) {
    exponent++;
    rounded = rounded.slice(0, precision + 1);
  }
  const mantissa = precision === 0 ? rounded : rounded[0] + "." + rounded.slice(1);
  return mantissa + exponentSuffix(exponent);
}

function exponentSuffix(exponent: number): string {
  const magnitude = Math.abs(exponent);
  return (exponent < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + magnitude;
}

/** True when x × 10^places lies exactly halfway between two integers (x > 0 finite, places >= 0). */
function isTie(x: number, places: number): boolean {
  // x × 10^k = m·5^k·2^(e+k) with m odd, which is n + 1/2 exactly when e + k = -1,
  // that is when x × 2^(k+1) = m·2^(e+k+1) is an odd integer.
  const scaled = x * 2 ** (places + 1);
  return Number.isInteger(scaled) && scaled % 2 === 1;
}

function nonFinite(x: number): string | undefined {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return undefined;
}

/**
 * Formats a number as Python's `"{:.Nf}".format(x)` (N = `precision`):
 * fixed-point, rounded half-to-even on the exact binary value, with `nan`,
 * `inf`, `-inf`, and a kept sign on negative zero and on negative values
 * that round to zero.
 *
 * @example
 * ```ts
 * import { formatFixed } from "./format.ts";
 *
 * console.log(formatFixed(0.125, 2), formatFixed(2.5, 0), formatFixed(-0, 4)); // 0.12 2 -0.0000
 * ```
 */
export function formatFixed(x: number, precision: number): string {
  const special = nonFinite(x);
  if (special !== undefined) return special;
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  const ax = Math.abs(x);
  if (ax === 0) return sign + (precision === 0 ? "0" : "0." + "0".repeat(precision));
  if (precision <= 100 && ax < 1e21 && !isTie(ax, precision)) return sign + ax.toFixed(precision);
  return sign + exactFixed(ax, precision);
}

/**
 * Formats a number as Python's `"{:.Ne}".format(x)` (N = `precision`):
 * one digit, N decimals rounded half-to-even on the exact binary value, and
 * an exponent of at least two digits (`1.2340e+05`).
 *
 * @example
 * ```ts
 * import { formatExponential } from "./format.ts";
 *
 * console.log(formatExponential(123400, 4), formatExponential(25, 0)); // 1.2340e+05 2e+01
 * ```
 */
export function formatExponential(x: number, precision: number): string {
  const special = nonFinite(x);
  if (special !== undefined) return special;
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  const ax = Math.abs(x);
  if (ax === 0) return sign + (precision === 0 ? "0" : "0." + "0".repeat(precision)) + "e+00";
  if (precision <= 100) {
    const js = ax.toExponential(precision);
    const at = js.indexOf("e");
    const exponent = Number(js.slice(at + 1));
    // The exact decimal exponent is the printed one, or one less when rounding carried.
    const tieAt = (d: number): boolean => d > precision ? Number.isInteger(ax) : isTie(ax, precision - d);
    if (!tieAt(exponent) && !tieAt(exponent - 1)) return sign + js.slice(0, at) + exponentSuffix(exponent);
  }
  return sign + exactExponential(ax, precision);
}

// ---------------------------------------------------------------------------
// The repr itself: _Formatter, _tensor_str_with_formatter, _add_suffixes.

interface Formatter {
  width: number;
  format(value: number): string;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : " ".repeat(width - text.length) + text;
}

/** torch's _Formatter, fed the elements that will be printed. */
function makeFormatter(
  dtype: DType,
  values: ArrayLike<number>,
  shown: Iterable<number>,
  opts: PrintOptions,
): Formatter {
  const { precision } = opts;
  if (dtype === "bool" || dtype === "int32") {
    const text = dtype === "bool" ? (v: number) => (v ? "True" : "False") : (v: number) => String(v);
    let width = 1;
    for (const i of shown) width = Math.max(width, text(values[i]).length);
    return { width, format: (v) => pad(text(v), width) };
  }
  const read = dtype === "float32" ? (i: number) => Math.fround(values[i]) : (i: number) => values[i];
  let intMode = true;
  let sciMode = false;
  let width = 1;
  const finite: number[] = [];
  let minAbs = Infinity;
  let maxAbs = 0;
  for (const i of shown) {
    const v = read(i);
    if (v === 0 || !Number.isFinite(v)) continue;
    finite.push(v);
    const a = Math.abs(v);
    if (a < minAbs) minAbs = a;
    if (a > maxAbs) maxAbs = a;
    if (intMode && v !== Math.ceil(v)) intMode = false;
  }
  if (finite.length > 0) {
    if (maxAbs / minAbs > 1000 || maxAbs > 1e8 || (!intMode && minAbs < 1e-4)) {
      sciMode = true;
      for (const v of finite) width = Math.max(width, formatExponential(v, precision).length);
    } else if (intMode) {
      for (const v of finite) width = Math.max(width, formatFixed(v, 0).length + 1);
    } else {
      for (const v of finite) width = Math.max(width, formatFixed(v, precision).length);
    }
    // torch only honours a forced sci_mode when some element is finite and nonzero.
    if (opts.sciMode !== null) sciMode = opts.sciMode;
  }
  const format = sciMode
    ? (v: number) => pad(formatExponential(v, precision), width)
    : intMode
    ? (v: number) => pad(Number.isFinite(v) ? formatFixed(v, 0) + "." : formatFixed(v, 0), width)
    : (v: number) => pad(formatFixed(v, precision), width);
  return { width, format: dtype === "float32" ? (v) => format(Math.fround(v)) : format };
}

/** The indices of one dimension that print, and where `...` goes (-1: nowhere). */
interface DimPlan {
  indices: number[];
  ellipsis: number;
}

function range(start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = start; i < end; i++) out.push(i);
  return out;
}

function planDim(size: number, last: boolean, summarize: boolean, edge: number): DimPlan {
  if (!summarize || size <= 2 * edge) return { indices: range(0, size), ellipsis: -1 };
  if (edge === 0) {
    // Python's self[-0:] is the whole dimension; torch.stack([]) fails for the outer ones.
    if (last) return { indices: range(0, size), ellipsis: 0 };
    throw new RangeError("cannot summarise a tensor of 2 or more dimensions with edgeitems=0 (torch raises too)");
  }
  return { indices: [...range(0, edge), ...range(size - edge, size)], ellipsis: edge };
}

function* shownOffsets(plans: DimPlan[], strides: number[], dim: number, offset: number): Generator<number> {
  if (dim === plans.length) {
    yield offset;
    return;
  }
  for (const i of plans[dim].indices) yield* shownOffsets(plans, strides, dim + 1, offset + i * strides[dim]);
}

function tensorStr(
  values: ArrayLike<number>,
  shape: readonly number[],
  dtype: DType,
  indent: number,
  opts: PrintOptions,
): string {
  const numel = values.length;
  const summarize = numel > opts.threshold;
  const ndim = shape.length;
  const strides: number[] = new Array(ndim);
  for (let d = ndim - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  const plans = shape.map((size, d) => planDim(size, d === ndim - 1, summarize, opts.edgeitems));
  const formatter = makeFormatter(dtype, values, shownOffsets(plans, strides, 0, 0), opts);
  if (ndim === 0) return formatter.format(values[0]);

  const vector = (offset: number, indent: number): string => {
    const perLine = Math.max(1, Math.floor((opts.linewidth - indent) / (formatter.width + 2)));
    const { indices, ellipsis } = plans[ndim - 1];
    const data: string[] = [];
    indices.forEach((i, k) => {
      if (k === ellipsis) data.push(" ...");
      data.push(formatter.format(values[offset + i]));
    });
    const lines: string[] = [];
    for (let i = 0; i < data.length; i += perLine) lines.push(data.slice(i, i + perLine).join(", "));
    return "[" + lines.join(",\n" + " ".repeat(indent + 1)) + "]";
  };
  const nested = (dim: number, offset: number, indent: number): string => {
    if (dim === ndim - 1) return vector(offset, indent);
    const { indices, ellipsis } = plans[dim];
    const slices: string[] = [];
    indices.forEach((i, k) => {
      if (k === ellipsis) slices.push("...");
      slices.push(nested(dim + 1, offset + i * strides[dim], indent + 1));
    });
    return "[" + slices.join("," + "\n".repeat(ndim - dim - 1) + " ".repeat(indent + 1)) + "]";
  };
  return nested(0, 0, indent);
}

function addSuffixes(text: string, suffixes: string[], indent: number, linewidth: number): string {
  const parts = [text];
  // torch's arithmetic, kept as is: a one-line string counts two characters extra.
  let lastLineLength = text.length - text.lastIndexOf("\n") + 1;
  for (const suffix of suffixes) {
    if (lastLineLength + suffix.length + 2 > linewidth) {
      parts.push(",\n" + " ".repeat(indent) + suffix);
      lastLineLength = indent + suffix.length;
    } else {
      parts.push(", " + suffix);
      lastLineLength += suffix.length + 2;
    }
  }
  parts.push(")");
  return parts.join("");
}

/** Where a tensor lives and how it takes part in autograd: the trailing parts of its repr. */
export interface FormatSuffixes {
  /** the device name; omitted or "cpu" prints nothing */
  device?: string;
  /** a leaf that requires grad prints `requires_grad=True` */
  requiresGrad?: boolean;
  /** the name of the node that made the tensor, e.g. "AddBackward0"; wins over `requiresGrad` */
  gradFn?: string;
}

/**
 * The repr of a tensor exactly as PyTorch prints it, e.g.
 * `tensor([1.7876, 1.8997, 1.6227], grad_fn=<AddBackward0>)`, under the
 * print options in force (see {@linkcode setPrintOptions}).
 *
 * `values` are the elements in row-major order (bool as 0/1; float32
 * elements are rounded to float32). Float32, int32 -- which is what Flint
 * holds PyTorch's int64 in -- and bool need no `dtype=` suffix in PyTorch,
 * but int32 here prints `dtype=torch.int32`, as PyTorch does for int32.
 * Only the printed elements of a summarised tensor are read, so printing a
 * large tensor is cheap.
 *
 * @example
 * ```ts
 * import { formatTensor } from "./format.ts";
 *
 * console.log(formatTensor([-0.2124, -0.1003, -0.3773], [3], "float32", { requiresGrad: true }));
 * // tensor([-0.2124, -0.1003, -0.3773], requires_grad=True)
 * console.log(formatTensor([6.2916], [], "float32", { gradFn: "MeanBackward0" }));
 * // tensor(6.2916, grad_fn=<MeanBackward0>)
 * console.log(formatTensor([1, 2, 3, 4], [2, 2], "float64"));
 * // tensor([[1., 2.],
 * //         [3., 4.]], dtype=torch.float64)
 * console.log(formatTensor([], [0, 3], "float32")); // tensor([], size=(0, 3))
 * ```
 */
export function formatTensor(
  values: ArrayLike<number>,
  shape: readonly number[],
  dtype: DType,
  suffixes: FormatSuffixes = {},
): string {
  let numel = 1;
  for (const size of shape) {
    if (!(Number.isInteger(size) && size >= 0)) throw new RangeError(`formatTensor: bad shape [${shape.join(", ")}]`);
    numel *= size;
  }
  if (values.length !== numel) {
    throw new RangeError(`formatTensor: shape [${shape.join(", ")}] holds ${numel} elements, got ${values.length}`);
  }
  const opts = getPrintOptions();
  const prefix = "tensor(";
  const indent = prefix.length;
  const parts: string[] = [];
  if (suffixes.device !== undefined && suffixes.device !== "cpu") parts.push(`device='${suffixes.device}'`);
  let body: string;
  if (numel === 0) {
    // NumPy-style: the shape shows unless it is (0,); the dtype always shows unless it is the default.
    if (shape.length !== 1) parts.push(`size=(${shape.join(", ")})`);
    if (dtype !== "float32") parts.push(`dtype=torch.${dtype}`);
    body = "[]";
  } else {
    if (dtype === "float64" || dtype === "int32") parts.push(`dtype=torch.${dtype}`);
    body = tensorStr(values, shape, dtype, indent, opts);
  }
  if (suffixes.gradFn !== undefined) parts.push(`grad_fn=<${suffixes.gradFn}>`);
  else if (suffixes.requiresGrad) parts.push("requires_grad=True");
  return addSuffixes(prefix + body, parts, indent, opts.linewidth);
}
