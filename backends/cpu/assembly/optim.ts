// Fused optimizer steps over n contiguous f32 elements, in place: PyTorch's
// single-tensor Adam / AdamW and SGD, one pass instead of a dozen tensor ops.
// Each PyTorch op rounds to f32 where PyTorch's does (the host passes the
// scalars already rounded to f32), so the result is the composed update's.
// The TypeScript reference is ../optim.ts; flags match ../_wasm_kernels.ts.

// @ts-ignore: decorator
@inline const MAXIMIZE = 1;
// @ts-ignore: decorator
@inline const DECOUPLED = 2;
// @ts-ignore: decorator
@inline const AMSGRAD = 4;
// @ts-ignore: decorator
@inline const NESTEROV = 2;
// @ts-ignore: decorator
@inline const FIRST_STEP = 4;
// @ts-ignore: decorator
@inline const MOMENTUM = 8;

/**
 * One Adam step. `negStepSize` is −lr / (1 − β1^t), `bc2Sqrt` is
 * √(1 − β2^t), `decay` is 1 − lr·weightDecay (AdamW). `vmax` is read only
 * with AMSGRAD.
 */
export function adamStep(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  vmax: usize,
  n: i32,
  flags: i32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  weightDecay: f32,
  decay: f32,
  negStepSize: f32,
  bc2Sqrt: f32,
  eps: f32,
): void {
  const maximize = (flags & MAXIMIZE) != 0, decoupled = (flags & DECOUPLED) != 0, amsgrad = (flags & AMSGRAD) != 0;
  const l2 = !decoupled && weightDecay != 0;
  const vb1 = f32x4.splat(beta1), va1 = f32x4.splat(oneMinusBeta1);
  const vb2 = f32x4.splat(beta2), va2 = f32x4.splat(oneMinusBeta2);
  const vwd = f32x4.splat(weightDecay), vdecay = f32x4.splat(decay);
  const vstep = f32x4.splat(negStepSize), vbc2 = f32x4.splat(bc2Sqrt), veps = f32x4.splat(eps);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = <usize>i << 2;
    let pv = v128.load(p + q), gv = v128.load(g + q);
    if (maximize) gv = f32x4.neg(gv);
    if (l2) gv = f32x4.add(gv, f32x4.mul(vwd, pv));
    if (decoupled) pv = f32x4.mul(pv, vdecay);
    const mv = f32x4.add(f32x4.mul(v128.load(m + q), vb1), f32x4.mul(va1, gv));
    const vv = f32x4.add(f32x4.mul(v128.load(v + q), vb2), f32x4.mul(f32x4.mul(va2, gv), gv));
    v128.store(m + q, mv);
    v128.store(v + q, vv);
    let second = vv;
    if (amsgrad) {
      second = f32x4.max(v128.load(vmax + q), vv);
      v128.store(vmax + q, second);
    }
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(second), vbc2), veps);
    v128.store(p + q, f32x4.add(pv, f32x4.mul(vstep, f32x4.div(mv, denom))));
  }
  for (; i < n; i++) {
    const q = <usize>i << 2;
    let pv = load<f32>(p + q), gv = load<f32>(g + q);
    if (maximize) gv = -gv;
    if (l2) gv = gv + weightDecay * pv;
    if (decoupled) pv = pv * decay;
    const mv = load<f32>(m + q) * beta1 + oneMinusBeta1 * gv;
    const vv = load<f32>(v + q) * beta2 + oneMinusBeta2 * gv * gv;
    store<f32>(m + q, mv);
    store<f32>(v + q, vv);
    let second = vv;
    if (amsgrad) {
      second = max<f32>(load<f32>(vmax + q), vv);
      store<f32>(vmax + q, second);
    }
    const denom = sqrt<f32>(second) / bc2Sqrt + eps;
    store<f32>(p + q, pv + negStepSize * (mv / denom));
  }
}

/**
 * One SGD step: `buf` (read with MOMENTUM) is the momentum buffer, set to the
 * gradient on FIRST_STEP; `oneMinusDampening` is 1 − dampening.
 */
export function sgdStep(
  p: usize,
  g: usize,
  buf: usize,
  n: i32,
  flags: i32,
  negLr: f32,
  momentum: f32,
  oneMinusDampening: f32,
  weightDecay: f32,
): void {
  const maximize = (flags & MAXIMIZE) != 0, nesterov = (flags & NESTEROV) != 0;
  const first = (flags & FIRST_STEP) != 0, hasMomentum = (flags & MOMENTUM) != 0;
  const vlr = f32x4.splat(negLr), vmom = f32x4.splat(momentum), vdamp = f32x4.splat(oneMinusDampening);
  const vwd = f32x4.splat(weightDecay);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = <usize>i << 2;
    const pv = v128.load(p + q);
    let d = v128.load(g + q);
    if (maximize) d = f32x4.neg(d);
    if (weightDecay != 0) d = f32x4.add(d, f32x4.mul(vwd, pv));
    if (hasMomentum) {
      const b = first ? d : f32x4.add(f32x4.mul(v128.load(buf + q), vmom), f32x4.mul(vdamp, d));
      v128.store(buf + q, b);
      d = nesterov ? f32x4.add(d, f32x4.mul(vmom, b)) : b;
    }
    v128.store(p + q, f32x4.add(pv, f32x4.mul(vlr, d)));
  }
  for (; i < n; i++) {
    const q = <usize>i << 2;
    const pv = load<f32>(p + q);
    let d = load<f32>(g + q);
    if (maximize) d = -d;
    if (weightDecay != 0) d = d + weightDecay * pv;
    if (hasMomentum) {
      const b = first ? d : load<f32>(buf + q) * momentum + oneMinusDampening * d;
      store<f32>(buf + q, b);
      d = nesterov ? d + momentum * b : b;
    }
    store<f32>(p + q, pv + negLr * d);
  }
}
