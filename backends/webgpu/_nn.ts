// Kernels for the fused neural-network ops: softmax and its gradient along
// an axis, and 2-d max / average pooling with their gradients. The
// convolutions are GEMMs (see _gemm.ts).

import type { Kernel } from "./_engine.ts";
import { WG } from "./_kernels.ts";
import { atomicAdd, atomicElem, computeOf, declare, type Elem, load, store } from "./_wgsl.ts";

const PARAMS = declare(0, "P", "i32", false);

/** Workgroup size of the row-per-workgroup softmax. */
export const SOFTMAX_WG = 64;

/**
 * Params of a softmax over rows: `rows` rows of `n` along the axis; per
 * operand (two inputs, the output) an offset and an axis stride, then the
 * other dims' shape and each operand's strides over them.
 */
export function softmaxParams(
  rows: number,
  n: number,
  shape: readonly number[],
  operands: readonly { offset: number; axisStride: number; strides: readonly number[] }[],
): Int32Array {
  const [a, b, o] = operands.length === 3 ? operands : [operands[0], operands[0], operands[1]];
  return Int32Array.from([
    rows,
    n,
    shape.length,
    a.offset,
    b.offset,
    a.axisStride,
    b.axisStride,
    o.axisStride,
    ...shape,
    ...a.strides,
    ...b.strides,
    ...o.strides,
  ]);
}

const ROW_BASE = `fn row_base(row: i32, which: i32) -> i32 {
  let rank = P[2];
  var o = 0;
  if (which == 0) { o = P[3]; } else if (which == 1) { o = P[4]; }
  var r = row;
  for (var d = rank - 1; d >= 0; d--) {
    let s = P[8 + d];
    let q = r / s;
    o += (r - q * s) * P[8 + (which + 1) * rank + d];
    r = q;
  }
  return o;
}`;

/**
 * softmax / log-softmax (forward) or their gradients (backward, inputs
 * gradOut and out) along an axis. `tree`: one workgroup per row, for long
 * rows; otherwise one thread per row.
 */
export function softmaxKernel(elem: Elem, log: boolean, backward: boolean, tree: boolean): Kernel {
  const c = computeOf(elem);
  if (c !== "f32") throw new TypeError(`softmax needs a floating point tensor, got ${elem}`);
  const key = `softmax:${elem}:${log ? "log" : "exp"}:${backward ? "bwd" : "fwd"}:${tree ? "tree" : "serial"}`;
  const x = (j: string) => load("x", elem, `bx + ${j} * P[5]`);
  const y = (j: string) => load("y", elem, `by + ${j} * P[6]`);
  // The per-row passes: each is [init, fold over j, combine, finish], then the write.
  let passes: { init: string; fold: string; combine: string; finish?: string }[];
  let write: string;
  if (!backward) {
    passes = [
      {
        init: "-f_inf()",
        fold: `select(acc, ${x("j")}, ${x("j")} > acc || is_nan(${x("j")}))`,
        combine: "select(a, b, b > a || is_nan(b))",
        // A row whose max is ±inf shifts by 0, as autograd's composition does.
        finish: "select(acc, 0.0, is_inf(acc))",
      },
      { init: "0.0", fold: `acc + exp(${x("j")} - r0)`, combine: "a + b" },
    ];
    write = log ? `${x("j")} - r0 - log(r1)` : `exp(${x("j")} - r0) / r1`;
  } else {
    // x is gradOut, y the forward output
    passes = log
      ? [{ init: "0.0", fold: `acc + ${x("j")}`, combine: "a + b" }]
      : [{ init: "0.0", fold: `acc + ${x("j")} * ${y("j")}`, combine: "a + b" }];
    write = log ? `${x("j")} - exp(${y("j")}) * r0` : `${y("j")} * (${x("j")} - r0)`;
  }
  return {
    key,
    bindings: backward ? ["read", "read", "write"] : ["read", "write"],
    code: () => {
      const decls = [PARAMS, declare(1, "x", elem, false)];
      if (backward) decls.push(declare(2, "y", elem, false));
      decls.push(declare(backward ? 3 : 2, "out", elem, true));
      const bases = `let bx = row_base(row, 0);
  let by = row_base(row, 1);
  let bo = row_base(row, 2);
  let n = P[1];`;
      const writeLoop = (start: string, step: string) =>
        `for (var j = ${start}; j < n; j += ${step}) { ${store("out", elem, "bo + j * P[7]", write)} }`;
      if (!tree) {
        const body = passes.map((p, k) =>
          `var acc${k}: f32 = ${p.init};
  for (var j = 0; j < n; j++) { let acc = acc${k}; acc${k} = ${p.fold}; }
  ${p.finish ? `{ let acc = acc${k}; acc${k} = ${p.finish}; }` : ""}
  let r${k} = acc${k};`
        ).join("\n  ");
        return `${decls.join("\n")}
${ROW_BASE}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = i32(gid.x + (gid.y + gid.z * nwg.y) * nwg.x * ${WG}u);
  if (row >= P[0]) { return; }
  ${bases}
  ${body}
  ${writeLoop("0", "1")}
}`;
      }
      const body = passes.map((p, k) =>
        `var acc${k}: f32 = ${p.init};
  if (valid) { for (var j = t; j < n; j += ${SOFTMAX_WG}) { let acc = acc${k}; acc${k} = ${p.fold}; } }
  shared_acc[lid] = acc${k};
  workgroupBarrier();
  for (var s = ${SOFTMAX_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { let a = shared_acc[lid]; let b = shared_acc[lid + s]; shared_acc[lid] = ${p.combine}; }
    workgroupBarrier();
  }
  var r${k} = shared_acc[0];
  ${p.finish ? `{ let acc = r${k}; r${k} = ${p.finish}; }` : ""}
  workgroupBarrier();`
      ).join("\n  ");
      return `${decls.join("\n")}
${ROW_BASE}
var<workgroup> shared_acc: array<f32, ${SOFTMAX_WG}>;
@compute @workgroup_size(${SOFTMAX_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = i32(wid.x + (wid.y + wid.z * nwg.y) * nwg.x);
  let valid = row < P[0];
  let t = i32(lid);
  let safe_row = select(0, row, valid);
  let bx = row_base(safe_row, 0);
  let by = row_base(safe_row, 1);
  let bo = row_base(safe_row, 2);
  let n = P[1];
  ${body}
  if (valid) { ${writeLoop("t", String(SOFTMAX_WG))} }
}`;
    },
  };
}

