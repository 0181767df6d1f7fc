// Fused optimizer steps in TypeScript, the reference for the WebAssembly ones
// (assembly/optim.ts): PyTorch's single-tensor Adam / AdamW and SGD in one
// pass over the elements. For float32 every PyTorch op rounds to float32 (and
// its scalars are float32), so the result is the composed update's; float64
// runs the same arithmetic unrounded.

import type { AdamStepOptions, DataArray, SgdStepOptions, View } from "@flint/backend";
import { dataOf } from "./storage.ts";
import { planRows, walkRows } from "./walk.ts";

const identity = (x: number) => x;

/** One Adam step over views of one shape, writing param, expAvg, expAvgSq (and maxExpAvgSq) in place. */
export function adamStepKernel(
  param: View,
  grad: View,
  expAvg: View,
  expAvgSq: View,
  maxExpAvgSq: View | null,
  o: AdamStepOptions,
): void {
  const r = param.dtype === "float32" ? Math.fround : identity;
  const beta1 = r(o.beta1), a1 = r(1 - o.beta1), beta2 = r(o.beta2), a2 = r(1 - o.beta2);
  const wd = r(o.weightDecay), decay = r(1 - o.lr * o.weightDecay), eps = r(o.eps);
  const negStep = r(-(o.lr / (1 - o.beta1 ** o.step))), bc2Sqrt = r(Math.sqrt(1 - o.beta2 ** o.step));
  const l2 = !o.decoupledWeightDecay && o.weightDecay !== 0;
  const views = [param, grad, expAvg, expAvgSq, maxExpAvgSq ?? param];
  const [p, g, m, v, vmax] = views.map(dataOf);
  const plan = planRows(param.shape, views.map((x) => x.strides));
  const [ps, gs, ms, vs, xs] = plan.rowStrides;
  walkRows(plan, views.map((x) => x.offset), (at) => {
    let [pi, gi, mi, vi, xi] = at;
    for (let i = 0; i < plan.rowLength; i++, pi += ps, gi += gs, mi += ms, vi += vs, xi += xs) {
      let pv = p[pi], gv = g[gi];
      if (o.maximize) gv = -gv;
      if (l2) gv = r(gv + r(wd * pv));
      if (o.decoupledWeightDecay) pv = r(pv * decay);
      const mv = r(r(m[mi] * beta1) + r(a1 * gv));
      const vv = r(r(v[vi] * beta2) + r(r(a2 * gv) * gv));
      m[mi] = mv;
      v[vi] = vv;
      let second = vv;
      if (o.amsgrad && maxExpAvgSq) {
        second = Math.max(vmax[xi], vv);
        vmax[xi] = second;
      }
      const denom = r(r(r(Math.sqrt(second)) / bc2Sqrt) + eps);
      p[pi] = r(pv + r(negStep * r(mv / denom)));
    }
  });
}

/** One SGD step over views of one shape, writing param (and momentumBuffer) in place. */
export function sgdStepKernel(param: View, grad: View, momentumBuffer: View | null, o: SgdStepOptions): void {
  const r = param.dtype === "float32" ? Math.fround : identity;
  const negLr = r(-o.lr), momentum = r(o.momentum), keep = r(1 - o.dampening), wd = r(o.weightDecay);
  const useBuffer = momentumBuffer !== null && o.momentum !== 0;
  const views = [param, grad, momentumBuffer ?? param];
  const [p, g, b]: DataArray[] = views.map(dataOf);
  const plan = planRows(param.shape, views.map((x) => x.strides));
  const [ps, gs, bs] = plan.rowStrides;
  walkRows(plan, views.map((x) => x.offset), (at) => {
    let [pi, gi, bi] = at;
    for (let i = 0; i < plan.rowLength; i++, pi += ps, gi += gs, bi += bs) {
      const pv = p[pi];
      let d = g[gi];
      if (o.maximize) d = -d;
      if (wd !== 0) d = r(d + r(wd * pv));
      if (useBuffer) {
        const buf = o.firstStep ? d : r(r(b[bi] * momentum) + r(keep * d));
        b[bi] = buf;
        d = o.nesterov ? r(d + r(momentum * buf)) : buf;
      }
      p[pi] = r(pv + r(negLr * d));
    }
  });
}
