// Shapes, strides and offsets: the arithmetic every backend and autograd share.

/** A tensor's sizes, outermost first. */
export type Shape = readonly number[];

/** Number of elements in a tensor of this shape (1 for a 0-d tensor). */
export function numel(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/** Row-major strides, in elements, for a contiguous tensor of `shape`. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * True when `strides` walk `shape` in row-major order with no gaps, so the
 * elements sit at `offset .. offset + numel`. Size-1 dims may have any stride.
 */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (strides[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Formats a shape the way PyTorch prints a size in messages: `[2, 3]`. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/** True when two shapes have the same dims. */
export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Drops size-1 dims and merges neighbours that are contiguous with each
 * other, so kernels loop over as few dims as the layout allows. Returns the
 * merged shape and one stride list per input, all of the same length.
 */
export function coalesceDims(
  shape: Shape,
  stridesList: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d];
    if (size === 1) continue;
    const last = outShape.length - 1;
    if (
      last >= 0 &&
      stridesList.every((s, k) => outStrides[k][last] === s[d] * size)
    ) {
      outShape[last] *= size;
      for (let k = 0; k < stridesList.length; k++) outStrides[k][last] = stridesList[k][d];
      continue;
    }
    outShape.push(size);
    for (let k = 0; k < stridesList.length; k++) outStrides[k].push(stridesList[k][d]);
  }
  return { shape: outShape, strides: outStrides };
}
