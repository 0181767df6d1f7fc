// The names of the required ops, with what each needs of its inputs. Every
// backend's kernel tables are checked against these unions with `satisfies`.

/** Element-wise ops of one input. */
export type UnaryOp =
  | "neg"
  | "abs"
  | "sign"
  | "exp"
  | "expm1"
  | "log"
  | "log1p"
  | "log2"
  | "sqrt"
  | "rsqrt"
  | "reciprocal"
  | "sin"
  | "cos"
  | "tan"
  | "tanh"
  | "sigmoid"
  | "relu"
  | "floor"
  | "ceil"
  | "round"
  | "trunc"
  | "erf"
  | "logicalNot"
  | "isnan";

/** Element-wise ops of two inputs (broadcast to one shape by strides). */
export type BinaryOp =
  | "add"
  | "sub"
  | "mul"
  | "div"
  | "pow"
  | "maximum"
  | "minimum"
  | "remainder"
  | "floorDivide"
  | "eq"
  | "ne"
  | "lt"
  | "le"
  | "gt"
  | "ge"
  | "logicalAnd"
  | "logicalOr"
  | "logicalXor";

/** Reductions over a set of axes. */
export type ReduceOp = "sum" | "prod" | "max" | "min" | "any" | "all";

/** Reductions that return the int32 position of the winner along one axis. */
export type ArgReduceOp = "argmax" | "argmin";

/**
 * What a unary op accepts: `float` ops need float32/float64 input (autograd
 * casts integers first, as PyTorch promotes them), `bool` ops take bool input,
 * `any` ops keep the input dtype. `out` is the output dtype rule.
 */
export interface UnaryOpInfo {
  /** the input dtypes the op is defined on */
  readonly input: "float" | "bool" | "any";
  /** "same" keeps the input dtype; "bool" gives a mask */
  readonly out: "same" | "bool";
}

/** Input and output dtype rules of every unary op. */
export const UNARY_OP_INFO: Readonly<Record<UnaryOp, UnaryOpInfo>> = {
  neg: { input: "any", out: "same" },
  abs: { input: "any", out: "same" },
  sign: { input: "any", out: "same" },
  exp: { input: "float", out: "same" },
  expm1: { input: "float", out: "same" },
  log: { input: "float", out: "same" },
  log1p: { input: "float", out: "same" },
  log2: { input: "float", out: "same" },
  sqrt: { input: "float", out: "same" },
  rsqrt: { input: "float", out: "same" },
  reciprocal: { input: "float", out: "same" },
  sin: { input: "float", out: "same" },
  cos: { input: "float", out: "same" },
  tan: { input: "float", out: "same" },
  tanh: { input: "float", out: "same" },
  sigmoid: { input: "float", out: "same" },
  relu: { input: "any", out: "same" },
  floor: { input: "any", out: "same" },
  ceil: { input: "any", out: "same" },
  round: { input: "any", out: "same" },
  trunc: { input: "any", out: "same" },
  erf: { input: "float", out: "same" },
  logicalNot: { input: "bool", out: "bool" },
  isnan: { input: "any", out: "bool" },
};

/**
 * What kind of binary op: `arith` keeps the (common) input dtype, `compare`
 * and `logical` give bool. `logical` ops take bool inputs.
 */
export type BinaryOpKind = "arith" | "compare" | "logical";

/** The kind of every binary op. */
export const BINARY_OP_KIND: Readonly<Record<BinaryOp, BinaryOpKind>> = {
  add: "arith",
  sub: "arith",
  mul: "arith",
  div: "arith",
  pow: "arith",
  maximum: "arith",
  minimum: "arith",
  remainder: "arith",
  floorDivide: "arith",
  eq: "compare",
  ne: "compare",
  lt: "compare",
  le: "compare",
  gt: "compare",
  ge: "compare",
  logicalAnd: "logical",
  logicalOr: "logical",
  logicalXor: "logical",
};
