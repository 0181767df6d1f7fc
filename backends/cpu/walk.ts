// Walks strided tensors one innermost row at a time, so kernels run tight
// loops over rows and pay the multi-dim index bookkeeping once per row.

import { coalesceDims, contiguousStrides, numel, type Shape } from "@flint/backend";

/**
 * The rows of a strided walk over several operands that share one shape: the
 * merged outer shape, the length and per-operand step of the innermost row,
 * and per-operand strides of the outer dims.
 */
export interface RowPlan {
  /** number of rows */
  readonly rows: number;
  /** elements in each row */
  readonly rowLength: number;
  /** per operand: step between elements of a row */
  readonly rowStrides: readonly number[];
  /** dims outside the row, outermost first */
  readonly outerShape: readonly number[];
  /** per operand: strides of the outer dims */
  readonly outerStrides: readonly (readonly number[])[];
}

/** Plans a walk over `shape` for operands with these strides, merging dims where it can. */
export function planRows(shape: Shape, stridesList: readonly (readonly number[])[]): RowPlan {
  const merged = coalesceDims(shape, stridesList);
  const nd = merged.shape.length;
  if (nd === 0) {
    return {
      rows: numel(shape) === 0 ? 0 : 1,
      rowLength: numel(shape) === 0 ? 0 : 1,
      rowStrides: stridesList.map(() => 0),
      outerShape: [],
      outerStrides: stridesList.map(() => []),
    };
  }
  const rowLength = merged.shape[nd - 1];
  const outerShape = merged.shape.slice(0, nd - 1);
  return {
    rows: numel(shape) === 0 ? 0 : numel(outerShape),
    rowLength,
    rowStrides: merged.strides.map((s) => s[nd - 1]),
    outerShape,
    outerStrides: merged.strides.map((s) => s.slice(0, nd - 1)),
  };
}

/**
 * Calls `visit(offsets)` once per row, where `offsets[k]` is where operand k's
 * row starts. `offsets` is reused between calls: read it, do not keep it.
 */
export function walkRows(
  plan: RowPlan,
  starts: readonly number[],
  visit: (offsets: number[]) => void,
): void {
  const { rows, outerShape, outerStrides } = plan;
  const k = starts.length;
  const nd = outerShape.length;
  const offsets = starts.slice();
  const counter = new Array<number>(nd).fill(0);
  for (let r = 0; r < rows; r++) {
    visit(offsets);
    for (let d = nd - 1; d >= 0; d--) {
      counter[d]++;
      for (let j = 0; j < k; j++) offsets[j] += outerStrides[j][d];
      if (counter[d] < outerShape[d]) break;
      for (let j = 0; j < k; j++) offsets[j] -= outerStrides[j][d] * outerShape[d];
      counter[d] = 0;
    }
  }
}

/** Row-major strides of an output of `shape`, for use beside input strides in a plan. */
export function outputStrides(shape: Shape): number[] {
  return contiguousStrides(shape);
}

/**
 * Converts row-major positions within a view into storage offsets, for
 * gather and scatter on non-contiguous views.
 */
export function storageOffsets(
  shape: Shape,
  strides: readonly number[],
  offset: number,
  positions: Int32Array,
): Float64Array {
  const out = new Float64Array(positions.length);
  const nd = shape.length;
  for (let i = 0; i < positions.length; i++) {
    let p = positions[i];
    let o = offset;
    for (let d = nd - 1; d >= 0; d--) {
      const size = shape[d];
      const q = Math.floor(p / size);
      o += (p - q * size) * strides[d];
      p = q;
    }
    out[i] = o;
  }
  return out;
}
