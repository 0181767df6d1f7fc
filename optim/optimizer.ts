// The optimizer base class: parameter groups, per-parameter state, zeroGrad, step with a closure, and
// state dicts in PyTorch's layout (snake_case keys, parameters numbered across groups).

import { enableGrad, keep, noGrad, releaseGrad, Tensor } from "@flint/autograd";
import { pyRepr, toCamel, toSnake, warnOnce } from "./_util.ts";

/** The hyper-parameters every optimizer has: at least a learning rate. */
export interface OptimizerOptions {
  /** learning rate */
  lr: number;
}

/**
 * A parameter group as the optimizer keeps it, PyTorch's `optimizer.param_groups[i]`: the parameters and
 * every hyper-parameter, in camelCase. Mutable: `group.lr = 0.01` takes effect at the next `step()`.
 * Schedulers add keys of their own (`initialLr`, `maxLr`, ...).
 */
export interface ParamGroup {
  /** the tensors this group updates */
  params: Tensor[];
  /** learning rate */
  lr: number;
  /** any other hyper-parameter */
  [option: string]: unknown;
}

/** A parameter group as passed to an optimizer: the parameters, and options that override the defaults. */
export type ParamGroupInput<O extends object = Record<string, unknown>> = Partial<O> & {
  /** the tensors this group updates */
  params: Iterable<Tensor> | Tensor;
  /** any other hyper-parameter */
  [option: string]: unknown;
};

/** What an optimizer optimizes: tensors, or parameter groups with per-group options. */
export type OptimizerParams<O extends object = Record<string, unknown>> =
  | Iterable<Tensor>
  | Iterable<ParamGroupInput<O>>;

/** A saved parameter group: PyTorch's snake_case keys, and the parameters as numbers. */
export interface SavedParamGroup {
  /** the parameters, numbered in order across all groups */
  params: number[];
  /** the hyper-parameters, snake_case (`weight_decay`, `initial_lr`) */
  [option: string]: unknown;
}

/**
 * An optimizer's state dict, in PyTorch's layout: `state` maps a parameter's number to its state (snake_case
 * keys: `momentum_buffer`, `exp_avg`, `step`, ...), `param_groups` lists the groups. Moves to and from
 * PyTorch's `optimizer.state_dict()` as is. Tensors are the optimizer's own (not copies), as in PyTorch.
 */
export interface OptimizerStateDict {
  /** per-parameter state, by parameter number; parameters without state are absent */
  state: Record<number, Record<string, unknown>>;
  /** the parameter groups */
  param_groups: SavedParamGroup[];
}

/**
 * What {@linkcode Optimizer.loadStateDict} accepts: an {@linkcode OptimizerStateDict}, or one whose `state`
 * is a Map (as a PyTorch file reader may give it).
 */
export interface LoadableStateDict {
  /** per-parameter state, by parameter number */
  state: Record<number, Record<string, unknown>> | Map<number, Record<string, unknown>>;
  /** the parameter groups */
  param_groups: SavedParamGroup[];
}

/** Options of {@linkcode Optimizer.zeroGrad}. */
export interface ZeroGradOptions {
  /** set `.grad` to null instead of filling it with zeros (default true, as in PyTorch 2) */
  setToNone?: boolean;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

/** Copies a state value for loading: tensors onto the parameter's device (and float dtype), owned anew. */
function loadValue(param: Tensor, key: string, value: unknown): unknown {
  if (value instanceof Tensor) {
    // PyTorch keeps `step` on the CPU as it is; Flint holds it as a host number.
    if (key === "step") return value.itemSync();
    const dtype = param.isFloatingPoint() ? param.dtype : value.dtype;
    return keep(noGrad(() => value.to({ dtype, device: param.device, copy: true })));
  }
  if (Array.isArray(value)) return value.map((v) => loadValue(param, "", v));
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [toCamel(k), loadValue(param, k, v)]));
  }
  return value;
}

/**
 * The base class of all optimizers, as PyTorch's `torch.optim.Optimizer`. A subclass passes its defaults to
 * the constructor and implements {@linkcode Optimizer.stepGroup}, which updates one group's parameters; the
 * base runs it under `noGrad` for every group. Parameters with `requiresGrad` false or no `.grad` are
 * skipped. State tensors are made with `torch.keep`, so they survive `torch.scope()`.
 *
 * @typeParam O the hyper-parameters (the defaults' type)
 * @typeParam S the per-parameter state
 *
 * @example Plain gradient descent written as an optimizer
 * ```ts
 * import * as torch from "@flint/torch";
 * import { Optimizer, type ParamGroup } from "@flint/optim";
 *
 * class Descent extends Optimizer {
 *   constructor(params: Iterable<torch.Tensor>, lr = 0.1) {
 *     super(params, { lr });
 *   }
 *   protected override stepGroup(group: ParamGroup): void {
 *     for (const p of this.paramsWithGrad(group)) p.sub_(p.grad!.mul(group.lr));
 *   }
 * }
 * const w = torch.tensor([1, 2], { requiresGrad: true });
 * const opt = new Descent([w]);
 * w.pow(2).sum().backward();
 * opt.step();
 * console.log(w.tolistSync()); // [ 0.800000011920929, 1.600000023841858 ]
 * ```
 */
