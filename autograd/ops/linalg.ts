// Matrix products, with PyTorch's shape rules and messages.

import { formatShape, isFloatingPoint, type View } from "@flint/backend";
import { noGrad } from "../grad_mode.ts";
import type { Tensor } from "../tensor.ts";
import {
  broadcastShapes,
  commonDevice,
  expandedView,
  fromStorage,
  record,
  sumToShape,
  torchTypeName,
  viewOf,
} from "./_core.ts";

/** A 2-d or 3-d tensor as the backend's [B, M, K] view (a 2-d one gets batch 1). */
function as3d(x: Tensor): View {
  const v = viewOf(x);
  return x.ndim === 3 ? v : { ...v, shape: [1, ...v.shape], strides: [0, ...v.strides] };
}

function checkSameDtype(a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new TypeError(`expected m1 and m2 to have the same dtype, but got: ${a.dtype} != ${b.dtype}`);
  }
  if (a.dtype === "bool") throw new TypeError("matrix products are not defined for bool tensors");
}

function product(a: Tensor, b: Tensor, shape: readonly number[]): Tensor {
  const device = commonDevice([a, b]);
  return fromStorage(device, device.backend.matmul(as3d(a), as3d(b)), shape, a.dtype);
}

function checkInnerSizes(a: Tensor, b: Tensor): void {
  if (a.shape[1] !== b.shape[0]) {
    throw new RangeError(
      `mat1 and mat2 shapes cannot be multiplied (${a.shape[0]}x${a.shape[1]} and ${b.shape[0]}x${b.shape[1]})`,
    );
  }
}

/** Product of two matrices: [n, m] · [m, p] → [n, p]. */
export function mm(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 2) {
    throw new RangeError(`self must be a matrix (got a ${a.ndim}-d tensor of shape ${formatShape(a.shape)})`);
  }
  if (b.ndim !== 2) {
    throw new RangeError(`mat2 must be a matrix (got a ${b.ndim}-d tensor of shape ${formatShape(b.shape)})`);
  }
  checkInnerSizes(a, b);
  checkSameDtype(a, b);
  const out = product(a, b, [a.shape[0], b.shape[1]]);
  if (!isFloatingPoint(out.dtype)) return out;
  return record(out, "MmBackward0", [a, b], [a, b], (g, [sa, sb]) => [
    a.requiresGrad ? mmGradA(g, sb, sa) : null,
    b.requiresGrad ? mmGradB(g, sa, sb) : null,
  ]);
}

/** The gradient of a in a · b, given b: in a's own layout when a is column-major (see columnMajor). */
function mmGradA(g: Tensor, b: Tensor, a: Tensor): Tensor {
  return columnMajor(a) ? mm(b, g.t()).t() : mm(g, b.t());
}

/** The gradient of b in a · b, given a. */
function mmGradB(g: Tensor, a: Tensor, b: Tensor): Tensor {
  return columnMajor(b) ? mm(g.t(), a).t() : mm(a.t(), g);
}

/** Options of {@linkcode addmm}. */
export interface AddmmOptions {
  /** the factor of `input` (default 1; 0 ignores its values, NaN included) */
  beta?: number;
  /** the factor of the product (default 1) */
  alpha?: number;
}

/**
 * `beta * input + alpha * (mat1 · mat2)`, as `torch.addmm`: `input`
 * broadcasts to the product's [n, p]. With both factors 1 a backend's fused
 * kernel does it in one op, as a Linear layer's forward uses it.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const bias = torch.tensor([10, 20]);
 * const y = torch.addmm(bias, torch.tensor([[1, 2]]), torch.tensor([[1, 0], [0, 1]]));
 * console.log(y.tolistSync()); // [[11, 22]]
 * ```
 */
