/**
 * Tensors with autograd, on any backend: PyTorch's `torch.Tensor`, its ops
 * and its tape, in TypeScript. Most users import it through the umbrella
 * package, `import * as torch from "@flint/torch"`, which also sets up the
 * CPU backend; on its own it needs a backend registered first.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.randn(3, { requiresGrad: true });
 * const y = x.add(2);
 * const z = y.mul(y).mul(2).mean();
 * z.backward();
 * console.log(x.grad!.shape); // [3]
 * ```
 *
 * @module
 */
export { Tensor } from "./tensor.ts";
export { Parameter } from "./parameter.ts";
export type { Dims } from "./tensor.ts";
export * from "./functional.ts";
/** `torch.autograd`: `grad`, `gradcheck`, `gradgradcheck`, custom functions and graph nodes. */
export * as autograd from "./autograd_namespace.ts";
export { gradcheck, type GradcheckOptions, gradgradcheck } from "./gradcheck.ts";
export { type GradHook, Node, type RemovableHandle } from "./engine.ts";
export {
  arange,
  empty,
  emptyLike,
  eye,
  fromArray,
  full,
  fullLike,
  linspace,
  manualSeed,
  ones,
  onesLike,
  rand,
  randint,
  randLike,
  randn,
  randnLike,
  type RandomOptions,
  randperm,
  type SizeArgs,
  tensor,
  type TypedArrayInput,
  zeros,
  zerosLike,
} from "./ops/creation.ts";
export { fusedAdamStep_, fusedSgdStep_ } from "./ops/optim_step.ts";
export { fusedChannelAffine } from "./ops/channel_affine.ts";
export { releaseGrad } from "./ops/_core.ts";
export { Generator } from "./generator.ts";
export { defaultGenerator } from "./default_generator.ts";
export {
  Device,
  device,
  type DeviceLike,
  getDefaultDevice,
  listDevices,
  registerBackend,
  setDefaultDevice,
} from "./device.ts";
export { enableGrad, type GradModeGuard, isGradEnabled, noGrad, setGradEnabled } from "./grad_mode.ts";
export { type DeviceMemory, keep, memory, scope } from "./memory.ts";
export { getPrintOptions, type PrintOptions, setPrintOptions } from "./format.ts";
export type {
  BackwardOptions,
  ClampOptions,
  CreationOptions,
  DivOptions,
  IndexPutOptions,
  IndexSpec,
  NestedArray,
  ReduceOptions,
  Slice,
  ToOptions,
  ValuesIndices,
  VarOptions,
} from "./types.ts";
export type * from "@flint/backend";
export type { DimArg } from "./ops/reduction.ts";
export type { GradcheckFunction } from "./gradcheck.ts";
