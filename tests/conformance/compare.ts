// Compares a tensor with an expected fixture tensor, as torch.testing does:
// |actual - expected| <= atol + rtol * |expected|, NaN equal only to NaN.

import type * as torch from "@flint/torch";
import { decodeNumber, type TensorSpec } from "./fixtures.ts";

/** Tolerances of a comparison. */
export interface Tolerance {
  rtol: number;
  atol: number;
}

/** Reads a tensor's values, on any device. */
async function valuesOf(t: torch.Tensor): Promise<number[]> {
  return Array.from(await t.data(), Number);
}

/** Null when `actual` matches `expected`, else a message naming the first mismatches. */
export async function mismatch(
  actual: torch.Tensor,
  expected: TensorSpec,
  tol: Tolerance,
  what: string,
): Promise<string | null> {
  const shape = actual.shape;
  if (shape.length !== expected.shape.length || shape.some((d, i) => d !== expected.shape[i])) {
    return `${what}: shape [${shape}] but PyTorch gives [${expected.shape}]`;
  }
  if (actual.dtype !== expected.dtype) return `${what}: dtype ${actual.dtype} but PyTorch gives ${expected.dtype}`;
  const got = await valuesOf(actual);
  const want = expected.data.map(decodeNumber);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const a = got[i], e = want[i];
    const ok = Number.isNaN(e)
      ? Number.isNaN(a)
      : !Number.isFinite(e)
      ? a === e
      : Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e);
    if (!ok) bad.push(`[${i}] ${a} vs ${e}`);
  }
  if (bad.length === 0) return null;
  return `${what}: ${bad.length} of ${want.length} values differ (rtol ${tol.rtol}, atol ${tol.atol}): ${
    bad.slice(0, 4).join(", ")
  }`;
}
