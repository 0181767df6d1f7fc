// Every fixture op key, as a call into Flint's API. The keys are the ones the
// fixture script (tests/fixtures/make_op_fixtures.py) uses; kwargs are the
// fixture's, in camelCase.

import * as torch from "@flint/torch";
import { decodeNumber } from "./fixtures.ts";
import { NN_OPS } from "./op_table_nn.ts";

/** Runs one op on the case's inputs (already transformed) with its kwargs. */
export type OpImpl = (inputs: torch.Tensor[], kw: Record<string, unknown>) => torch.Tensor | torch.Tensor[];

const num = (v: unknown) => decodeNumber(v);
const other = (ts: torch.Tensor[], kw: Record<string, unknown>): torch.Tensor | number =>
  ts.length > 1 ? ts[1] : num(kw.other);
const dims = (d: unknown) => (d === undefined ? undefined : (d as number | number[]));
const unary = (name: keyof torch.Tensor): OpImpl => (ts) => (ts[0][name] as () => torch.Tensor).call(ts[0]);

/** Converts a fixture index spec into Flint index entries. */
function indexSpec(spec: unknown[], extras: torch.Tensor[]): torch.IndexSpec[] {
  return spec.map((s): torch.IndexSpec => {
    if (s === null) return null;
    if (s === "...") return "...";
    if (typeof s === "number") return s;
    const o = s as { slice?: (number | null)[]; input?: number };
    if (o.slice) return { start: o.slice[0], stop: o.slice[1], step: o.slice[2] };
    return extras[o.input!];
  });
}

function maxmin(which: "max" | "min"): OpImpl {
  return (ts, kw) => {
    if (kw.dim === undefined) return ts[0][which]();
    const [values, indices] = ts[0][which](kw.dim as number, { keepdim: kw.keepdim as boolean | undefined });
    return [values, indices];
  };
}

function reduce(name: "sum" | "mean" | "prod"): OpImpl {
  return (ts, kw) => ts[0][name](dims(kw.dim) as number, { keepdim: kw.keepdim as boolean | undefined });
}

