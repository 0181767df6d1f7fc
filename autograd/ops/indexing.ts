// Indexing, as Python's `x[...]`: integers and slices give views; integer
// tensors and bool masks (advanced indexing) gather into a copy, and
// assignment scatters back. Slices can be written in Python syntax: "1:, ::2".

import { contiguousStrides, type DataArray, formatShape, numel, type Shape } from "@flint/backend";
import { noGrad } from "../grad_mode.ts";
import { Tensor } from "../tensor.ts";
import type { IndexPutOptions, IndexSpec, Slice } from "../types.ts";
import { backendOf, broadcastAll, castTo, fromStorage, record, sumToShape, viewOf } from "./_core.ts";
import { arange } from "./creation.ts";
import { apply_ } from "./inplace.ts";
import { type SliceStep, sliceView, unsqueeze } from "./views.ts";

// ---- gathering and scattering by row-major position ----

/** `x`'s elements at the row-major positions in `positions` (int32), in positions' shape. */
export function gatherFlat(x: Tensor, positions: Tensor, name: string): Tensor {
  const storage = backendOf(x).gather(viewOf(x), viewOf(positions));
  const out = fromStorage(x.device, storage, positions.shape, x.dtype);
  const inShape = x.shape;
  return record(out, name, [x], [positions], (g, [p]) => [scatterAddFlat(g, p, inShape)]);
}

/** Zeros of `shape` with `g` added at the row-major `positions`: gatherFlat's gradient. */
export function scatterAddFlat(g: Tensor, positions: Tensor, shape: Shape): Tensor {
  const backend = backendOf(g);
  const storage = backend.fill(numel(shape), 0, g.dtype);
  const out = fromStorage(g.device, storage, shape, g.dtype);
  backend.scatter(viewOf(out), viewOf(positions), viewOf(g), true);
  return record(out, "IndexPutBackward0", [g], [positions], (gg, [p]) => [gatherFlat(gg, p, "IndexBackward0")]);
}

/** `x` with `values` written (or added) at row-major `positions`: out of place. */
function putFlat(x: Tensor, positions: Tensor, values: Tensor | number, accumulate: boolean): Tensor {
  const backend = backendOf(x);
  const out = fromStorage(x.device, backend.cast(viewOf(x), x.dtype), x.shape, x.dtype);
  const src = values instanceof Tensor ? viewOf(castTo(values, x.dtype).expand(positions.shape)) : values;
  backend.scatter(viewOf(out), viewOf(positions), src, accumulate);
  return record(out, "IndexPutBackward0", [x, values], [positions], (g, [p]) => [
    accumulate ? g : putFlat(g, p, 0, false),
    values instanceof Tensor ? sumToShape(gatherFlat(g, p, "IndexBackward0"), values.shape) : null,
  ]);
}

// ---- reading index values ----

/** An index tensor's values on the host; advanced indexing needs them to check bounds and count masks. */
function hostValues(t: Tensor, what: string): DataArray {
  if (!t.device.backend.canReadSync) {
    throw new Error(
      `${what} needs the index values on the host, and the ${t.device.type} device cannot read them synchronously: ` +
        `move the index to the CPU first (idx.cpu()), or use maskedFill / where, which need no read`,
    );
  }
  return t.dataSync();
}

/** Positions of the true (non-zero) elements: an int32 tensor [count, ndim]. */
export function nonzero(x: Tensor): Tensor {
  const data = hostValues(x, "nonzero");
  const strides = contiguousStrides(x.shape);
  const rows: number[] = [];
  for (let p = 0; p < data.length; p++) {
    if (data[p] === 0) continue;
    let rest = p;
    for (let d = 0; d < x.ndim; d++) {
      rows.push(Math.floor(rest / strides[d]));
      rest %= strides[d];
    }
  }
  const count = rows.length / Math.max(x.ndim, 1);
  const out = Int32Array.from(rows);
  return fromStorage(
    x.device,
    backendOf(x).upload(out, "int32"),
    [x.ndim === 0 ? (data[0] ? 1 : 0) : count, x.ndim],
    "int32",
  );
}

/**
 * Checks index values against a dim size and wraps negative ones. On devices
 * that read synchronously the check is exact (PyTorch's message); elsewhere
 * negatives are wrapped on the device and the backend guards its bounds.
 */
