/**
 * Learning-rate schedules, as `torch.optim.lr_scheduler`: each scheduler rewrites `group.lr` of its
 * optimizer's parameter groups when `step()` is called (once per epoch, or per batch for OneCycleLR), with
 * PyTorch 2's formulas evaluated in the same order, so the values match PyTorch's to the last bit or so.
 *
 * Construction stores `initialLr` in every group (`initial_lr` in state dicts) and performs the initial step,
 * as PyTorch does. Call `optimizer.step()` before `scheduler.step()`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.zeros(2, { requiresGrad: true });
 * const opt = new torch.optim.SGD([w], { lr: 0.1 });
 * const sched = new torch.optim.lrScheduler.StepLR(opt, 2, { gamma: 0.5 });
 * const lrs = [];
 * for (let epoch = 0; epoch < 5; epoch++) {
 *   opt.step();
 *   sched.step();
 *   lrs.push(sched.getLastLr()[0]);
 * }
 * console.log(lrs); // [ 0.1, 0.05, 0.05, 0.025, 0.025 ]
 * ```
 *
 * @module
 */

import { Tensor } from "@flint/autograd";
import { Optimizer, type ParamGroup } from "./optimizer.ts";
import { pyNumber, toCamel, toSnake, warnOnce } from "./_util.ts";

const EPOCH_DEPRECATION_WARNING = "The epoch parameter in `scheduler.step()` was not necessary and is being " +
  "deprecated where possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if " +
  "epoch is different from None, the closed form is used instead of the new chainable form, where available. " +
  "Please open an issue if you are unable to replicate your use case: " +
  "https://github.com/pytorch/pytorch/issues/new/choose.";

/** Options every scheduler takes. */
export interface SchedulerOptions {
  /** the index of the last epoch, to resume a schedule (default -1: start from the beginning) */
  lastEpoch?: number;
}

/** Optimizers whose `step()` ran since a scheduler wrapped it, for PyTorch's call-order warning. */
const optimizerStepped = new WeakSet<Optimizer>();
const optimizerWrapped = new WeakSet<Optimizer>();

/** Wraps `optimizer.step` (once) to note that it ran, as PyTorch's schedulers do. */
function trackStepCalls(optimizer: Optimizer): void {
  if (optimizerWrapped.has(optimizer)) return;
  optimizerWrapped.add(optimizer);
  const original = optimizer.step;
  const wrapped = function (this: Optimizer, ...args: unknown[]): unknown {
    optimizerStepped.add(optimizer);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  };
  optimizer.step = wrapped as Optimizer["step"];
}

function typeName(value: unknown): string {
  if (value === null) return "NoneType";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

function checkOptimizer(optimizer: unknown): asserts optimizer is Optimizer {
  if (!(optimizer instanceof Optimizer)) throw new TypeError(`${typeName(optimizer)} is not an Optimizer`);
}

/** A state-dict value: Maps (PyTorch's Counters) become plain objects, arrays are copied. */
function saveValue(value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries(value);
  if (Array.isArray(value)) return value.map(saveValue);
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, saveValue(v)]));
  }
  return value;
}

/** A number read from a state dict: PyTorch writes infinities as floats; JSON round trips may give strings. */
function loadNumber(value: unknown): unknown {
  if (value === "inf" || value === "Infinity") return Infinity;
  if (value === "-inf" || value === "-Infinity") return -Infinity;
  return value;
}

/** `group[key]` as a number. */
function num(group: ParamGroup, key: string): number {
  return group[key] as number;
}

/**
 * The base class of learning-rate schedulers, as PyTorch's `LRScheduler`. A subclass sets its fields, then
 * calls {@linkcode LRScheduler.initialStep} at the end of its constructor (PyTorch's `super().__init__` runs
 * last for the same reason), and implements {@linkcode LRScheduler.getLr}, which returns the new lr of each
 * group from the current ones (the chainable form).
 *
 * @example A custom schedule: halve the lr every epoch
 * ```ts
 * import * as torch from "@flint/torch";
 * import { lrScheduler, type Optimizer } from "@flint/optim";
 *
 * class Halving extends lrScheduler.LRScheduler {
 *   constructor(optimizer: Optimizer) {
 *     super(optimizer);
 *     this.initialStep();
 *   }
 *   override getLr(): number[] {
 *     return this.optimizer.paramGroups.map((g) => this.lastEpoch === 0 ? g.lr : g.lr / 2);
 *   }
 * }
 * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
 * const sched = new Halving(opt);
 * opt.step();
 * sched.step();
 * console.log(sched.getLastLr()); // [ 0.5 ]
 * ```
 */
export class LRScheduler {
  /** the optimizer whose learning rates this scheduler sets */
  optimizer: Optimizer;
  /** each group's `initialLr` */
  baseLrs: number[] = [];
  /** the index of the last epoch (step) taken */
  lastEpoch: number = -1;
  #stepCount = 0;
  #lastLr: number[] = [];
  #withinStep = false;
  #isInitial = false;