// ---- pooling ----

/** The fields of a pooling's params, in order. */
const POOL_FIELDS = [
  "total",
  "C",
  "H",
  "W",
  "oH",
  "oW",
  "kH",
  "kW",
  "sH",
  "sW",
  "pH",
  "pW",
  "dH",
  "dW",
  "countIncludePad",
  "divisor",
  // the first operand view: offset, 4 strides
  "ao",
  "a0",
  "a1",
  "a2",
  "a3",
  // the second operand view
  "bo",
  "b0",
  "b1",
  "b2",
  "b3",
] as const;

type PoolField = typeof POOL_FIELDS[number];

/** Params of a pooling kernel, from named fields (missing ones are 0). */
export function poolParams(fields: Partial<Record<PoolField, number>>): Int32Array {
  return Int32Array.from(POOL_FIELDS.map((f) => fields[f] ?? 0));
}

const pool = (s: string) => s.replace(/\$(\w+)/g, (_, name: PoolField) => `P[${POOL_FIELDS.indexOf(name)}]`);

// Splits the linear id over (n, c, y, x) of a [N, C, h, w] tensor.
const SPLIT_NCHW = (h: string, w: string, y: string, x: string) =>
  pool(`let ${x} = i % ${w};
  let ${y} = (i / ${w}) % ${h};
  let ch = (i / (${w} * ${h})) % $C;
  let nb = i / (${w} * ${h} * $C);`);

function poolMain(body: string): string {
  return `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = i32(gid.x + (gid.y + gid.z * nwg.y) * nwg.x * ${WG}u);
  if (i >= P[0]) { return; }
  ${body}
}`;
}

/**
 * max pooling: each output's winner over its window (padding never wins;
 * a NaN does, as in PyTorch), and the winner's flat position in its plane.
 */
export function maxPool2dKernel(elem: Elem): Kernel {
  const c = computeOf(elem);
  const low = c === "f32" ? "-f_inf()" : c === "i32" ? "(-2147483647 - 1)" : "0u";
  const nan = c === "f32" ? "is_nan(v)" : "false";
  return {
    key: `maxpool2d:${elem}`,
    bindings: ["read", "write", "write"],
    code: () =>
      `${PARAMS}
${declare(1, "x", elem, false)}
${declare(2, "values", elem, true)}
${declare(3, "indices", "i32", true)}
${
        poolMain(`${SPLIT_NCHW("$oH", "$oW", "oh", "ow")}
  ${
          pool(`var h0 = oh * $sH - $pH;
  var w0 = ow * $sW - $pW;
  let h1 = min(h0 + ($kH - 1) * $dH + 1, $H);
  let w1 = min(w0 + ($kW - 1) * $dW + 1, $W);
  while (h0 < 0) { h0 += $dH; }
  while (w0 < 0) { w0 += $dW; }
  var best: ${c} = ${low};
  var at = h0 * $W + w0;
  let base = $ao + nb * $a0 + ch * $a1;
  for (var h = h0; h < h1; h += $dH) {
    for (var w = w0; w < w1; w += $dW) {
      let v: ${c} = ${load("x", elem, "base + h * $a2 + w * $a3")};
      if (v > best || ${nan}) { best = v; at = h * $W + w; }
    }
  }`)
        }
  ${store("values", elem, "i", "best")}
  indices[i] = at;`)
      }`,
  };
}

