// `torch.autograd`: the functional autograd calls, grouped as PyTorch groups them.

export { grad, type GradOptions } from "./ops/autograd_api.ts";
export { type CustomFunction, defineFunction, FunctionContext, type FunctionSpec } from "./function.ts";
export { gradcheck, type GradcheckOptions, gradgradcheck } from "./gradcheck.ts";
export { AccumulateGrad, type GradHook, Node, type RemovableHandle } from "./engine.ts";