  /**
   * Attaches to `optimizer`: stores `initialLr` in each group (when `lastEpoch` is -1) and reads the base
   * learning rates. Does not step: the subclass calls {@linkcode LRScheduler.initialStep} once its fields
   * are set.
   *
   * @param optimizer the optimizer to schedule
   * @param lastEpoch -1 to start, or the last epoch to resume from (groups then need `initialLr`)
   * @throws {TypeError} "X is not an Optimizer"
   * @throws {Error} "param 'initial_lr' is not specified in param_groups[i] when resuming an optimizer"
   */
  constructor(optimizer: Optimizer, lastEpoch: number = -1) {
    checkOptimizer(optimizer);
    this.optimizer = optimizer;
    // ReduceLROnPlateau (a subclass in PyTorch 2) only attaches: it has no base lrs and no initial step.
    if (this instanceof ReduceLROnPlateau) return;
    if (lastEpoch === -1) {
      for (const group of optimizer.paramGroups) {
        if (!("initialLr" in group)) group.initialLr = group.lr;
      }
    } else {
      optimizer.paramGroups.forEach((group, i) => {
        if (!("initialLr" in group)) {
          throw new Error(
            `param 'initial_lr' is not specified in param_groups[${i}] when resuming an optimizer`,
          );
        }
      });
    }
    this.baseLrs = optimizer.paramGroups.map((g) => num(g, "initialLr"));
    this.lastEpoch = lastEpoch;
    trackStepCalls(optimizer);
  }

  /** True during the step the constructor performs (PyTorch's `_is_initial`). */
  protected get isInitial(): boolean {
    return this.#isInitial;
  }

  /** How many times `step()` ran, the initial step included (PyTorch's `_step_count`). */
  protected get stepCount(): number {
    return this.#stepCount;
  }

  /** The step every scheduler takes at construction; subclasses call it last in their constructor. */
  protected initialStep(): void {
    this.#stepCount = 0;
    this.#isInitial = true;
    try {
      this.step();
    } finally {
      this.#isInitial = false;
    }
  }

  /**
   * Advances the schedule by one epoch and writes the new learning rates into the groups.
   *
   * @param epoch deprecated in PyTorch: jump to this epoch, using the closed form where there is one
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
   * const sched = new torch.optim.lrScheduler.ExponentialLR(opt, 0.5);
   * opt.step();
   * sched.step();
   * console.log(opt.paramGroups[0].lr); // 0.5
   * ```
   */
  step(epoch?: number): void {
    if (this.#stepCount === 1 && !optimizerStepped.has(this.optimizer)) {
      warnOnce(
        "Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and later, you " +
          "should call them in the opposite order: `optimizer.step()` before `lr_scheduler.step()`.  Failure to " +
          "do this will result in PyTorch skipping the first value of the learning rate schedule. See more " +
          "details at https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
      );
    }
    this.#stepCount++;
    if (epoch !== undefined) warnOnce(EPOCH_DEPRECATION_WARNING);
    let values: number[];
    this.#withinStep = true;
    try {
      if (epoch === undefined) {
        this.lastEpoch += 1;
        values = this.getLr();
      } else {
        this.lastEpoch = epoch;
        values = this.closedFormLr() ?? this.getLr();
      }
    } finally {
      this.#withinStep = false;
    }
    this.optimizer.paramGroups.forEach((group, i) => {
      if (i < values.length) group.lr = values[i];
    });
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /**
   * The learning rates the last `step()` set, one per group (PyTorch's `get_last_lr()`).
   *
   * @returns a copy of the list
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 0.3 });
   * console.log(new torch.optim.lrScheduler.LinearLR(opt, { startFactor: 0.5 }).getLastLr()); // [ 0.15 ]
   * ```
   */
  getLastLr(): number[] {
    return [...this.#lastLr];
  }

  /**
   * The next learning rate of each group, from the current ones (the chainable form). Called by `step()`;
   * calling it directly warns, as in PyTorch: use {@linkcode LRScheduler.getLastLr}.
   *
   * @returns one learning rate per group
   * @throws {Error} in the base class
   */
  getLr(): number[] {
    throw new Error(`${this.constructor.name}.getLr is not implemented`);
  }

  /**
   * The closed-form learning rates at `lastEpoch`, used by the deprecated `step(epoch)`; null when the
   * schedule has none.
   *
   * @returns one learning rate per group, or null
   */
  protected closedFormLr(): number[] | null {
    return null;
  }

  /** Warns when {@linkcode LRScheduler.getLr} is called outside `step()`, as PyTorch does. */
  protected warnIfOutsideStep(): void {
    if (!this.#withinStep) {
      warnOnce("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.");
    }
  }

  /**
   * The scheduler's state, as PyTorch's `state_dict()`: every field but the optimizer, snake_case
   * (`base_lrs`, `last_epoch`, `_step_count`, `_last_lr`, `step_size`, ...).
   *
   * @returns a plain object
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 0.1 });
   * const sd = new torch.optim.lrScheduler.StepLR(opt, 3).stateDict();
   * console.log(sd.step_size, sd.gamma, sd.last_epoch, sd._step_count); // 3 0.1 0 1
   * ```
   */
  stateDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this)) {
      if (key !== "optimizer" && value !== undefined) out[toSnake(key)] = saveValue(value);
    }
    out._step_count = this.#stepCount;
    out._get_lr_called_within_step = false;
    out._last_lr = [...this.#lastLr];
    out._is_initial = false;
    return out;
  }