export class Optimizer<O extends OptimizerOptions = OptimizerOptions, S extends object = object> {
  /** the default hyper-parameters, for groups that do not set their own */
  readonly defaults: O;
  /** the parameter groups, as PyTorch's `param_groups` */
  paramGroups: Array<ParamGroup & O> = [];
  /** per-parameter state, as PyTorch's `state`; a parameter has none until its first step */
  state: Map<Tensor, S> = new Map();

  /**
   * Collects the parameters into groups, filling each group's missing options from `defaults`.
   *
   * @param params tensors, or parameter groups (`{ params, ...options }`)
   * @param defaults the hyper-parameters of groups that do not set them
   * @throws {TypeError} when `params` is a single tensor, a parameter is not a tensor, or a group's params are a Set
   * @throws {RangeError} "optimizer got an empty parameter list", or when a parameter is in two groups
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const a = torch.zeros(2, { requiresGrad: true });
   * const b = torch.zeros(3, { requiresGrad: true });
   * const opt = new torch.optim.SGD([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1 });
   * console.log(opt.paramGroups.map((g) => g.lr)); // [ 0.1, 0.01 ]
   * ```
   */
  constructor(params: OptimizerParams<O>, defaults: O) {
    this.defaults = defaults;
    if (
      params instanceof Tensor || params === null ||
      typeof (params as Iterable<unknown>)[Symbol.iterator] !== "function"
    ) {
      throw new TypeError(
        `params argument given to the optimizer should be an iterable of Tensors or dicts, but got ${typeName(params)}`,
      );
    }
    const groups = [...(params as Iterable<Tensor | ParamGroupInput<O>>)];
    if (groups.length === 0) throw new RangeError("optimizer got an empty parameter list");
    const first = groups[0];
    const isGroup = first !== null && typeof first === "object" && !(first instanceof Tensor) &&
      !Array.isArray(first);
    const asGroups: ParamGroupInput<O>[] = isGroup
      ? groups as ParamGroupInput<O>[]
      : [{ params: groups as Tensor[] } as unknown as ParamGroupInput<O>];
    for (const group of asGroups) this.addParamGroup(group);
  }

