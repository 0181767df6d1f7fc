// Kernel generators for the required ops: element-wise maps over strided
// views (fill, cast, copy, unary, binary, where), reductions, arg-reductions,
// gather and scatter. Each returns a Kernel whose key names everything the
// WGSL depends on, so the engine compiles each variant once.
//
// Strided addressing reads the shape and strides from the params buffer at
// run time, so one pipeline serves every rank; operands laid out row-major
// take the contiguous fast path (offset + i) instead.

import { contiguousStrides, type ReduceOp } from "@flint/backend";
import type { Kernel } from "./_engine.ts";
import {
  atomicAdd,
  atomicElem,
  type Compute,
  computeOf,
  convert,
  declare,
  type Elem,
  load,
  REDUCE_EXPR,
  store,
} from "./_wgsl.ts";

/** Threads per workgroup of the linear kernels. */
export const WG = 64;

/** How a map operand is addressed. */
export type Access = "contig" | "strided" | "scalar";

/** One input of a map kernel. */
export interface MapInput {
  readonly access: Access;
  readonly elem: Elem;
}

/** Params header of map kernels: n, rank, 4 scalar slots, 5 operand bases, extra base. */
const HEADER = 12;
const SCALAR_SLOT = 2;
const BASE_SLOT = 6;
export const EXTRA_SLOT = 11;

/** A map operand's block in the params: where its element [0, ...] is, and its strides when strided. */
export interface Block {
  readonly offset: number;
  readonly strides: readonly number[] | null;
}

/**
 * Params of a map kernel: `n` elements over the (coalesced) `shape`, one
 * block per non-scalar operand (in binding order), scalar bit patterns, and
 * an optional extra block the kernel reads by itself.
 */
export function mapParams(
  n: number,
  shape: readonly number[],
  blocks: readonly Block[],
  scalars: readonly number[] = [],
  extra: readonly number[] = [],
): Int32Array {
  const words: number[] = new Array(HEADER).fill(0);
  words[0] = n;
  words[1] = shape.length;
  scalars.forEach((s, k) => (words[SCALAR_SLOT + k] = s));
  words.push(...shape);
  blocks.forEach((b, k) => {
    words[BASE_SLOT + k] = words.length;
    words.push(b.offset);
    if (b.strides) words.push(...b.strides);
  });
  words[EXTRA_SLOT] = words.length;
  words.push(...extra);
  return Int32Array.from(words);
}

/** The bits of `value` as the scalar slot of compute type `c` holds it. */
export function scalarBits(value: number, c: Compute): number {
  if (c === "f32") return new Int32Array(Float32Array.of(value).buffer)[0];
  if (c === "i32") return Number.isFinite(value) ? Math.trunc(value) | 0 : 0;
  return value !== 0 ? 1 : 0;
}

const PARAMS = declare(0, "P", "i32", false);

/**
 * Statements computing `o<k>` (the element offset) for each non-scalar
 * operand `k` of a map from the linear index `i`, decomposing `i` over the
 * shape only when some operand is strided.
 */
export function offsetsCode(accesses: readonly Access[]): string {
  const lines: string[] = [];
  const strided: number[] = [];
  let block = 0;
  accesses.forEach((a, k) => {
    if (a === "scalar") return;
    const base = `P[${BASE_SLOT + block}]`;
    if (a === "contig") lines.push(`let o${k} = P[${base}] + i;`);
    else {
      lines.push(`var o${k} = P[${base}];`);
      strided.push(k);
      lines.push(`let b${k} = ${base} + 1;`);
    }
    block++;
  });
  if (strided.length > 0) {
    lines.push(
      "var r = i;",
      "for (var d = P[1] - 1; d >= 0; d--) {",
      `  let s = P[${HEADER} + d];`,
      "  let q = r / s;",
      "  let c = r - q * s;",
      "  r = q;",
      ...strided.map((k) => `  o${k} += c * P[b${k} + d];`),
      "}",
    );
  }
  return lines.join("\n  ");
}

/** The kernel entry point with the linear index `i` over P[0] elements. */
export function linearMain(body: string, workgroup = WG): string {
  return `@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = i32(gid.x + (gid.y + gid.z * nwg.y) * nwg.x * ${workgroup}u);
  if (i >= P[0]) { return; }
  ${body}
}`;
}

/** Loads input `k` (value `v<k>`) of compute type `c`, from its binding or its scalar slot. */
function inputValue(k: number, input: MapInput, binding: string, scalarSlot: number): string {
  const c = computeOf(input.elem);
  if (input.access === "scalar") return `let v${k}: ${c} = bitcast<${c}>(P[${SCALAR_SLOT + scalarSlot}]);`;
  return `let v${k}: ${c} = ${load(binding, input.elem, `o${k}`)};`;
}