function normalizeIndex(t: Tensor, size: number, dim: number, device: Tensor["device"]): Tensor {
  if (t.dtype !== "int32") {
    throw new TypeError(`tensors used as indices must be long, int, byte or bool tensors (got ${t.dtype})`);
  }
  if (!t.device.backend.canReadSync) {
    return noGrad(() => t.add(t.lt(0).to("int32").mul(size)));
  }
  const values = hostValues(t, "indexing with a tensor");
  const fixed = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < -size || v >= size) {
      throw new RangeError(`index ${v} is out of bounds for dimension ${dim} with size ${size}`);
    }
    fixed[i] = v < 0 ? v + size : v;
  }
  return fromStorage(device, device.backend.upload(fixed, "int32"), t.shape, "int32");
}

// ---- parsing an index expression ----

type Entry =
  | { kind: "int"; value: number }
  | { kind: "slice"; slice: Slice }
  | { kind: "none" }
  | { kind: "ellipsis" }
  | { kind: "tensor"; tensor: Tensor };

const SLICE_PATTERN = /^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*(?::\s*(-?\d+)?\s*)?$/;

function parseString(text: string): Entry {
  const s = text.trim();
  if (s === "...") return { kind: "ellipsis" };
  if (s === "None" || s === "null") return { kind: "none" };
  if (/^-?\d+$/.test(s)) return { kind: "int", value: Number(s) };
  const m = SLICE_PATTERN.exec(s);
  if (m) {
    const num = (v: string | undefined) => (v === undefined ? null : Number(v));
    return { kind: "slice", slice: { start: num(m[1]), stop: num(m[2]), step: num(m[3]) } };
  }
  throw new SyntaxError(
    `invalid index ${JSON.stringify(text)}: expected an integer, a slice like "1:3" or "::2", "..." or "None"`,
  );
}

function parseSpec(spec: readonly IndexSpec[], x: Tensor): Entry[] {
  const entries: Entry[] = [];
  for (const item of spec) {
    if (item === null) entries.push({ kind: "none" });
    else if (typeof item === "number") {
      if (!Number.isInteger(item)) throw new TypeError(`indices must be integers, got ${item}`);
      entries.push({ kind: "int", value: item });
    } else if (typeof item === "string") {
      for (const part of item.split(",")) entries.push(parseString(part));
    } else if (item instanceof Tensor) {
      entries.push({ kind: "tensor", tensor: item.device === x.device ? item : item.to(x.device) });
    } else if (Array.isArray(item)) {
      const t = fromStorage(x.device, x.device.backend.upload(Int32Array.from(item as number[]), "int32"), [
        item.length,
      ], "int32");
      entries.push({ kind: "tensor", tensor: t });
    } else entries.push({ kind: "slice", slice: item as Slice });
  }
  if (entries.filter((e) => e.kind === "ellipsis").length > 1) {
    throw new SyntaxError("an index can only have a single ellipsis ('...')");
  }
  return entries;
}

/** Python slice semantics, clamped to the dim: start, step and the resulting length. */
function resolveSlice(slice: Slice, size: number): { start: number; step: number; length: number } {
  const step = slice.step ?? 1;
  if (!Number.isInteger(step) || step <= 0) throw new RangeError(`slice step must be positive, got ${step}`);
  const clamp = (v: number | null | undefined, fallback: number) => {
    if (v === null || v === undefined) return fallback;
    const w = v < 0 ? v + size : v;
    return Math.min(Math.max(w, 0), size);
  };
  const start = clamp(slice.start, 0);
  const stop = clamp(slice.stop, size);
  return { start, step, length: Math.max(0, Math.ceil((stop - start) / step)) };
}

/** What an index expression does: a basic view, then optional advanced indices on the view's dims. */
interface Plan {
  readonly view: Tensor;
  /** advanced index tensors (int32, normalised) by the view dim they index */
  readonly advanced: readonly { dim: number; index: Tensor }[];
}