  /**
   * Restores a state from {@linkcode LRScheduler.stateDict} or PyTorch's `state_dict()` (snake_case or
   * camelCase keys). Keys this scheduler does not have are ignored.
   *
   * @param stateDict the saved state
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 0.1 });
   * const sched = new torch.optim.lrScheduler.StepLR(opt, 3);
   * sched.loadStateDict({ step_size: 5, last_epoch: 7 });
   * console.log(sched.stepSize, sched.lastEpoch); // 5 7
   * ```
   */
  loadStateDict(stateDict: Record<string, unknown>): void {
    for (const [key, raw] of Object.entries(stateDict)) {
      const name = toCamel(key);
      const value = loadNumber(raw);
      if (name === "_stepCount") this.#stepCount = value as number;
      else if (name === "_lastLr") this.#lastLr = [...(value as number[])];
      else if (name !== "optimizer" && Object.hasOwn(this, name)) {
        const current = (this as Record<string, unknown>)[name];
        (this as Record<string, unknown>)[name] = current instanceof Map
          ? new Map(Object.entries(value as object).map(([k, v]) => [Number(k), v]))
          : Array.isArray(value)
          ? value.map(loadNumber)
          : value;
      }
    }
  }
}

/**
 * Sets each group's lr to its initial lr times `lrLambda(epoch)`, as `LambdaLR`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
 * const sched = new torch.optim.lrScheduler.LambdaLR(opt, (epoch) => 1 / (epoch + 1));
 * opt.step();
 * sched.step();
 * console.log(sched.getLastLr()); // [ 0.5 ]
 * ```
 */
export class LambdaLR extends LRScheduler {
  /** one multiplier function per group */
  #lambdas: Array<(epoch: number) => number>;

  /**
   * Creates a LambdaLR: each group's lr is its initial lr times `lrLambda(epoch)`.
   *
   * @param optimizer the optimizer
   * @param lrLambda a function of the epoch giving the factor, or one per group
   * @param options `lastEpoch`
   * @throws {RangeError} "Expected 2 lr_lambdas, but got 1"
   */
  constructor(
    optimizer: Optimizer,
    lrLambda: ((epoch: number) => number) | Array<(epoch: number) => number>,
    options: SchedulerOptions = {},
  ) {
    checkOptimizer(optimizer);
    const n = optimizer.paramGroups.length;
    if (Array.isArray(lrLambda) && lrLambda.length !== n) {
      throw new RangeError(`Expected ${n} lr_lambdas, but got ${lrLambda.length}`);
    }
    super(optimizer, options.lastEpoch ?? -1);
    this.#lambdas = Array.isArray(lrLambda) ? [...lrLambda] : Array(n).fill(lrLambda);
    this.initialStep();
  }

  /** `baseLr * lrLambda(lastEpoch)` per group. */
  override getLr(): number[] {
    this.warnIfOutsideStep();
    return this.baseLrs.map((base, i) => base * this.#lambdas[i](this.lastEpoch));
  }

  /** The state, with `lr_lambdas` as PyTorch writes them for plain functions: null each. */
  override stateDict(): Record<string, unknown> {
    return { ...super.stateDict(), lr_lambdas: this.#lambdas.map(() => null) };
  }
}

/** Options of {@linkcode StepLR}. */
export interface StepLROptions extends SchedulerOptions {
  /** the factor applied every `stepSize` epochs (default 0.1) */
  gamma?: number;
}

/**
 * Multiplies each group's lr by `gamma` every `stepSize` epochs, as `StepLR`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
 * const sched = new torch.optim.lrScheduler.StepLR(opt, 1, { gamma: 0.5 });
 * opt.step();
 * sched.step();
 * console.log(sched.getLastLr()); // [ 0.5 ]
 * ```
 */
export class StepLR extends LRScheduler {
  /** the period of the decay, in epochs */
  stepSize: number;
  /** the decay factor */
  gamma: number;

  /**
   * Creates a `StepLR`.
   *
   * @param optimizer the optimizer
   * @param stepSize the period of the decay, in epochs
   * @param options `gamma` (default 0.1), `lastEpoch`
   */
  constructor(optimizer: Optimizer, stepSize: number, options: StepLROptions = {}) {
    super(optimizer, options.lastEpoch ?? -1);
    this.stepSize = stepSize;
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }

  /** The current lr, times `gamma` on every multiple of `stepSize`. */
  override getLr(): number[] {
    this.warnIfOutsideStep();
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }

  /** `baseLr * gamma ** floor(lastEpoch / stepSize)`. */
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/** Options of {@linkcode MultiStepLR}. */
export interface MultiStepLROptions extends SchedulerOptions {
  /** the factor applied at each milestone (default 0.1) */
  gamma?: number;
}

/**
 * Multiplies each group's lr by `gamma` at each milestone epoch, as `MultiStepLR` (a milestone listed twice
 * applies `gamma` twice).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
 * const sched = new torch.optim.lrScheduler.MultiStepLR(opt, [2, 3], { gamma: 0.5 });
 * const lrs = [];
 * for (let i = 0; i < 4; i++) {
 *   opt.step();
 *   sched.step();
 *   lrs.push(sched.getLastLr()[0]);
 * }
 * console.log(lrs); // [ 1, 0.5, 0.25, 0.25 ]
 * ```
 */
export class MultiStepLR extends LRScheduler {
  /** how many times each milestone epoch was listed (PyTorch's Counter) */
  milestones: Map<number, number>;
  /** the decay factor */
  gamma: number;

  /**
   * Creates a `MultiStepLR`.
   *
   * @param optimizer the optimizer
   * @param milestones epochs at which to decay
   * @param options `gamma` (default 0.1), `lastEpoch`
   */
  constructor(optimizer: Optimizer, milestones: Iterable<number>, options: MultiStepLROptions = {}) {
    super(optimizer, options.lastEpoch ?? -1);
    this.milestones = new Map();
    for (const m of milestones) this.milestones.set(m, (this.milestones.get(m) ?? 0) + 1);
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }

  /** The current lr, times `gamma ** count` at a milestone. */
  override getLr(): number[] {
    this.warnIfOutsideStep();
    const groups = this.optimizer.paramGroups;
    const count = this.milestones.get(this.lastEpoch);
    if (count === undefined) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma ** count);
  }

  /** `baseLr * gamma ** (milestones passed)`. */
  protected override closedFormLr(): number[] {
    let passed = 0;
    for (const [m, count] of this.milestones) if (m <= this.lastEpoch) passed += count;
    return this.baseLrs.map((base) => base * this.gamma ** passed);
  }
}

/**
 * Multiplies each group's lr by `gamma` every epoch, as `ExponentialLR`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
 * const sched = new torch.optim.lrScheduler.ExponentialLR(opt, 0.9);
 * opt.step();
 * sched.step();
 * console.log(sched.getLastLr()); // [ 0.9 ]
 * ```
 */
export class ExponentialLR extends LRScheduler {
  /** the decay factor per epoch */
  gamma: number;

  /**
   * Creates an `ExponentialLR`.
   *
   * @param optimizer the optimizer
   * @param gamma the decay factor per epoch
   * @param options `lastEpoch`
   */
  constructor(optimizer: Optimizer, gamma: number, options: SchedulerOptions = {}) {
    super(optimizer, options.lastEpoch ?? -1);
    this.gamma = gamma;
    this.initialStep();
  }

  /** The current lr times `gamma` (unchanged at the initial step). */
  override getLr(): number[] {
    this.warnIfOutsideStep();
    const groups = this.optimizer.paramGroups;
    if (this.isInitial) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }

  /** `baseLr * gamma ** lastEpoch`. */
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.gamma ** this.lastEpoch);
  }
}