/**
 * An element-wise kernel: inputs (views or scalars) and one output, which is
 * contiguous (a new storage) or strided (copy's destination). `expr` maps
 * the input values `v0, v1, ...` to the output's compute value.
 */
export function mapKernel(
  name: string,
  inputs: readonly MapInput[],
  output: { readonly access: "contig" | "strided"; readonly elem: Elem },
  expr: string,
): Kernel {
  const code = (a: Access) => ({ contig: "c", strided: "s", scalar: "k" })[a];
  const key = `map:${name}:${inputs.map((x) => `${code(x.access)}${x.elem}`).join(",")}>${
    code(output.access)
  }${output.elem}`;
  const bound = inputs.filter((x) => x.access !== "scalar");
  const bindings = [...bound.map(() => "read" as const), "write" as const];
  return {
    key,
    bindings,
    code: () => {
      const decls = [PARAMS];
      let binding = 1;
      let scalar = 0;
      const values: string[] = [];
      inputs.forEach((x, k) => {
        if (x.access === "scalar") {
          values.push(inputValue(k, x, "", scalar++));
          return;
        }
        decls.push(declare(binding++, `in${k}`, x.elem, false));
        values.push(inputValue(k, x, `in${k}`, 0));
      });
      decls.push(declare(binding, "out", output.elem, true));
      const outK = inputs.length;
      const offsets = offsetsCode([...inputs.map((x) => x.access), output.access]);
      const body = [offsets, ...values, store("out", output.elem, `o${outK}`, expr)].join("\n  ");
      return `${decls.join("\n")}\n\n${linearMain(body)}`;
    },
  };
}

// ---- reductions ----

/**
 * Params of a reduction: output count, kept dims (shape, input strides),
 * reduced dims (shape, input strides), the reduced count and the offset.
 */
export function reduceParams(
  nOut: number,
  kept: { shape: readonly number[]; strides: readonly number[] },
  reduced: { shape: readonly number[]; strides: readonly number[] },
  inner: number,
  offset: number,
): Int32Array {
  return Int32Array.from([
    nOut,
    kept.shape.length,
    reduced.shape.length,
    inner,
    offset,
    ...kept.shape,
    ...kept.strides,
    ...reduced.shape,
    ...reduced.strides,
  ]);
}

const REDUCE_HELPERS = `fn kept_offset(p: i32) -> i32 {
  let kr = P[1];
  var r = p;
  var o = P[4];
  for (var d = kr - 1; d >= 0; d--) {
    let s = P[5 + d];
    let q = r / s;
    o += (r - q * s) * P[5 + kr + d];
    r = q;
  }
  return o;
}
fn reduced_offset(p: i32) -> i32 {
  let kr = P[1];
  let rr = P[2];
  let base = 5 + 2 * kr;
  var r = p;
  var o = 0;
  for (var d = rr - 1; d >= 0; d--) {
    let s = P[base + d];
    let q = r / s;
    o += (r - q * s) * P[base + rr + d];
    r = q;
  }
  return o;
}`;

/** Workgroup size of the tree reductions. */
export const REDUCE_WG = 64;

/**
 * A reduction kernel. `tree`: one workgroup per output, threads stride over
 * the reduced elements and combine in shared memory (for long reductions);
 * otherwise one thread per output loops (for many short ones). `flatInner`:
 * the reduced dims coalesced into one, read with a single stride.
 */