function planIndex(x: Tensor, spec: readonly IndexSpec[]): Plan {
  const entries = parseSpec(spec, x);
  const consumed = entries.reduce(
    (n, e) =>
      n +
      (e.kind === "int" || e.kind === "slice"
        ? 1
        : e.kind === "tensor"
        ? Math.max(e.tensor.dtype === "bool" ? e.tensor.ndim : 1, 0)
        : 0),
    0,
  );
  if (consumed > x.ndim) {
    throw new RangeError(`too many indices for tensor of dimension ${x.ndim}`);
  }
  const slices: SliceStep[] = [];
  const selects: { dim: number; index: number }[] = [];
  const nones: number[] = [];
  const advanced: { outDim: number; inDim: number; tensor: Tensor }[] = [];
  let lastKind: "select" | "slice" | undefined;
  let d = 0;
  let od = 0;
  for (const e of entries) {
    if (e.kind === "ellipsis") {
      const skip = x.ndim - consumed;
      d += skip;
      od += skip;
    } else if (e.kind === "none") {
      nones.push(od++);
      lastKind = undefined;
    } else if (e.kind === "int") {
      const size = x.shape[d];
      if (e.value < -size || e.value >= size) {
        throw new RangeError(`index ${e.value} is out of bounds for dimension ${d} with size ${size}`);
      }
      selects.push({ dim: d, index: e.value < 0 ? e.value + size : e.value });
      lastKind = "select";
      d++;
    } else if (e.kind === "slice") {
      const r = resolveSlice(e.slice, x.shape[d]);
      if (!(r.start === 0 && r.step === 1 && r.length === x.shape[d])) {
        slices.push({ dim: d, start: r.start, step: r.step, size: r.length });
        lastKind = "slice";
      }
      d++;
      od++;
    } else if (e.tensor.dtype === "bool") {
      const mask = e.tensor;
      for (let k = 0; k < mask.ndim; k++) {
        if (mask.shape[k] !== x.shape[d + k]) {
          throw new RangeError(
            `The shape of the mask ${formatShape(mask.shape)} at index ${k} does not match the shape of the indexed ` +
              `tensor ${formatShape(x.shape)} at index ${d + k}`,
          );
        }
      }
      const positions = nonzero(mask);
      if (mask.ndim === 0) {
        // x[True] adds a dim of size 1; x[False] one of size 0.
        nones.push(od);
        advanced.push({ outDim: od++, inDim: -1, tensor: arange(0, positions.shape[0], { device: x.device }) });
      }
      for (let k = 0; k < mask.ndim; k++) {
        advanced.push({ outDim: od++, inDim: d + k, tensor: positions.select(1, k) });
      }
      d += mask.ndim;
    } else {
      advanced.push({ outDim: od++, inDim: d, tensor: e.tensor });
      d++;
    }
  }
  let view = x;
  if (slices.length > 0 || selects.length > 0) {
    view = sliceView(x, slices, selects, lastKind === "select" ? "SelectBackward0" : "SliceBackward0");
  }
  for (const pos of nones) view = unsqueeze(view, pos);
  const normalized = advanced.map((a) => ({
    dim: a.outDim,
    index: a.inDim < 0 ? a.tensor : normalizeIndex(a.tensor, x.shape[a.inDim], a.inDim, x.device),
  }));
  return { view, advanced: normalized };
}

/**
 * Row-major positions into `view` for advanced indices: the result shape is
 * the indices' broadcast shape in place of the indexed dims when those are
 * adjacent, or in front otherwise (NumPy's rule, which PyTorch follows).
 */
function advancedPositions(view: Tensor, advanced: readonly { dim: number; index: Tensor }[]): Tensor {
  const dims = advanced.map((a) => a.dim);
  const broadcast = broadcastAll(...advanced.map((a) => a.index.shape));
  const adjacent = dims.every((dd, i) => i === 0 || dd === dims[i - 1] + 1);
  const rest = view.shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const before = adjacent ? rest.filter((i) => i < dims[0]) : [];
  const after = adjacent ? rest.filter((i) => i > dims[0]) : rest;
  const rank = before.length + broadcast.length + after.length;
  const strides = contiguousStrides(view.shape);
  const shapeWith = (at: number, sizes: readonly number[]) => {
    const s = new Array<number>(rank).fill(1);
    sizes.forEach((v, i) => (s[at + i] = v));
    return s;
  };
  return noGrad(() => {
    let positions: Tensor | undefined;
    const addTerm = (term: Tensor) => (positions = positions === undefined ? term : positions.add(term));
    for (const a of advanced) {
      const expanded = a.index.expand(broadcast).mul(strides[a.dim]);
      addTerm(expanded.reshape(shapeWith(before.length, broadcast)));
    }
    before.forEach((dim, i) =>
      addTerm(
        arange(view.shape[dim], { device: view.device }).mul(strides[dim]).reshape(shapeWith(i, [view.shape[dim]])),
      )
    );
    after.forEach((dim, i) => {
      const at = before.length + broadcast.length + i;
      addTerm(
        arange(view.shape[dim], { device: view.device }).mul(strides[dim]).reshape(shapeWith(at, [view.shape[dim]])),
      );
    });
    const outShape = [...before.map((i) => view.shape[i]), ...broadcast, ...after.map((i) => view.shape[i])];
    return castTo(positions!.expand(outShape).contiguous(), "int32");
  });
}

/** `x[spec]`: views for integers, slices, None and "..."; a gathered copy when tensors index. */
export function index(x: Tensor, spec: readonly IndexSpec[]): Tensor {
  const plan = planIndex(x, spec);
  if (plan.advanced.length === 0) {
    return plan.view === x ? sliceView(x, [], [], "AliasBackward0") : plan.view;
  }
  return gatherFlat(plan.view, advancedPositions(plan.view, plan.advanced), "IndexBackward0");
}