/** Options of {@linkcode CosineAnnealingLR}. */
export interface CosineAnnealingLROptions extends SchedulerOptions {
  /** the minimum learning rate (default 0) */
  etaMin?: number;
}

/**
 * Cosine annealing from each group's lr down to `etaMin` over `TMax` epochs, as `CosineAnnealingLR`, in
 * PyTorch's recursive form (each lr from the previous one), so values match PyTorch's exactly; past `TMax`
 * the schedule goes back up as PyTorch's does.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
 * const sched = new torch.optim.lrScheduler.CosineAnnealingLR(opt, 2);
 * const lrs = [];
 * for (let i = 0; i < 2; i++) {
 *   opt.step();
 *   sched.step();
 *   lrs.push(sched.getLastLr()[0].toFixed(3));
 * }
 * console.log(lrs); // [ "0.500", "0.000" ]
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  /** the number of epochs of a half cosine (PyTorch's `T_max`) */
  TMax: number;
  /** the minimum learning rate */
  etaMin: number;

  /**
   * Creates a `CosineAnnealingLR`.
   *
   * @param optimizer the optimizer
   * @param TMax the number of epochs of a half cosine
   * @param options `etaMin` (default 0), `lastEpoch`
   */
  constructor(optimizer: Optimizer, TMax: number, options: CosineAnnealingLROptions = {}) {
    super(optimizer, options.lastEpoch ?? -1);
    this.TMax = TMax;
    this.etaMin = options.etaMin ?? 0;
    this.initialStep();
  }

  /** PyTorch's recursive cosine step. */
  override getLr(): number[] {
    this.warnIfOutsideStep();
    const groups = this.optimizer.paramGroups;
    const { TMax, etaMin, lastEpoch } = this;
    if (this.isInitial) return groups.map((g) => g.lr);
    if (this.stepCount === 1 && lastEpoch > 0) {
      return this.baseLrs.map((base) => etaMin + (base - etaMin) * (1 + Math.cos(lastEpoch * Math.PI / TMax)) / 2);
    }
    if ((lastEpoch - 1 - TMax) % (2 * TMax) === 0) {
      // zip(base_lrs, param_groups): groups added after construction keep their lr
      return this.baseLrs.map((base, i) => groups[i].lr + (base - etaMin) * (1 - Math.cos(Math.PI / TMax)) / 2);
    }
    return groups.map((g) =>
      (1 + Math.cos(Math.PI * lastEpoch / TMax)) / (1 + Math.cos(Math.PI * (lastEpoch - 1) / TMax)) *
        (g.lr - etaMin) + etaMin
    );
  }

  /** `etaMin + (baseLr - etaMin) * (1 + cos(pi * lastEpoch / TMax)) / 2`. */
  protected override closedFormLr(): number[] {
    const { TMax, etaMin, lastEpoch } = this;
    return this.baseLrs.map((base) => etaMin + (base - etaMin) * (1 + Math.cos(Math.PI * lastEpoch / TMax)) / 2);
  }
}

