/**
 * Optimizers and learning-rate schedules, as `torch.optim`: `SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`
 * with PyTorch 2's update rules step for step, parameter groups, closures, and state dicts in PyTorch's
 * layout; `lrScheduler` is `torch.optim.lr_scheduler`. Optimizers work on any device: the updates are
 * in-place tensor ops under `noGrad`, and their state survives `torch.scope()`.
 *
 * Options and group keys are camelCase (`weightDecay`, `initialLr`); state dicts use PyTorch's snake_case
 * (`weight_decay`, `exp_avg`), so a dict moves between Flint and PyTorch.
 *
 * @example A training loop
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.tensor([[1], [2], [3], [4]]);
 * const y = torch.tensor([[2], [4], [6], [8]]);
 * const w = torch.zeros([1, 1], { requiresGrad: true });
 * const opt = new torch.optim.SGD([w], { lr: 0.05, momentum: 0.5 });
 * const sched = new torch.optim.lrScheduler.StepLR(opt, 50, { gamma: 0.5 });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   opt.zeroGrad();
 *   x.matmul(w).sub(y).pow(2).mean().backward();
 *   opt.step();
 *   sched.step();
 * }
 * console.log(w.itemSync().toFixed(3)); // 2.000
 * ```
 *
 * @module
 */
export {
  type LoadableStateDict,
  Optimizer,
  type OptimizerOptions,
  type OptimizerParams,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type SavedParamGroup,
  type ZeroGradOptions,
} from "./optimizer.ts";
export { SGD, type SGDOptions, type SGDState } from "./sgd.ts";
export { Adam, type AdamOptions, type AdamState, AdamW } from "./adam.ts";
export { RMSprop, type RMSpropOptions, type RMSpropState } from "./rmsprop.ts";
export { Adagrad, type AdagradOptions, type AdagradState } from "./adagrad.ts";
export * as lrScheduler from "./lr_scheduler.ts";