/** `x[indices] = values` (or `+=` with `accumulate`), in place. */
export function indexPut_(
  x: Tensor,
  indices: readonly IndexSpec[],
  values: Tensor | number,
  options: IndexPutOptions,
): void {
  const accumulate = options.accumulate ?? false;
  // A lone bool mask over leading dims with a scalar value needs no read of
  // the mask: it is masked_fill (grad_h[h < 0] = 0).
  const [only] = indices;
  if (
    indices.length === 1 && only instanceof Tensor && only.dtype === "bool" && !accumulate &&
    (typeof values === "number" || values.ndim === 0) &&
    only.ndim <= x.ndim && only.shape.every((s, i) => s === x.shape[i])
  ) {
    const mask = only.reshape([...only.shape, ...new Array<number>(x.ndim - only.ndim).fill(1)]);
    apply_(x, (t) => t.maskedFill(mask, values));
    return;
  }
  const plan = planIndex(x, indices);
  if (plan.advanced.length === 0) {
    const target = plan.view;
    if (accumulate) target.add_(values);
    else if (values instanceof Tensor) target.copy_(values);
    else target.fill_(values);
    return;
  }
  const positions = advancedPositions(plan.view, plan.advanced);
  if (values instanceof Tensor) broadcastAll(values.shape, positions.shape);
  apply_(plan.view, (t) => putFlat(t, positions, values, accumulate));
}

/** Row-major positions in a tensor of `shape` for `index` values along `dim` (gather's addressing). */
export function positionsAlong(index: Tensor, dim: number, shape: readonly number[]): Tensor {
  const strides = contiguousStrides(shape);
  return noGrad(() => {
    let p = index.mul(strides[dim] ?? 1);
    for (let k = 0; k < index.ndim; k++) {
      if (k === dim) continue;
      const s = index.shape.map((v, i) => (i === k ? v : 1));
      p = p.add(arange(index.shape[k], { device: index.device }).mul(strides[k]).reshape(s));
    }
    return p;
  });
}

/** Values of `x` along `dim` at `index` (same rank as x), as `torch.gather`. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = dimOf(dim, x.ndim);
  if (index.ndim !== x.ndim && !(index.ndim <= 1 && x.ndim <= 1)) {
    throw new RangeError("Index tensor must have the same number of dimensions as input tensor");
  }
  for (let k = 0; k < index.ndim; k++) {
    if (k !== d && index.shape[k] > x.shape[k]) {
      throw new RangeError(
        `Size does not match at dimension ${k} expected index ${formatShape(index.shape)} to be smaller than self ` +
          `${formatShape(x.shape)} apart from dimension ${d}`,
      );
    }
  }
  const idx = normalizeIndex(index, x.shape[d] ?? 1, d, x.device);
  const positions = positionsAlong(idx, d, x.shape);
  return gatherFlat(x, positions, "GatherBackward0");
}

/** The entries `index` (1-d) selects along `dim`, as `torch.index_select`. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = dimOf(dim, x.ndim);
  if (index.ndim > 1) throw new RangeError("index_select(): Index is supposed to be a vector");
  if (x.ndim === 0) {
    // A 0-d input is indexed as its one element, as in PyTorch.
    normalizeIndex(index, 1, 0, x.device);
    return gatherFlat(
      x,
      fromStorage(x.device, x.device.backend.fill(1, 0, "int32"), [], "int32"),
      "IndexSelectBackward0",
    );
  }
  const idx = normalizeIndex(index.reshape([-1]), x.shape[d] ?? 1, d, x.device);
  const positions = advancedPositions(x, [{ dim: d, index: idx }]);
  return gatherFlat(x, positions, "IndexSelectBackward0");
}

/** The elements of `x` where `mask` is true (broadcasting both), as a 1-d tensor. */
export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  if (mask.dtype !== "bool") throw new TypeError(`masked_select: expected BoolTensor for mask, got ${mask.dtype}`);
  const shape = broadcastAll(x.shape, mask.shape);
  const flatMask = mask.expand(shape).reshape([-1]);
  const positions = nonzero(flatMask).reshape([-1]);
  return gatherFlat(x.expand(shape), positions, "MaskedSelectBackward0");
}

function dimOf(dim: number, ndim: number): number {
  const n = Math.max(ndim, 1);
  if (!Number.isInteger(dim) || dim < -n || dim >= n) {
    throw new RangeError(`Dimension out of range (expected to be in range of [${-n}, ${n - 1}], but got ${dim})`);
  }
  return dim < 0 ? dim + n : dim;
}