/** Options of {@linkcode LinearLR}. */
export interface LinearLROptions extends SchedulerOptions {
  /** the factor of the first epoch, in (0, 1] (default 1/3) */
  startFactor?: number;
  /** the factor reached after `totalIters` epochs, in [0, 1] (default 1) */
  endFactor?: number;
  /** the number of epochs of the ramp (default 5) */
  totalIters?: number;
}

/**
 * Scales each group's lr by a factor that goes linearly from `startFactor` to `endFactor` over `totalIters`
 * epochs, as `LinearLR` (a warm-up by default).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
 * const sched = new torch.optim.lrScheduler.LinearLR(opt, { startFactor: 0.5, totalIters: 2 });
 * const lrs = [sched.getLastLr()[0]];
 * for (let i = 0; i < 3; i++) {
 *   opt.step();
 *   sched.step();
 *   lrs.push(sched.getLastLr()[0]);
 * }
 * console.log(lrs); // [ 0.5, 0.75, 1, 1 ]
 * ```
 */
export class LinearLR extends LRScheduler {
  /** the factor of the first epoch */
  startFactor: number;
  /** the final factor */
  endFactor: number;
  /** the length of the ramp, in epochs */
  totalIters: number;

  /**
   * Creates a `LinearLR`.
   *
   * @param optimizer the optimizer
   * @param options `startFactor` (1/3), `endFactor` (1), `totalIters` (5), `lastEpoch`
   * @throws {RangeError} "Starting multiplicative factor expected to be greater than 0 and less or equal to
   *   1.", "Ending multiplicative factor expected to be between 0 and 1."
   */
  constructor(optimizer: Optimizer, options: LinearLROptions = {}) {
    const startFactor = options.startFactor ?? 1 / 3;
    const endFactor = options.endFactor ?? 1;
    if (startFactor > 1 || startFactor <= 0) {
      throw new RangeError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.");
    }
    if (endFactor > 1 || endFactor < 0) {
      throw new RangeError("Ending multiplicative factor expected to be between 0 and 1.");
    }
    super(optimizer, options.lastEpoch ?? -1);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = options.totalIters ?? 5;
    this.initialStep();
  }

  /** PyTorch's chainable linear ramp. */
  override getLr(): number[] {
    this.warnIfOutsideStep();
    const groups = this.optimizer.paramGroups;
    const { startFactor, endFactor, totalIters, lastEpoch } = this;
    if (lastEpoch === 0) return groups.map((g) => g.lr * startFactor);
    if (this.isInitial || lastEpoch > totalIters) return groups.map((g) => g.lr);
    return groups.map((g) =>
      g.lr * (1 + (endFactor - startFactor) / (totalIters * startFactor + (lastEpoch - 1) * (endFactor - startFactor)))
    );
  }

  /** `baseLr * (startFactor + (endFactor - startFactor) * min(totalIters, lastEpoch) / totalIters)`. */
  protected override closedFormLr(): number[] {
    const { startFactor, endFactor, totalIters, lastEpoch } = this;
    return this.baseLrs.map((base) =>
      base * (startFactor + (endFactor - startFactor) * Math.min(totalIters, lastEpoch) / totalIters)
    );
  }
}

/** Options of {@linkcode OneCycleLR}: `totalSteps`, or `epochs` and `stepsPerEpoch`. */
export interface OneCycleLROptions extends SchedulerOptions {
  /** the number of steps in the cycle */
  totalSteps?: number;
  /** with `stepsPerEpoch`, gives `totalSteps = epochs * stepsPerEpoch` */
  epochs?: number;
  /** with `epochs`, gives `totalSteps` */
  stepsPerEpoch?: number;
  /** the fraction of the cycle spent increasing the lr (default 0.3) */
  pctStart?: number;
  /** "cos" (default) or "linear" */
  annealStrategy?: "cos" | "linear";
  /** cycle momentum (or Adam's beta1) inversely to the lr (default true) */
  cycleMomentum?: boolean;
  /** the lowest momentum, reached at the peak lr (default 0.85), or one per group */
  baseMomentum?: number | number[];
  /** the highest momentum (default 0.95), or one per group */
  maxMomentum?: number | number[];
  /** `initialLr = maxLr / divFactor` (default 25) */
  divFactor?: number;
  /** `minLr = initialLr / finalDivFactor` (default 1e4) */
  finalDivFactor?: number;
  /** a third phase anneals to `minLr` after a symmetric up/down (default false) */
  threePhase?: boolean;
}

interface SchedulePhase {
  endStep: number;
  startLr: string;
  endLr: string;
  startMomentum: string;
  endMomentum: string;
}

function formatParam(name: string, optimizer: Optimizer, param: number | number[]): number[] {
  const n = optimizer.paramGroups.length;
  if (Array.isArray(param)) {
    if (param.length !== n) {
      throw new RangeError(
        `${name} must have the same length as optimizer.param_groups. ${name} has ${param.length} values, ` +
          `param_groups has ${n}.`,
      );
    }
    return [...param];
  }
  return Array(n).fill(param);
}

function annealCos(start: number, end: number, pct: number): number {
  const cosOut = Math.cos(Math.PI * pct) + 1;
  return end + (start - end) / 2.0 * cosOut;
}

function annealLinear(start: number, end: number, pct: number): number {
  return (end - start) * pct + start;
}

