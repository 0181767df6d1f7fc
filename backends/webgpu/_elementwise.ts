// The element-wise ops as WGSL functions: one expression per op (from the
// tables in _wgsl.ts) wrapped in a typed function `f`, and the map kernel
// that calls it. Bools compute as i32 and are stored back as 0/1.

import { BINARY_OP_KIND, type BinaryOp, type DType, UNARY_OP_INFO, type UnaryOp } from "@flint/backend";
import type { Kernel } from "./_engine.ts";
import { type Access, type MapInput, mapKernel } from "./_kernels.ts";
import { BINARY_EXPR, computeOf, type Elem, elemOf, UNARY_EXPR, withHelpers } from "./_wgsl.ts";

/** An element-wise kernel whose expression calls the WGSL function `fn`. */
export function mapWithFunction(
  name: string,
  inputs: MapInput[],
  outElem: Elem,
  fn: string,
  call: string,
  outAccess: Access = "contig",
): Kernel {
  const kernel = mapKernel(`${name}:${fn}`, inputs, { access: outAccess as "contig" | "strided", elem: outElem }, call);
  return { ...kernel, code: () => `${fn}\n${kernel.code()}` };
}

/**
 * The WGSL function `f` of a unary op on one element of `elem`, and how the
 * kernel calls it. Bools compute as i32 and are stored back as 0/1.
 */
export function unaryFunction(op: UnaryOp, elem: Elem, dtype: DType): { fn: string; call: string } {
  const c = computeOf(elem);
  const expr = c === "f32" ? UNARY_EXPR[op].f32 : UNARY_EXPR[op].i32;
  if (expr === "") {
    throw new TypeError(`"${op}" is not implemented for '${dtype === "int32" ? "Int" : "Bool"}' tensors`);
  }
  const argType = c === "f32" ? "f32" : "i32";
  const fn = UNARY_OP_INFO[op].out === "bool"
    ? `fn f(x: ${argType}) -> u32 { return select(0u, 1u, ${expr}); }`
    : c === "u32"
    ? `fn f(x: i32) -> u32 { return select(0u, 1u, (${expr}) != 0); }`
    : `fn f(x: ${c}) -> ${c} { return ${expr}; }`;
  return { fn, call: c === "u32" ? "f(i32(v0))" : "f(v0)" };
}

/** The WGSL function `f` of a binary op on elements of `elem`, and how the kernel calls it. */
export function binaryFunction(op: BinaryOp, elem: Elem): { fn: string; call: string } {
  const c = computeOf(elem);
  const expr = c === "f32" ? BINARY_EXPR[op].f32 : BINARY_EXPR[op].i32;
  const argType = c === "f32" ? "f32" : "i32";
  const fn = BINARY_OP_KIND[op] !== "arith"
    ? `fn f(a: ${argType}, b: ${argType}) -> u32 { return select(0u, 1u, ${expr}); }`
    : c === "u32"
    ? `fn f(a: i32, b: i32) -> u32 { return select(0u, 1u, (${expr}) != 0); }`
    : `fn f(a: ${c}, b: ${c}) -> ${c} { return ${expr}; }`;
  return { fn, call: c === "u32" ? "f(i32(v0), i32(v1))" : "f(v0, v1)" };
}

/**
 * The complete WGSL (helpers included) of the kernel a unary or binary op
 * runs on contiguous inputs of `dtype`; `half` stores floats as f16. Needs no
 * device, so the float16 path can be checked where the adapter lacks it.
 */
export function elementwiseSource(
  kind: "unary" | "binary",
  op: UnaryOp | BinaryOp,
  dtype: DType,
  half: boolean,
): string {
  const elem = elemOf(dtype, half);
  const { fn, call } = kind === "unary"
    ? unaryFunction(op as UnaryOp, elem, dtype)
    : binaryFunction(op as BinaryOp, elem);
  const outElem: Elem = kind === "unary"
    ? (UNARY_OP_INFO[op as UnaryOp].out === "bool" ? "u32" : elem)
    : (BINARY_OP_KIND[op as BinaryOp] === "arith" ? elem : "u32");
  const inputs: MapInput[] = Array.from({ length: kind === "unary" ? 1 : 2 }, () => ({ access: "contig", elem }));
  return withHelpers(mapWithFunction(kind, inputs, outElem, fn, call).code());
}
