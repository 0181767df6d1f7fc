/**
 * Neural-network building blocks, as PyTorch's `torch.nn`: `Module`,
 * `Parameter`, containers, layers, losses, `functional` and `init`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const { nn } = torch;
 *
 * const model = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 1));
 * console.log(String(model).split("\n")[0]); // Sequential(
 * ```
 *
 * @module
 */
export { Parameter } from "@flint/autograd";
export {
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
  type RemovableHandle,
  type StateDictOptions,
  stateKey,
} from "./module.ts";
export { ModuleDict, ModuleList, Sequential } from "./container.ts";