/**
 * The 1cycle policy, as `OneCycleLR`: the lr rises from `maxLr / divFactor` to `maxLr` over `pctStart` of
 * the cycle, then falls to `initialLr / finalDivFactor`; momentum (or Adam's beta1) moves the opposite way
 * between `maxMomentum` and `baseMomentum`. Step it after every batch. Sets `initialLr`, `maxLr`, `minLr`,
 * `maxMomentum`, `baseMomentum` in each group.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
 * const sched = new torch.optim.lrScheduler.OneCycleLR(opt, 1.0, { totalSteps: 10 });
 * console.log(sched.getLastLr(), opt.paramGroups[0].momentum); // [ 0.040000000000000036 ] 0.95
 * ```
 */
export class OneCycleLR extends LRScheduler {
  /** the number of steps in the cycle */
  totalSteps: number;
  /** whether momentum cycles */
  cycleMomentum: boolean;
  /** whether the cycled momentum is Adam's beta1 */
  useBeta1: boolean | undefined;
  #phases: SchedulePhase[];
  #annealFuncType: "cos" | "linear";

  /**
   * Creates an `OneCycleLR`.
   *
   * @param optimizer the optimizer
   * @param maxLr the peak learning rate, or one per group
   * @param options `totalSteps` or `epochs` and `stepsPerEpoch`, and the shape of the cycle
   * @throws {RangeError} with PyTorch's messages when the step counts, `pctStart` or `annealStrategy` are
   *   invalid, or the optimizer has no momentum while `cycleMomentum` is on
   */
  constructor(optimizer: Optimizer, maxLr: number | number[], options: OneCycleLROptions = {}) {
    checkOptimizer(optimizer);
    const { totalSteps: total, epochs, stepsPerEpoch } = options;
    let totalSteps: number;
    if (total !== undefined) {
      if (!Number.isInteger(total) || total <= 0) {
        throw new RangeError(`Expected positive integer total_steps, but got ${total}`);
      }
      totalSteps = total;
    } else if (epochs !== undefined && stepsPerEpoch !== undefined) {
      if (!Number.isInteger(epochs) || epochs <= 0) {
        throw new RangeError(`Expected positive integer epochs, but got ${epochs}`);
      }
      if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch <= 0) {
        throw new RangeError(`Expected positive integer steps_per_epoch, but got ${stepsPerEpoch}`);
      }
      totalSteps = epochs * stepsPerEpoch;
    } else {
      throw new RangeError("You must define either total_steps OR (epochs AND steps_per_epoch)");
    }
    const pctStart = options.pctStart ?? 0.3;
    const phases: SchedulePhase[] = options.threePhase
      ? [
        {
          endStep: pctStart * totalSteps - 1,
          startLr: "initialLr",
          endLr: "maxLr",
          startMomentum: "maxMomentum",
          endMomentum: "baseMomentum",
        },
        {
          endStep: 2 * pctStart * totalSteps - 2,
          startLr: "maxLr",
          endLr: "initialLr",
          startMomentum: "baseMomentum",
          endMomentum: "maxMomentum",
        },
        {
          endStep: totalSteps - 1,
          startLr: "initialLr",
          endLr: "minLr",
          startMomentum: "maxMomentum",
          endMomentum: "maxMomentum",
        },
      ]
      : [
        {
          endStep: pctStart * totalSteps - 1,
          startLr: "initialLr",
          endLr: "maxLr",
          startMomentum: "maxMomentum",
          endMomentum: "baseMomentum",
        },
        {
          endStep: totalSteps - 1,
          startLr: "maxLr",
          endLr: "minLr",
          startMomentum: "baseMomentum",
          endMomentum: "maxMomentum",
        },
      ];
    if (!(pctStart >= 0 && pctStart <= 1)) {
      throw new RangeError(`Expected float between 0 and 1 pct_start, but got ${pyNumber(pctStart)}`);
    }
    const anneal = options.annealStrategy ?? "cos";
    if (anneal !== "cos" && anneal !== "linear") {
      throw new RangeError(`anneal_strategy must be one of 'cos' or 'linear', instead got ${anneal}`);
    }
    const lastEpoch = options.lastEpoch ?? -1;
    const divFactor = options.divFactor ?? 25;
    const finalDivFactor = options.finalDivFactor ?? 1e4;
    const maxLrs = formatParam("max_lr", optimizer, maxLr);
    if (lastEpoch === -1) {
      optimizer.paramGroups.forEach((group, i) => {
        group.initialLr = maxLrs[i] / divFactor;
        group.maxLr = maxLrs[i];
        group.minLr = num(group, "initialLr") / finalDivFactor;
      });
    }
    const cycleMomentum = options.cycleMomentum ?? true;
    let useBeta1: boolean | undefined;
    if (cycleMomentum) {
      if (!("momentum" in optimizer.defaults) && !("betas" in optimizer.defaults)) {
        throw new RangeError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled");
      }
      useBeta1 = "betas" in optimizer.defaults;
      const maxMomentums = formatParam("max_momentum", optimizer, options.maxMomentum ?? 0.95);
      const baseMomentums = formatParam("base_momentum", optimizer, options.baseMomentum ?? 0.85);
      if (lastEpoch === -1) {
        optimizer.paramGroups.forEach((group, i) => {
          if (useBeta1) group.betas = [maxMomentums[i], ...(group.betas as number[]).slice(1)];
          else group.momentum = maxMomentums[i];
          group.maxMomentum = maxMomentums[i];
          group.baseMomentum = baseMomentums[i];
        });
      }
    }
    super(optimizer, lastEpoch);
    this.totalSteps = totalSteps;
    this.#phases = phases;
    this.#annealFuncType = anneal;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this.initialStep();
  }

  /** The lr (and momentum, written into the groups) at `lastEpoch` along the cycle. */
  override getLr(): number[] {
    this.warnIfOutsideStep();
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw new RangeError(`Tried to step ${stepNum} times. The specified number of total steps is ${this.totalSteps}`);
    }
    const anneal = this.#annealFuncType === "cos" ? annealCos : annealLinear;
    return this.optimizer.paramGroups.map((group) => {
      let startStep = 0;
      let lr = NaN;
      let momentum = NaN;
      for (let i = 0; i < this.#phases.length; i++) {
        const phase = this.#phases[i];
        const endStep = phase.endStep;
        if (stepNum <= endStep || i === this.#phases.length - 1) {
          const pct = (stepNum - startStep) / (endStep - startStep);
          lr = anneal(num(group, phase.startLr), num(group, phase.endLr), pct);
          if (this.cycleMomentum) {
            momentum = anneal(num(group, phase.startMomentum), num(group, phase.endMomentum), pct);
          }
          break;
        }
        startStep = phase.endStep;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) group.betas = [momentum, ...(group.betas as number[]).slice(1)];
        else group.momentum = momentum;
      }
      return lr;
    });
  }

  /** The state, with PyTorch's `_schedule_phases` and `_anneal_func_type`. */
  override stateDict(): Record<string, unknown> {
    return {
      ...super.stateDict(),
      _schedule_phases: this.#phases.map((p) =>
        Object.fromEntries(
          Object.entries(p).map(([k, v]) => [toSnake(k), typeof v === "string" ? toSnake(v) : v]),
        )
      ),
      _anneal_func_type: this.#annealFuncType,
    };
  }

  /** Restores the state, `_schedule_phases` and `_anneal_func_type` included. */
  override loadStateDict(stateDict: Record<string, unknown>): void {
    super.loadStateDict(stateDict);
    const phases = stateDict._schedule_phases ?? stateDict._schedulePhases;
    if (Array.isArray(phases)) {
      this.#phases = phases.map((p: Record<string, unknown>) =>
        Object.fromEntries(
          Object.entries(p).map(([k, v]) => [toCamel(k), typeof v === "string" ? toCamel(v) : v]),
        ) as unknown as SchedulePhase
      );
    }
    const anneal = stateDict._anneal_func_type ?? stateDict._annealFuncType;
    if (anneal === "cos" || anneal === "linear") this.#annealFuncType = anneal;
  }
}