export function reduceKernel(op: ReduceOp, elem: Elem, outElem: Elem, tree: boolean, flatInner: boolean): Kernel {
  const c = computeOf(elem);
  const logical = op === "any" || op === "all";
  const acc: Compute = logical ? "u32" : c;
  const outC = computeOf(outElem);
  const expr = REDUCE_EXPR[op];
  const prep = logical ? convert("x", c, "u32") : "x";
  const finish = convert("a", acc, outC);
  const key = `reduce:${op}:${elem}>${outElem}:${tree ? "tree" : "serial"}:${flatInner ? "flat" : "nd"}`;
  return {
    key,
    bindings: ["read", "write"],
    code: () => {
      const at = flatInner ? "base + j * P[5 + 2 * P[1] + 1]" : "base + reduced_offset(j)";
      const header = `${PARAMS}
${declare(1, "x", elem, false)}
${declare(2, "out", outElem, true)}
${REDUCE_HELPERS}
fn fold(acc: ${acc}, v: ${acc}) -> ${acc} { return ${expr.fold[acc]}; }
fn value(x: ${c}) -> ${acc} { return ${prep}; }
fn finish(a: ${acc}) -> ${outC} { return ${finish}; }`;
      if (!tree) {
        return `${header}
${
          linearMain(`let base = kept_offset(i);
  var acc: ${acc} = ${expr.init[acc]};
  for (var j = 0; j < P[3]; j++) { acc = fold(acc, value(${load("x", elem, at)})); }
  ${store("out", outElem, "i", "finish(acc)")}`)
        }`;
      }
      return `${header}
var<workgroup> shared_acc: array<${acc}, ${REDUCE_WG}>;
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = i32(wid.x + (wid.y + wid.z * nwg.y) * nwg.x);
  let valid = i < P[0];
  var acc: ${acc} = ${expr.init[acc]};
  if (valid) {
    let base = kept_offset(i);
    for (var j = i32(lid); j < P[3]; j += ${REDUCE_WG}) { acc = fold(acc, value(${load("x", elem, at)})); }
  }
  shared_acc[lid] = acc;
  workgroupBarrier();
  for (var s = ${REDUCE_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { shared_acc[lid] = fold(shared_acc[lid], shared_acc[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u && valid) { ${store("out", outElem, "i", "finish(shared_acc[0])")} }
}`;
    },
  };
}

/** Params of an arg-reduction: output count, kept dims, the axis length, stride and the offset. */
export function argReduceParams(
  nOut: number,
  kept: { shape: readonly number[]; strides: readonly number[] },
  n: number,
  axisStride: number,
  offset: number,
): Int32Array {
  return Int32Array.from([nOut, kept.shape.length, n, axisStride, offset, ...kept.shape, ...kept.strides]);
}

/**
 * argmax / argmin along one axis: the first winner, and the first NaN beats
 * everything (as PyTorch). Serial per output, or a tree per output.
 */
export function argReduceKernel(op: "argmax" | "argmin", elem: Elem, tree: boolean): Kernel {
  const c = computeOf(elem);
  const nan = c === "f32" ? "is_nan" : "no_nan";
  const better = op === "argmax" ? ">" : "<";
  return {
    key: `argreduce:${op}:${elem}:${tree ? "tree" : "serial"}`,
    bindings: ["read", "write"],
    code: () => {
      const header = `${PARAMS}
${declare(1, "x", elem, false)}
${declare(2, "out", "i32", true)}
fn no_nan(v: ${c}) -> bool { return false; }
fn kept_offset(p: i32) -> i32 {
  let kr = P[1];
  var r = p;
  var o = P[4];
  for (var d = kr - 1; d >= 0; d--) {
    let s = P[5 + d];
    let q = r / s;
    o += (r - q * s) * P[5 + kr + d];
    r = q;
  }
  return o;
}
// true when (v, j) beats (best, at): NaN first, then the better value, then the lower index.
fn wins(v: ${c}, j: i32, best: ${c}, at: i32) -> bool {
  let vn = ${nan}(v);
  let bn = ${nan}(best);
  if (vn || bn) { return vn && (!bn || j < at); }
  return v ${better} best || (v == best && j < at);
}`;
      if (!tree) {
        return `${header}
${
          linearMain(`let base = kept_offset(i);
  let step = P[3];
  var best: ${c} = ${load("x", elem, "base")};
  var at = 0;
  for (var j = 1; j < P[2]; j++) {
    let v: ${c} = ${load("x", elem, "base + j * step")};
    if (wins(v, j, best, at)) { best = v; at = j; }
  }
  out[i] = at;`)
        }`;
      }
      return `${header}
var<workgroup> shared_v: array<${c}, ${REDUCE_WG}>;
var<workgroup> shared_at: array<i32, ${REDUCE_WG}>;
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = i32(wid.x + (wid.y + wid.z * nwg.y) * nwg.x);
  let valid = i < P[0];
  var best: ${c};
  var at = -1;
  if (valid) {
    let base = kept_offset(i);
    for (var j = i32(lid); j < P[2]; j += ${REDUCE_WG}) {
      let v: ${c} = ${load("x", elem, "base + j * P[3]")};
      if (at < 0 || wins(v, j, best, at)) { best = v; at = j; }
    }
  }
  shared_v[lid] = best;
  shared_at[lid] = at;
  workgroupBarrier();
  for (var s = ${REDUCE_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let oa = shared_at[lid + s];
      if (oa >= 0 && (shared_at[lid] < 0 || wins(shared_v[lid + s], oa, shared_v[lid], shared_at[lid]))) {
        shared_v[lid] = shared_v[lid + s];
        shared_at[lid] = oa;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u && valid) { out[i] = max(shared_at[0], 0); }
}`;
    },
  };
}

// ---- gather / scatter ----