/**
 * The gradient of max pooling: each gradOut element is added (atomically:
 * overlapping windows can share a winner) at the input position its index
 * names. The output must be zeroed first.
 */
export function maxPool2dBackwardKernel(elem: Elem): Kernel {
  return {
    key: `maxpool2d-bwd:${elem}`,
    bindings: ["read", "read", "write"],
    code: () =>
      `${PARAMS}
${declare(1, "g", elem, false)}
${declare(2, "index", "i32", false)}
${declare(3, "out", atomicElem(elem), true)}
${
        poolMain(`${SPLIT_NCHW("$oH", "$oW", "oh", "ow")}
  ${
          pool(`let p = index[$bo + nb * $b0 + ch * $b1 + oh * $b2 + ow * $b3];
  let plane = $H * $W;
  if (p < 0 || p >= plane) { return; }
  let v = ${load("g", elem, "$ao + nb * $a0 + ch * $a1 + oh * $a2 + ow * $a3")};`)
        }
  ${atomicAdd(elem, "out", pool("(nb * $C + ch) * $H * $W + p"), "v")}`)
      }`,
  };
}

/** The window of output (oh, ow) clipped to the input, and its divisor, as PyTorch's avg_pool2d computes them. */
const AVG_WINDOW = pool(`var h0 = oh * $sH - $pH;
  var w0 = ow * $sW - $pW;
  var h1 = min(h0 + $kH, $H + $pH);
  var w1 = min(w0 + $kW, $W + $pW);
  let pool_size = (h1 - h0) * (w1 - w0);
  h0 = max(h0, 0);
  w0 = max(w0, 0);
  h1 = min(h1, $H);
  w1 = min(w1, $W);
  var divisor = f32((h1 - h0) * (w1 - w0));
  if ($divisor != 0) { divisor = f32($divisor); } else if ($countIncludePad != 0) { divisor = f32(pool_size); }`);

/** average pooling over each window (padding counts per `countIncludePad`, or a fixed divisor). */
export function avgPool2dKernel(elem: Elem): Kernel {
  return {
    key: `avgpool2d:${elem}`,
    bindings: ["read", "write"],
    code: () =>
      `${PARAMS}
${declare(1, "x", elem, false)}
${declare(2, "out", elem, true)}
${
        poolMain(`${SPLIT_NCHW("$oH", "$oW", "oh", "ow")}
  ${AVG_WINDOW}
  ${
          pool(`var sum = 0.0;
  let base = $ao + nb * $a0 + ch * $a1;
  for (var h = h0; h < h1; h++) {
    for (var w = w0; w < w1; w++) { sum += ${load("x", elem, "base + h * $a2 + w * $a3")}; }
  }
  var v = 0.0;
  if (h0 < h1 && w0 < w1) { v = sum / divisor; }`)
        }
  ${store("out", elem, "i", "v")}`)
      }`,
  };
}

/**
 * The gradient of average pooling, one thread per input element summing
 * the share of every window that covers it (no atomics, deterministic).
 */
export function avgPool2dBackwardKernel(elem: Elem): Kernel {
  return {
    key: `avgpool2d-bwd:${elem}`,
    bindings: ["read", "write"],
    code: () =>
      `${PARAMS}
${declare(1, "g", elem, false)}
${declare(2, "out", elem, true)}
fn floor_div(a: i32, b: i32) -> i32 { let q = a / b; return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0))); }
${
        poolMain(`${SPLIT_NCHW("$H", "$W", "ih", "iw")}
  ${
          pool(`let oh0 = max(0, floor_div(ih + $pH - $kH, $sH) + 1);
  let oh1 = min($oH - 1, floor_div(ih + $pH, $sH));
  let ow0 = max(0, floor_div(iw + $pW - $kW, $sW) + 1);
  let ow1 = min($oW - 1, floor_div(iw + $pW, $sW));
  var sum = 0.0;
  for (var oh = oh0; oh <= oh1; oh++) {
    for (var ow = ow0; ow <= ow1; ow++) {
      ${AVG_WINDOW}
      if (h0 < h1 && w0 < w1) {
        sum += ${load("g", elem, "$ao + nb * $a0 + ch * $a1 + oh * $a2 + ow * $a3")} / divisor;
      }
    }
  }`)
        }
  ${store("out", elem, "i", "sum")}`)
      }`,
  };
}
