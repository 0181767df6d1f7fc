// Rebuilding a saved view (storage offset, sizes, strides) over a shared
// storage tensor using only public view ops (narrow, view, slicing with a
// step, permute, expand), so that two tensors saved over one storage still
// share it once loaded. A geometry those ops cannot express (overlapping
// strides, say) is copied instead.

import { fromArray, type Tensor } from "@flint/autograd";

type Elements = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Position of the last element a view reaches, past its offset (or -1 when it has none). */
export function viewExtent(size: readonly number[], stride: readonly number[]): number {
  let last = 0;
  for (let i = 0; i < size.length; i++) {
    if (size[i] === 0) return -1;
    last += (size[i] - 1) * stride[i];
  }
  return last;
}

/**
 * A view of the 1-d `storage` with PyTorch's geometry, or null when the view
 * ops cannot express it. Dims of size 1 and stride 0 are set aside, the rest
 * are sorted by stride, and a contiguous "container" is found whose slices
 * with steps give those strides.
 */
export function stridedView(
  storage: Tensor,
  offset: number,
  size: readonly number[],
  stride: readonly number[],
): Tensor | null {
  const length = storage.shape[0];
  const ndim = size.length;
  const numel = size.reduce((n, d) => n * d, 1);
  if (numel === 0) return null;
  const kept = [...Array(ndim).keys()].filter((d) => size[d] > 1 && stride[d] > 0);
  kept.sort((a, b) => stride[b] - stride[a] || a - b);
  const n = kept.map((d) => size[d]);
  const t = kept.map((d) => stride[d]);
  const k = kept.length;
  // Container strides c (row-major over sizes m) and slice steps q with c[i] * q[i] = t[i].
  const c = new Array<number>(k);
  const q = new Array<number>(k);
  if (k > 0) {
    c[k - 1] = 1;
    q[k - 1] = t[k - 1];
    for (let i = k - 2; i >= 0; i--) {
      const inner = c[i + 1];
      const minM = (n[i + 1] - 1) * q[i + 1] + 1;
      if (t[i] % inner !== 0) return null;
      const found = smallestDivisorAtLeast(t[i] / inner, minM);
      if (found < 0) return null;
      c[i] = inner * found;
      q[i] = t[i] / c[i];
    }
  }
  const m = c.map((ci, i) => (i === 0 ? (n[0] - 1) * q[0] + 1 : c[i - 1] / ci));
  const total = k === 0 ? 1 : m[0] * c[0];
  if (offset + total > length) return null;
  let v = storage.narrow(0, offset, total);
  if (k > 0) {
    v = v.view(m);
    v = v.index(...n.map((ni, i) => ({ start: 0, stop: (ni - 1) * q[i] + 1, step: q[i] })));
  } else {
    v = v.view([]);
  }
  // Put back the set-aside dims as trailing size-1 dims, move every dim to its place, then expand.
  const rest = [...Array(ndim).keys()].filter((d) => !kept.includes(d));
  for (let i = 0; i < rest.length; i++) v = v.unsqueeze(v.ndim);
  const order = [...kept, ...rest];
  const perm = new Array<number>(ndim);
  order.forEach((d, i) => (perm[d] = i));
  if (ndim > 0) v = v.permute(perm);
  return size.some((d, i) => d !== v.shape[i]) ? v.expand(size) : v;
}

/** The smallest divisor of `x` that is at least `min`, or -1 (O(sqrt x), since strides can be large). */
function smallestDivisorAtLeast(x: number, min: number): number {
  let best = -1;
  for (let d = 1; d * d <= x; d++) {
    if (x % d !== 0) continue;
    if (d >= min) return d;
    const other = x / d;
    if (other >= min && (best < 0 || other < best)) best = other;
  }
  return best;
}

/** The elements of a strided view copied out, row-major. */
export function gatherStrided(
  data: Elements,
  offset: number,
  size: readonly number[],
  stride: readonly number[],
): Elements {
  const numel = size.reduce((n, d) => n * d, 1);
  const out = new (data.constructor as { new (n: number): Elements })(numel);
  const index = new Array<number>(size.length).fill(0);
  let at = offset;
  for (let i = 0; i < numel; i++) {
    out[i] = data[at];
    for (let d = size.length - 1; d >= 0; d--) {
      index[d]++;
      at += stride[d];
      if (index[d] < size[d]) break;
      at -= index[d] * stride[d];
      index[d] = 0;
    }
  }
  return out;
}

/** A tensor with the saved geometry over `storage`: a shared view when possible, else a copy. */
export function tensorFromStorage(
  storage: Tensor,
  data: Elements,
  offset: number,
  size: readonly number[],
  stride: readonly number[],
  options: Parameters<typeof fromArray>[2],
): Tensor {
  const view = stridedView(storage, offset, size, stride);
  return view ?? fromArray(gatherStrided(data, offset, size, stride), size, options);
}