  /**
   * Adds a parameter group, as PyTorch's `add_param_group`: useful to train more layers as training goes.
   *
   * @param paramGroup `{ params, ...options }`; missing options come from the defaults
   * @throws {TypeError} when a parameter is not a tensor or the params are a Set
   * @throws {RangeError} "some parameters appear in more than one parameter group", "can't optimize a non-leaf Tensor"
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 0.1 });
   * opt.addParamGroup({ params: [torch.zeros(2, { requiresGrad: true })], lr: 0.5 });
   * console.log(opt.paramGroups.length, opt.paramGroups[1].lr, opt.paramGroups[1].momentum); // 2 0.5 0
   * ```
   */
  addParamGroup(paramGroup: ParamGroupInput<O>): void {
    if (paramGroup === null || typeof paramGroup !== "object" || paramGroup instanceof Tensor) {
      throw new TypeError("param group must be a dict");
    }
    const given = paramGroup.params;
    let params: unknown[];
    if (given instanceof Tensor) {
      params = [given];
    } else if (given instanceof Set) {
      throw new TypeError(
        "optimizer parameters need to be organized in ordered collections, but the ordering of tensors in sets " +
          "will change between runs. Please use a list instead.",
      );
    } else if (given !== null && typeof (given as Iterable<unknown>)?.[Symbol.iterator] === "function") {
      params = [...(given as Iterable<unknown>)];
    } else {
      throw new TypeError(`param group's params must be an iterable of Tensors, but got ${typeName(given)}`);
    }
    for (const p of params) {
      if (!(p instanceof Tensor)) {
        throw new TypeError(`optimizer can only optimize Tensors, but one of the params is ${typeName(p)}`);
      }
      if (!(p.isLeaf || p.retainsGrad)) throw new RangeError("can't optimize a non-leaf Tensor");
    }
    const group: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(paramGroup)) {
      // PyTorch's spelling of an option (`weight_decay`) is taken as its camelCase name
      const name = toCamel(key);
      group[name in this.defaults ? name : key] = value;
    }
    group.params = params;
    for (const [name, value] of Object.entries(this.defaults)) {
      if (!(name in group)) group[name] = Array.isArray(value) ? [...value] : value;
    }
    const tensors = params as Tensor[];
    if (new Set(tensors).size !== tensors.length) {
      warnOnce(
        "optimizer contains a parameter group with duplicate parameters; in future, this will cause an error; " +
          "see github.com/pytorch/pytorch/issues/40967 for more information",
      );
    }
    const taken = new Set(this.paramGroups.flatMap((g) => g.params));
    if (tensors.some((p) => taken.has(p))) {
      throw new RangeError("some parameters appear in more than one parameter group");
    }
    this.paramGroups.push(group as ParamGroup & O);
  }

  /**
   * Resets the gradients of every parameter, as PyTorch's `zero_grad`: to null by default (PyTorch 2), or
   * to zeros with `{ setToNone: false }`. A gradient that backward allocated is freed at once when it is
   * dropped (see `releaseGrad`; clone one you want to keep past this call), so memory stays flat across
   * steps without waiting for the garbage collector; `{ setToNone: false }` reuses it in place.
   *
   * @param options `setToNone` (default true)
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const w = torch.tensor([1, 2], { requiresGrad: true });
   * const opt = new torch.optim.SGD([w], { lr: 0.1 });
   * w.sum().backward();
   * opt.zeroGrad({ setToNone: false });
   * console.log(w.grad!.tolistSync()); // [ 0, 0 ]
   * opt.zeroGrad();
   * console.log(w.grad); // null
   * ```
   */
  zeroGrad(options: ZeroGradOptions = {}): void {
    const setToNone = options.setToNone ?? true;
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          const grad = p.grad;
          if (grad === null) continue;
          if (setToNone) {
            releaseGrad(p);
          } else {
            if (grad.gradFn !== null) grad.detach_();
            else grad.requiresGrad_(false);
            grad.zero_();
          }
        }
      }
    });
  }

  /**
   * Performs one optimization step. With a closure (which clears the gradients, computes the loss, calls
   * `backward()` and returns the loss), runs it first with gradients enabled and returns what it returned.
   *
   * @param closure re-evaluates the model and returns the loss (synchronous)
   * @returns the closure's value, or undefined without a closure
   * @throws {TypeError} when the closure returns a Promise: the update must follow the loss synchronously
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const w = torch.tensor([3], { requiresGrad: true });
   * const opt = new torch.optim.SGD([w], { lr: 0.25 });
   * const loss = opt.step(() => {
   *   opt.zeroGrad();
   *   const l = w.pow(2).sum();
   *   l.backward();
   *   return l;
   * });
   * console.log(loss.itemSync(), w.tolistSync()); // 9 [ 1.5 ]
   * ```
   */
  step(): undefined;
  /** Re-evaluates the loss with `closure` first and returns what it returned. */
  step<L>(closure: () => L): L;
  /** One update; with a closure, returns what the closure returned. */
  step<L>(closure?: () => L): L | undefined;
  step<L>(closure?: () => L): L | undefined {
    let loss: L | undefined;
    if (closure !== undefined) {
      loss = enableGrad(closure);
      if (loss instanceof Promise) {
        throw new TypeError("optimizer.step(closure): the closure returned a Promise; it must be synchronous");
      }
    }
    // Each optimizer's stepGroup tries the backend's fused kernel (one pass per parameter) before
    // composing the update from tensor ops.
    noGrad(() => {
      for (const group of this.paramGroups) this.stepGroup(group);
    });
    return loss;
  }

  /**
   * Updates the parameters of one group; called by {@linkcode Optimizer.step} under `noGrad` for each
   * group. Subclasses implement it.
   *
   * @param group the group to update
   * @throws {Error} in the base class, which has no update rule
   */
  protected stepGroup(group: ParamGroup & O): void {
    throw new Error(`${this.constructor.name}.stepGroup is not implemented (group with lr=${group.lr})`);
  }

  /**
   * The parameters of `group` that take a step: those that require grad and have a `.grad`.
   *
   * @param group a parameter group
   * @returns the parameters, in order
   */
  protected paramsWithGrad(group: ParamGroup): Tensor[] {
    return group.params.filter((p) => p.requiresGrad && p.grad !== null);
  }

  /**
   * The optimizer's state in PyTorch's layout (see {@linkcode OptimizerStateDict}): snake_case keys, the
   * parameters numbered in order across groups. State tensors are the live ones, not copies, as in PyTorch.
   *
   * @returns `{ state, param_groups }`
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const w = torch.tensor([1, 2], { requiresGrad: true });
   * const opt = new torch.optim.SGD([w], { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
   * w.sum().backward();
   * opt.step();
   * const sd = opt.stateDict();
   * console.log(Object.keys(sd.state[0]), sd.param_groups[0].weight_decay, sd.param_groups[0].params);
   * // [ "momentum_buffer" ] 0.0001 [ 0 ]
   * ```
   */
  stateDict(): OptimizerStateDict {
    const numbers = new Map<Tensor, number>();
    let start = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const packed: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(group)) {
        if (key !== "params") packed[toSnake(key)] = Array.isArray(value) ? [...value] : value;
      }
      group.params.forEach((p, i) => {
        if (!numbers.has(p)) numbers.set(p, start + i);
      });
      // PyTorch writes `params` last
      packed.params = group.params.map((p) => numbers.get(p)!);
      start += group.params.length;
      return packed as SavedParamGroup;
    });
    const state: Record<number, Record<string, unknown>> = {};
    for (const [param, s] of this.state) {
      const id = numbers.get(param);
      if (id === undefined) continue;
      state[id] = Object.fromEntries(Object.entries(s).map(([k, v]) => [toSnake(k), v]));
    }
    return { state, param_groups: paramGroups };
  }

  /**
   * Loads a state dict from {@linkcode Optimizer.stateDict} or from PyTorch's `optimizer.state_dict()`
   * (snake_case or camelCase keys; `state` as an object or a Map). Tensors are copied onto each
   * parameter's device (and dtype, for floating parameters); a tensor `step` (PyTorch's) becomes a number
   * (read synchronously, so it must be on a CPU-like device, as PyTorch keeps it). The groups are replaced
   * by the saved ones, keeping this optimizer's parameters.
   *
   * @param stateDict the saved state
   * @throws {RangeError} "loaded state dict has a different number of parameter groups", or "loaded state
   *   dict contains a parameter group that doesn't match the size of optimizer's group"
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const w = torch.tensor([1, 2], { requiresGrad: true });
   * const opt = new torch.optim.Adam([w], { lr: 0.1 });
   * w.sum().backward();
   * opt.step();
   * const again = new torch.optim.Adam([w], { lr: 0.5 });
   * again.loadStateDict(opt.stateDict());
   * console.log(again.paramGroups[0].lr, again.state.get(w)!.step); // 0.1 1
   * ```
   */
  loadStateDict(stateDict: LoadableStateDict): void {
    const groups = this.paramGroups;
    const saved = stateDict.param_groups;
    if (groups.length !== saved.length) {
      throw new RangeError("loaded state dict has a different number of parameter groups");
    }
    if (groups.some((g, i) => g.params.length !== saved[i].params.length)) {
      throw new RangeError(
        "loaded state dict contains a parameter group that doesn't match the size of optimizer's group",
      );
    }
    const idMap = new Map<number, Tensor>();
    saved.forEach((g, i) => g.params.forEach((id, j) => idMap.set(Number(id), groups[i].params[j])));

    const entries = stateDict.state instanceof Map ? [...stateDict.state.entries()] : Object.entries(stateDict.state);
    const state = new Map<Tensor, S>();
    for (const [id, value] of entries) {
      const param = idMap.get(Number(id));
      // PyTorch keeps state of unknown ids under the id; a Map keyed by tensors has no place for it.
      if (param === undefined) continue;
      const s: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) s[toCamel(k)] = loadValue(param, k, v);
      state.set(param, s as S);
    }

    const newGroups = saved.map((g, i) => {
      const group: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(g)) {
        if (key !== "params") group[toCamel(key)] = Array.isArray(value) ? [...value] : value;
      }
      group.params = groups[i].params;
      for (const [name, value] of Object.entries(this.defaults)) {
        if (!(name in group)) group[name] = Array.isArray(value) ? [...value] : value;
      }
      return group as ParamGroup & O;
    });
    this.state = state;
    this.paramGroups.splice(0, this.paramGroups.length, ...newGroups);
  }

  /**
   * PyTorch's repr: the class name and each group's options (snake_case, sorted).
   *
   * @example
   * ```ts
   * import * as torch from "@flint/torch";
   *
   * const opt = new torch.optim.SGD([torch.zeros(1, { requiresGrad: true })], { lr: 0.1 });
   * console.log(String(opt).split("\n").slice(0, 4)); // [ "SGD (", "Parameter Group 0", "    dampening: 0", "    lr: 0.1" ]
   * ```
   */
  toString(): string {
    let out = `${this.constructor.name} (`;
    this.paramGroups.forEach((group, i) => {
      out += `\nParameter Group ${i}\n`;
      const keys = Object.keys(group).filter((k) => k !== "params").map((k) => [toSnake(k), k]).sort((a, b) =>
        a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0
      );
      for (const [snake, key] of keys) out += `    ${snake}: ${pyRepr(group[key])}\n`;
    });
    return `${out})`;
  }
}