/**
 * The params block that turns a row-major position into a storage offset
 * of a strided view: [rank, offset, size, shape..., strides...].
 */
export function positionBlock(shape: readonly number[], strides: readonly number[], offset: number): number[] {
  const size = shape.reduce((a, b) => a * b, 1);
  return [shape.length, offset, size, ...shape, ...strides];
}

const POSITION_HELPER = `fn position_offset(p: i32) -> i32 {
  let base = P[${EXTRA_SLOT}];
  let rank = P[base];
  var r = p;
  var o = P[base + 1];
  for (var d = rank - 1; d >= 0; d--) {
    let s = P[base + 3 + d];
    let q = r / s;
    o += (r - q * s) * P[base + 3 + rank + d];
    r = q;
  }
  return o;
}
fn position_size() -> i32 { return P[P[${EXTRA_SLOT}] + 2]; }`;

/**
 * gather: out[i] = x at row-major position index[i]; positions outside x
 * read 0 instead of memory outside the storage.
 */
export function gatherKernel(indexAccess: "contig" | "strided", elem: Elem, xContig: boolean): Kernel {
  return {
    key: `gather:${indexAccess}:${elem}:${xContig ? "c" : "s"}`,
    bindings: ["read", "read", "write"],
    code: () => {
      const c = computeOf(elem);
      const at = xContig ? "P[P[11] + 1] + p" : "position_offset(p)";
      return `${PARAMS}
${declare(1, "index", "i32", false)}
${declare(2, "x", elem, false)}
${declare(3, "out", elem, true)}
${POSITION_HELPER}
${
        linearMain(`${offsetsCode([indexAccess, "contig"])}
  let p = index[o0];
  var v: ${c} = ${c}(0);
  if (p >= 0 && p < position_size()) { v = ${load("x", elem, at)}; }
  ${store("out", elem, "o1", "v")}`)
      }`;
    },
  };
}

/**
 * First pass of a plain scatter: for each destination position, the last
 * i (in index order) that writes it, so repeated positions end with the
 * value the CPU backend's sequential loop leaves.
 */
export function scatterWinnerKernel(indexAccess: "contig" | "strided"): Kernel {
  return {
    key: `scatter-winner:${indexAccess}`,
    bindings: ["read", "write"],
    code: () =>
      `${PARAMS}
${declare(1, "index", "i32", false)}
${declare(2, "winner", "atomic<i32>", true)}
${POSITION_HELPER}
${
        linearMain(`${offsetsCode([indexAccess])}
  let p = index[o0];
  if (p >= 0 && p < position_size()) { atomicMax(&winner[p], i); }`)
      }`,
  };
}

/**
 * Writes (or, with `accumulate`, adds) src[i] into dst at position index[i].
 * Plain writes keep only each position's winner; float adds use a
 * compare-exchange loop on the bits (WGSL has no float atomics).
 */
export function scatterKernel(
  indexAccess: "contig" | "strided",
  src: MapInput,
  dstElem: Elem,
  accumulate: boolean,
): Kernel {
  const srcBound = src.access !== "scalar";
  const bindings: ("read" | "write")[] = ["read", ...(srcBound ? ["read" as const] : [])];
  if (!accumulate) bindings.push("read");
  bindings.push("write");
  return {
    key: `scatter:${indexAccess}:${src.access}${src.elem}>${dstElem}:${accumulate ? "add" : "set"}`,
    bindings,
    code: () => {
      const c = computeOf(dstElem);
      const decls = [PARAMS, declare(1, "index", "i32", false)];
      let binding = 2;
      if (srcBound) decls.push(declare(binding++, "src", src.elem, false));
      if (!accumulate) decls.push(declare(binding++, "winner", "i32", false));
      const value = inputValue(1, src, "src", 0);
      const convertValue = `let v: ${c} = ${convert("v1", computeOf(src.elem), c)};`;
      let write: string;
      if (!accumulate) {
        decls.push(declare(binding, "dst", dstElem, true));
        write = `if (winner[p] == i) { ${store("dst", dstElem, "position_offset(p)", "v")} }`;
      } else {
        decls.push(declare(binding, "dst", atomicElem(dstElem), true));
        write = atomicAdd(dstElem, "dst", "position_offset(p)", "v");
      }
      const offsets = offsetsCode([indexAccess, src.access]);
      return `${decls.join("\n")}
${POSITION_HELPER}
${
        linearMain(`${offsets}
  let p = index[o0];
  if (p < 0 || p >= position_size()) { return; }
  ${value}
  ${convertValue}
  ${write}`)
      }`;
    },
  };
}

/** Contiguous strides, re-exported for the planners. */
export { contiguousStrides };