/** Options of {@linkcode ReduceLROnPlateau}. */
export interface ReduceLROnPlateauOptions {
  /** "min" (default): reduce when the metric stops decreasing; "max": when it stops increasing */
  mode?: "min" | "max";
  /** the factor applied to the lr, below 1 (default 0.1) */
  factor?: number;
  /** epochs without improvement tolerated before reducing (default 10) */
  patience?: number;
  /** the improvement that counts (default 1e-4) */
  threshold?: number;
  /** "rel" (default): relative to the best value; "abs": absolute */
  thresholdMode?: "rel" | "abs";
  /** epochs to wait after a reduction before counting again (default 0) */
  cooldown?: number;
  /** the lowest lr, or one per group (default 0) */
  minLr?: number | number[];
  /** reductions smaller than this are skipped (default 1e-8) */
  eps?: number;
}

/**
 * Reduces the learning rate when a metric has stopped improving, as `ReduceLROnPlateau`: after more than
 * `patience` epochs without improvement, each group's lr is multiplied by `factor` (not below its `minLr`).
 * `step(metric)` takes the metric as a number, or a one-element tensor read synchronously (CPU); on a device
 * that reads only asynchronously pass `await loss.item()`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 1 });
 * const sched = new torch.optim.lrScheduler.ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
 * for (const loss of [1, 1, 1, 1]) sched.step(loss);
 * console.log(sched.getLastLr()); // [ 0.5 ]
 * ```
 */
export class ReduceLROnPlateau extends LRScheduler {
  /** the reduction factor */
  factor: number;
  /** the lowest lr of each group */
  minLrs: number[];
  /** the single `minLr` given, extended to new groups (null when a list was given) */
  defaultMinLr: number | null;
  /** epochs without improvement tolerated */
  patience: number;
  /** epochs to wait after a reduction */
  cooldown: number;
  /** epochs of cooldown left */
  cooldownCounter: number = 0;
  /** "min" or "max" */
  mode: "min" | "max" = "min";
  /** the improvement that counts */
  threshold: number = 1e-4;
  /** "rel" or "abs" */
  thresholdMode: "rel" | "abs" = "rel";
  /** the best metric so far */
  best: number = Infinity;
  /** epochs since the last improvement */
  numBadEpochs: number = 0;
  /** the worst value of the mode (+Infinity for "min") */
  modeWorse: number = Infinity;
  /** reductions smaller than this are skipped */
  eps: number;
  #lastLr: number[];