/** The op table: fixture key → Flint call. */
export const OPS: Record<string, OpImpl> = {
  add: (ts, kw) => ts[0].add(other(ts, kw), { alpha: kw.alpha as number | undefined }),
  sub: (ts, kw) => ts[0].sub(other(ts, kw), { alpha: kw.alpha as number | undefined }),
  rsub: (ts, kw) => torch.rsub(ts[0], num(kw.other)),
  mul: (ts, kw) => ts[0].mul(other(ts, kw)),
  div: (ts, kw) => ts[0].div(other(ts, kw), { roundingMode: kw.roundingMode as "trunc" | "floor" | undefined }),
  pow: (ts, kw) => ts[0].pow(other(ts, kw)),
  rpow: (ts, kw) => torch.pow(num(kw.base), ts[0]),
  maximum: (ts, kw) =>
    ts[0].maximum(
      ts.length > 1 ? ts[1] : torch.tensor(num(kw.other), {
        dtype: Number.isInteger(num(kw.other)) && ts[0].dtype === "int32" ? "int32" : "float32",
      }),
    ),
  minimum: (ts, kw) =>
    ts[0].minimum(
      ts.length > 1 ? ts[1] : torch.tensor(num(kw.other), {
        dtype: Number.isInteger(num(kw.other)) && ts[0].dtype === "int32" ? "int32" : "float32",
      }),
    ),
  remainder: (ts, kw) => ts[0].remainder(other(ts, kw)),
  clamp: (ts, kw) =>
    ts[0].clamp({
      min: kw.min === undefined ? undefined : num(kw.min),
      max: kw.max === undefined ? undefined : num(kw.max),
    }),
  lt: (ts, kw) => ts[0].lt(other(ts, kw)),
  le: (ts, kw) => ts[0].le(other(ts, kw)),
  gt: (ts, kw) => ts[0].gt(other(ts, kw)),
  ge: (ts, kw) => ts[0].ge(other(ts, kw)),
  eq: (ts, kw) => ts[0].eq(other(ts, kw)),
  ne: (ts, kw) => ts[0].ne(other(ts, kw)),
  logicalNot: (ts) => ts[0].logicalNot(),
  logicalAnd: (ts) => ts[0].logicalAnd(ts[1]),
  logicalOr: (ts) => ts[0].logicalOr(ts[1]),
  where: (ts, kw) => {
    const rest = ts.slice(1);
    const a = kw.a !== undefined ? num(kw.a) : rest.shift()!;
    const b = kw.b !== undefined ? num(kw.b) : rest.shift()!;
    return torch.where(ts[0], a, b);
  },
  maskedFill: (ts, kw) => ts[0].maskedFill(ts[1], num(kw.value)),
  isnan: (ts) => ts[0].isnan(),
  matmul: (ts) => ts[0].matmul(ts[1]),
  mm: (ts) => ts[0].mm(ts[1]),
  addmm: (ts, kw) => ts[0].addmm(ts[1], ts[2], { beta: num(kw.beta ?? 1), alpha: num(kw.alpha ?? 1) }),
  bmm: (ts) => ts[0].bmm(ts[1]),
  dot: (ts) => ts[0].dot(ts[1]),
  mv: (ts) => ts[0].mv(ts[1]),
  outer: (ts) => ts[0].outer(ts[1]),
  sum: reduce("sum"),
  mean: reduce("mean"),
  prod: reduce("prod"),
  max: maxmin("max"),
  min: maxmin("min"),
  amax: (ts, kw) => ts[0].amax((kw.dim ?? []) as number[], { keepdim: kw.keepdim as boolean | undefined }),
  amin: (ts, kw) => ts[0].amin((kw.dim ?? []) as number[], { keepdim: kw.keepdim as boolean | undefined }),
  argmax: (ts, kw) => ts[0].argmax(kw.dim as number | undefined, { keepdim: kw.keepdim as boolean | undefined }),
  argmin: (ts, kw) => ts[0].argmin(kw.dim as number | undefined, { keepdim: kw.keepdim as boolean | undefined }),
  var: (ts, kw) =>
    ts[0].var(dims(kw.dim) ?? null, {
      correction: kw.correction as number | undefined,
      keepdim: kw.keepdim as boolean | undefined,
    }),
  std: (ts, kw) =>
    ts[0].std(dims(kw.dim) ?? null, {
      correction: kw.correction as number | undefined,
      keepdim: kw.keepdim as boolean | undefined,
    }),
  logsumexp: (ts, kw) => ts[0].logsumexp(dims(kw.dim)!, { keepdim: kw.keepdim as boolean | undefined }),
  softmax: (ts, kw) => ts[0].softmax(kw.dim as number),
  logSoftmax: (ts, kw) => ts[0].logSoftmax(kw.dim as number),
  norm: (ts, kw) =>
    ts[0].norm(kw.p === undefined ? 2 : num(kw.p), dims(kw.dim) ?? null, {
      keepdim: kw.keepdim as boolean | undefined,
    }),
  cumsum: (ts, kw) => ts[0].cumsum(kw.dim as number),
  all: (ts, kw) => ts[0].all(kw.dim as number | undefined, { keepdim: kw.keepdim as boolean | undefined }),
  any: (ts, kw) => ts[0].any(kw.dim as number | undefined, { keepdim: kw.keepdim as boolean | undefined }),
  view: (ts, kw) => ts[0].view(kw.shape as number[]),
  reshape: (ts, kw) => ts[0].reshape(kw.shape as number[]),
  transpose: (ts, kw) => ts[0].transpose(kw.dim0 as number, kw.dim1 as number),
  t: (ts) => ts[0].t(),
  permute: (ts, kw) => ts[0].permute(kw.dims as number[]),
  expand: (ts, kw) => ts[0].expand(kw.shape as number[]),
  squeeze: (ts, kw) => ts[0].squeeze(kw.dim as number | undefined),
  unsqueeze: (ts, kw) => ts[0].unsqueeze(kw.dim as number),
  flatten: (ts, kw) => ts[0].flatten((kw.startDim ?? 0) as number, (kw.endDim ?? -1) as number),
  cat: (ts, kw) => torch.cat(ts, (kw.dim ?? 0) as number),
  stack: (ts, kw) => torch.stack(ts, (kw.dim ?? 0) as number),
  split: (ts, kw) => ts[0].split(kw.splitSizeOrSections as number | number[], (kw.dim ?? 0) as number),
  chunk: (ts, kw) => ts[0].chunk(kw.chunks as number, (kw.dim ?? 0) as number),
  narrow: (ts, kw) => ts[0].narrow(kw.dim as number, kw.start as number, kw.length as number),
  clone: (ts) => ts[0].clone(),
  contiguous: (ts) => ts[0].contiguous(),
  flip: (ts, kw) => ts[0].flip(kw.dims as number[]),
  repeat: (ts, kw) => ts[0].repeat(kw.sizes as number[]),
  index: (ts, kw) => ts[0].index(...indexSpec(kw.spec as unknown[], ts.slice(1))),
  indexPut: (ts, kw) =>
    ts[0].clone().indexPut_(indexSpec(kw.spec as unknown[], ts.slice(2)), ts[1], {
      accumulate: kw.accumulate as boolean | undefined,
    }),
  setitem: (ts, kw) => {
    const y = ts[0].clone();
    if (kw.value !== undefined) y.indexPut_(indexSpec(kw.spec as unknown[], ts.slice(1)), num(kw.value));
    else y.indexPut_(indexSpec(kw.spec as unknown[], ts.slice(2)), ts[1]);
    return y;
  },
  gather: (ts, kw) => ts[0].gather(kw.dim as number, ts[1]),
  indexSelect: (ts, kw) => ts[0].indexSelect(kw.dim as number, ts[1]),
  maskedSelect: (ts) => ts[0].maskedSelect(ts[1]),
  neg: unary("neg"),
  abs: unary("abs"),
  exp: unary("exp"),
  expm1: unary("expm1"),
  log: unary("log"),
  log1p: unary("log1p"),
  log2: unary("log2"),
  sqrt: unary("sqrt"),
  rsqrt: unary("rsqrt"),
  reciprocal: unary("reciprocal"),
  sin: unary("sin"),
  cos: unary("cos"),
  tan: unary("tan"),
  tanh: unary("tanh"),
  sigmoid: unary("sigmoid"),
  relu: unary("relu"),
  erf: unary("erf"),
  sign: unary("sign"),
  floor: unary("floor"),
  ceil: unary("ceil"),
  round: unary("round"),
  trunc: unary("trunc"),
  square: unary("square"),
  ...NN_OPS,
};
