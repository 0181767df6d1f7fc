// Fused optimizer steps: one pass over a parameter's elements updating it
// and its state in place, as PyTorch's single-tensor Adam / AdamW and SGD
// compute them (every intermediate rounds to float32, as PyTorch's float32
// ops do). The hyper-parameters and flags come from the params' extra block.

import type { Kernel } from "./_engine.ts";
import { type Access, EXTRA_SLOT, linearMain, offsetsCode } from "./_kernels.ts";
import { declare, type Elem, load, store } from "./_wgsl.ts";

const PARAMS = declare(0, "P", "i32", false);
const flag = (k: number) => `(P[P[${EXTRA_SLOT}] + ${k}] != 0)`;
const scalar = (k: number) => `bitcast<f32>(P[P[${EXTRA_SLOT}] + ${k}])`;

/** Extra block of an Adam step: flags, then float32 bits of the step's constants. */
export const ADAM_EXTRA = [
  "maximize",
  "l2",
  "decoupled",
  "amsgrad",
  "beta1",
  "oneMinusBeta1",
  "beta2",
  "oneMinusBeta2",
  "weightDecay",
  "decay",
  "eps",
  "negStep",
  "bias2Sqrt",
] as const;

/**
 * The Adam / AdamW step. Operands in binding order: param (written), grad,
 * expAvg (written), expAvgSq (written), and maxExpAvgSq (written) when
 * `amsgrad` storage is given.
 */
export function adamKernel(accesses: readonly Access[], elem: Elem, withMax: boolean): Kernel {
  const names = ["param", "grad", "exp_avg", "exp_avg_sq", ...(withMax ? ["max_exp_avg_sq"] : [])];
  const f = (name: typeof ADAM_EXTRA[number]) => ADAM_EXTRA.indexOf(name);
  return {
    key: `adam:${elem}:${accesses.map((a) => a[0]).join("")}:${withMax ? "max" : ""}`,
    bindings: names.map((n) => (n === "grad" ? "read" : "write")),
    code: () =>
      `${PARAMS}
${names.map((n, i) => declare(i + 1, n, elem, n !== "grad")).join("\n")}
${
        linearMain(`${offsetsCode(accesses)}
  let p0 = ${load("param", elem, "o0")};
  var g = ${load("grad", elem, "o1")};
  if (${flag(f("maximize"))}) { g = -g; }
  if (${flag(f("l2"))}) { g = g + ${scalar(f("weightDecay"))} * p0; }
  var p = p0;
  if (${flag(f("decoupled"))}) { p = p * ${scalar(f("decay"))}; }
  let m = ${load("exp_avg", elem, "o2")} * ${scalar(f("beta1"))} + ${scalar(f("oneMinusBeta1"))} * g;
  let v = ${load("exp_avg_sq", elem, "o3")} * ${scalar(f("beta2"))} + (${scalar(f("oneMinusBeta2"))} * g) * g;
  ${store("exp_avg", elem, "o2", "m")}
  ${store("exp_avg_sq", elem, "o3", "v")}
  var second = v;
  ${
          withMax
            ? `if (${flag(f("amsgrad"))}) {
    second = f_max(${load("max_exp_avg_sq", elem, "o4")}, v);
    ${store("max_exp_avg_sq", elem, "o4", "second")}
  }`
            : ""
        }
  let denom = sqrt(second) / ${scalar(f("bias2Sqrt"))} + ${scalar(f("eps"))};
  ${store("param", elem, "o0", `p + ${scalar(f("negStep"))} * (m / denom)`)}`)
      }`,
  };
}

/** Extra block of an SGD step: flags, then float32 bits of the step's constants. */
export const SGD_EXTRA = [
  "maximize",
  "useBuffer",
  "firstStep",
  "nesterov",
  "negLr",
  "momentum",
  "keep",
  "weightDecay",
] as const;

/** The SGD step. Operands: param (written), grad, and the momentum buffer (written) when given. */
export function sgdKernel(accesses: readonly Access[], elem: Elem, withBuffer: boolean): Kernel {
  const names = ["param", "grad", ...(withBuffer ? ["momentum_buffer"] : [])];
  const f = (name: typeof SGD_EXTRA[number]) => SGD_EXTRA.indexOf(name);
  return {
    key: `sgd:${elem}:${accesses.map((a) => a[0]).join("")}:${withBuffer ? "buf" : ""}`,
    bindings: names.map((n) => (n === "grad" ? "read" : "write")),
    code: () =>
      `${PARAMS}
${names.map((n, i) => declare(i + 1, n, elem, n !== "grad")).join("\n")}
${
        linearMain(`${offsetsCode(accesses)}
  let p = ${load("param", elem, "o0")};
  var d = ${load("grad", elem, "o1")};
  if (${flag(f("maximize"))}) { d = -d; }
  let wd = ${scalar(f("weightDecay"))};
  if (wd != 0.0) { d = d + wd * p; }
  ${
          withBuffer
            ? `if (${flag(f("useBuffer"))}) {
    let momentum = ${scalar(f("momentum"))};
    var buf = d;
    if (!${flag(f("firstStep"))}) { buf = ${load("momentum_buffer", elem, "o2")} * momentum + ${
              scalar(f("keep"))
            } * d; }
    ${store("momentum_buffer", elem, "o2", "buf")}
    d = select(buf, d + momentum * buf, ${flag(f("nesterov"))});
  }`
            : ""
        }
  ${store("param", elem, "o0", `p + ${scalar(f("negLr"))} * d`)}`)
      }`,
  };
}