  /**
   * Creates a `ReduceLROnPlateau`.
   *
   * @param optimizer the optimizer
   * @param options see {@linkcode ReduceLROnPlateauOptions}
   * @throws {RangeError} "Factor should be < 1.0.", "expected 2 min_lrs, got 1", "mode x is unknown!",
   *   "threshold mode x is unknown!"
   * @throws {TypeError} "X is not an Optimizer"
   */
  constructor(optimizer: Optimizer, options: ReduceLROnPlateauOptions = {}) {
    const factor = options.factor ?? 0.1;
    if (factor >= 1) throw new RangeError("Factor should be < 1.0.");
    super(optimizer);
    this.factor = factor;
    const minLr = options.minLr ?? 0;
    const n = optimizer.paramGroups.length;
    if (Array.isArray(minLr)) {
      if (minLr.length !== n) throw new RangeError(`expected ${n} min_lrs, got ${minLr.length}`);
      this.defaultMinLr = null;
      this.minLrs = [...minLr];
    } else {
      this.defaultMinLr = minLr;
      this.minLrs = Array(n).fill(minLr);
    }
    this.patience = options.patience ?? 10;
    this.cooldown = options.cooldown ?? 0;
    this.eps = options.eps ?? 1e-8;
    this.lastEpoch = 0;
    this.#lastLr = optimizer.paramGroups.map((g) => g.lr);
    this.#initIsBetter(options.mode ?? "min", options.threshold ?? 1e-4, options.thresholdMode ?? "rel");
    this.#reset();
  }

  #reset(): void {
    this.best = this.modeWorse;
    this.cooldownCounter = 0;
    this.numBadEpochs = 0;
  }

  #initIsBetter(mode: string, threshold: number, thresholdMode: string): void {
    if (mode !== "min" && mode !== "max") throw new RangeError(`mode ${mode} is unknown!`);
    if (thresholdMode !== "rel" && thresholdMode !== "abs") {
      throw new RangeError(`threshold mode ${thresholdMode} is unknown!`);
    }
    this.modeWorse = mode === "min" ? Infinity : -Infinity;
    this.mode = mode;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
  }

  #isBetter(a: number, best: number): boolean {
    if (this.mode === "min" && this.thresholdMode === "rel") return a < best * (1 - this.threshold);
    if (this.mode === "min") return a < best - this.threshold;
    if (this.thresholdMode === "rel") return a > best * (this.threshold + 1);
    return a > best + this.threshold;
  }

  /** True while cooling down after a reduction. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /**
   * Records this epoch's metric and reduces the learning rates if it has not improved for too long.
   *
   * @param metrics the metric: a number, or a one-element tensor on a synchronously readable device
   * @param epoch deprecated in PyTorch: the epoch number to record
   */
  override step(metrics?: number | Tensor, epoch?: number): void {
    if (metrics === undefined) {
      throw new TypeError("ReduceLROnPlateau.step() missing 1 required positional argument: 'metrics'");
    }
    const current = metrics instanceof Tensor ? metrics.itemSync() : Number(metrics);
    if (epoch === undefined) epoch = this.lastEpoch + 1;
    else warnOnce(EPOCH_DEPRECATION_WARNING);
    this.lastEpoch = epoch;
    if (this.#isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0; // ignore any bad epochs in cooldown
    }
    if (this.numBadEpochs > this.patience) {
      this.#reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  #reduceLr(): void {
    const groups = this.optimizer.paramGroups;
    if (groups.length !== this.minLrs.length) {
      if (this.defaultMinLr === null) {
        throw new Error(
          `The number of param groups in the \`optimizer\` (${groups.length}) differs from when ` +
            `\`ReduceLROnPlateau\` was initialized (${this.minLrs.length}), usually due to a new param group ` +
            "being added to the optimizer. Please modify the `min_lrs` field to match the length of the " +
            "`optimizer` param groups.",
        );
      }
      this.minLrs = Array(groups.length).fill(this.defaultMinLr);
    }
    groups.forEach((group, i) => {
      const oldLr = Number(group.lr);
      const newLr = Math.max(oldLr * this.factor, this.minLrs[i]);
      if (oldLr - newLr > this.eps) group.lr = newLr;
    });
  }

  /** The learning rates after the last `step()`. */
  override getLastLr(): number[] {
    return [...this.#lastLr];
  }

  /** The state, as PyTorch 2 writes it (`factor`, `min_lrs`, `best`, `num_bad_epochs`, ...). */
  override stateDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this)) {
      if (key === "optimizer" || key === "baseLrs") continue;
      out[toSnake(key)] = saveValue(value);
    }
    out._last_lr = [...this.#lastLr];
    return out;
  }

  /** Restores a state from `stateDict()` or PyTorch's. */
  override loadStateDict(stateDict: Record<string, unknown>): void {
    for (const [key, raw] of Object.entries(stateDict)) {
      const name = toCamel(key);
      const value = Array.isArray(raw) ? raw.map(loadNumber) : loadNumber(raw);
      if (name === "_lastLr") this.#lastLr = [...(value as number[])];
      else if (name !== "optimizer" && name !== "baseLrs" && Object.hasOwn(this, name)) {
        (this as Record<string, unknown>)[name] = value;
      }
    }
    this.#initIsBetter(this.mode, this.threshold, this.thresholdMode);
  }
}