export function addmm(input: Tensor, mat1: Tensor, mat2: Tensor, options: AddmmOptions = {}): Tensor {
  const beta = options.beta ?? 1, alpha = options.alpha ?? 1;
  for (const [name, m] of [["mat1", mat1], ["mat2", mat2]] as const) {
    if (m.ndim !== 2) throw new RangeError(`${name} must be a matrix, got ${m.ndim}-D tensor`);
  }
  checkInnerSizes(mat1, mat2);
  if (input.dtype !== mat1.dtype || mat2.dtype !== mat1.dtype) {
    throw new TypeError("self and mat2 must have the same dtype");
  }
  const shape = [mat1.shape[0], mat2.shape[1]];
  if (input.ndim > 2) {
    throw new RangeError(
      `expand(torch.${torchTypeName(input.dtype)}Tensor{${formatShape(input.shape)}}, ` +
        `size=${formatShape(shape)}): the number of sizes provided (2) must be greater or equal to the number of ` +
        `dimensions in the tensor (${input.ndim})`,
    );
  }
  const device = commonDevice([input, mat1, mat2]);
  const biasView = expandedView(input, shape);
  const fused = device.backend.fused.addmm;
  const out = noGrad(() => {
    if (fused && alpha === 1 && beta === 1 && isFloatingPoint(mat1.dtype)) {
      return fromStorage(device, fused(biasView, viewOf(mat1), viewOf(mat2)), shape, mat1.dtype);
    }
    const p = alpha === 1 ? mm(mat1, mat2) : mm(mat1, mat2).mul(alpha);
    // beta = 0 ignores input's values (NaN included), as PyTorch does.
    return beta === 0 ? p : p.add(beta === 1 ? input : input.mul(beta));
  });
  if (!isFloatingPoint(out.dtype)) return out;
  // Each matrix is kept only when the other's gradient needs it, as PyTorch saves them.
  return record(
    out,
    "AddmmBackward0",
    [input, mat1, mat2],
    [mat2.requiresGrad ? mat1 : null, mat1.requiresGrad ? mat2 : null],
    (g, [s1, s2]) => {
      const scaled = alpha === 1 ? g : g.mul(alpha);
      return [
        input.requiresGrad ? sumToShape(beta === 1 ? g : g.mul(beta), input.shape) : null,
        mat1.requiresGrad ? mmGradA(scaled, s2, mat1) : null,
        mat2.requiresGrad ? mmGradB(scaled, s1, mat2) : null,
      ];
    },
  );
}

/**
 * True for a matrix stored column by column (the transpose of a contiguous
 * one, as `linear`'s `weight.t()`). Its gradient is then computed in the same
 * layout, as PyTorch's mm_mat1_backward and mm_mat2_backward do, so that the
 * weight's own gradient comes out contiguous: the optimizer and every op on
 * it then read it in order instead of through a transpose.
 */
function columnMajor(x: Tensor): boolean {
  const [rows, cols] = x.shape;
  return rows > 1 && cols > 1 && x.stride(0) === 1 && x.stride(1) === rows;
}

/** Product of two batches of matrices: [B, n, m] · [B, m, p] → [B, n, p]. */
export function bmm(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 3) throw new RangeError(`batch1 must be a 3D tensor (got shape ${formatShape(a.shape)})`);
  if (b.ndim !== 3) throw new RangeError(`batch2 must be a 3D tensor (got shape ${formatShape(b.shape)})`);
  if (b.shape[0] !== a.shape[0] || b.shape[1] !== a.shape[2]) {
    throw new RangeError(
      `Expected size for first two dimensions of batch2 tensor to be: [${a.shape[0]}, ${a.shape[2]}] but got: ` +
        `[${b.shape[0]}, ${b.shape[1]}].`,
    );
  }
  checkSameDtype(a, b);
  const out = product(a, b, [a.shape[0], a.shape[1], b.shape[2]]);
  if (!isFloatingPoint(out.dtype)) return out;
  return record(out, "BmmBackward0", [a, b], [a, b], (g, [sa, sb]) => [
    a.requiresGrad ? bmm(g, sb.transpose(1, 2)) : null,
    b.requiresGrad ? bmm(sa.transpose(1, 2), g) : null,
  ]);
}

/** Dot product of two 1-d tensors of equal length. */
export function dot(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1) {
    throw new RangeError(`1D tensors expected, but got ${a.ndim}D and ${b.ndim}D tensors`);
  }
  if (a.shape[0] !== b.shape[0]) {
    throw new RangeError(
      `inconsistent tensor size, expected tensor [${a.shape[0]}] and src [${b.shape[0]}] to have the same number ` +
        `of elements, but got ${a.shape[0]} and ${b.shape[0]} elements respectively`,
    );
  }
  checkSameDtype(a, b);
  const out = product(a.reshape([1, -1]), b.reshape([-1, 1]), []);
  if (!isFloatingPoint(out.dtype)) return out;
  return record(out, "DotBackward0", [a, b], [a, b], (g, [sa, sb]) => [g.mul(sb), g.mul(sa)]);
}

/** Matrix-vector product: [n, m] · [m] → [n]. */
export function mv(a: Tensor, v: Tensor): Tensor {
  if (a.ndim !== 2 || v.ndim !== 1) {
    throw new RangeError(`vector + matrix @ vector expected, got ${a.ndim}, ${v.ndim}`);
  }
  if (a.shape[1] !== v.shape[0]) {
    throw new RangeError(
      `size mismatch, got input (${a.shape[0]}), mat (${a.shape[0]}x${a.shape[1]}), vec (${v.shape[0]})`,
    );
  }
  checkSameDtype(a, v);
  const out = product(a, v.reshape([-1, 1]), [a.shape[0]]);
  if (!isFloatingPoint(out.dtype)) return out;
  return record(out, "MvBackward0", [a, v], [a, v], (g, [sa, sv]) => [
    a.requiresGrad ? outer(g, sv) : null,
    v.requiresGrad ? mv(sa.t(), g) : null,
  ]);
}

/** Outer product of two 1-d tensors. */
export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1) throw new RangeError(`outer expects 1-d tensors, got ${a.ndim}-d and ${b.ndim}-d`);
  return a.reshape([-1, 1]).mul(b.reshape([1, -1]));
}

/**
 * Matrix product with PyTorch's rules: 1-d·1-d is a dot product, 2-d·2-d a
 * matrix product, a 1-d operand is treated as a row (or column) and its dim
 * removed afterwards, and extra leading dims are batch dims that broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) {
    throw new RangeError(`both arguments to matmul need to be at least 1D, but they are ${a.ndim}D and ${b.ndim}D`);
  }
  if (a.ndim === 1 && b.ndim === 1) return dot(a, b);
  if (a.ndim === 2 && b.ndim === 2) return mm(a, b);
  if (a.ndim === 2 && b.ndim === 1) return mv(a, b);
  if (a.ndim === 1 && b.ndim === 2) return mm(a.unsqueeze(0), b).squeeze(0);
  const k = a.shape[a.ndim - 1];
  const kb = b.ndim === 1 ? b.shape[0] : b.shape[b.ndim - 2];
  if (k !== kb) {
    const rows = a.ndim === 1 ? 1 : a.shape[a.ndim - 2];
    throw new RangeError(
      `mat1 and mat2 shapes cannot be multiplied (${a.numel() / k}x${k} and ${kb}x${
        b.ndim === 1 ? 1 : b.shape[b.ndim - 1]
      })` +
        ` (operands of shape ${formatShape(a.shape)} and ${formatShape(b.shape)}, ${rows} rows)`,
    );
  }
  if (b.ndim <= 2 && a.ndim >= 3) {
    // Fold a's batch dims into its rows: one matrix product.
    const rowsShape = a.shape.slice(0, -1);
    const flat = mm(a.reshape([-1, k]), b.ndim === 1 ? b.unsqueeze(1) : b);
    return flat.reshape(b.ndim === 1 ? rowsShape : [...rowsShape, b.shape[1]]);
  }
  const a2 = a.ndim === 1 ? a.unsqueeze(0) : a;
  const b2 = b.ndim === 1 ? b.unsqueeze(1) : b;
  const batch = broadcastShapes(a2.shape.slice(0, -2), b2.shape.slice(0, -2));
  const [m, n] = [a2.shape[a2.ndim - 2], b2.shape[b2.ndim - 1]];
  const count = batch.reduce((x, y) => x * y, 1);
  const a3 = a2.expand([...batch, m, k]).reshape([count, m, k]);
  const b3 = b2.expand([...batch, k, n]).reshape([count, k, n]);
  let out = bmm(a3, b3).reshape([...batch, m, n]);
  if (a.ndim === 1) out = out.squeeze(-2);
  if (b.ndim === 1) out = out.squeeze(-1);
  return out;
}
