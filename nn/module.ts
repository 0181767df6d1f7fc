// nn.Module: the base of every layer and model. A module is callable
// (`model(x)` runs its hooks and `forward`), finds the sub-modules and
// parameters assigned to its fields, and names them in its state dict the way
// PyTorch does (camelCase fields become snake_case keys: `runningMean` is
// `running_mean`).

import { type DeviceLike, type DType, noGrad, Parameter, releaseGrad, Tensor } from "@flint/autograd";
import { type ModuleHook, registerHook, runForwardWithHooks } from "./_hooks.ts";

/** The state-dict key of a field: `runningMean` → `running_mean`, `conv1` → `conv1`. */
export function stateKey(field: string): string {
  // Remembered: every walk of the tree (a Sequential's forward lists its children each call) names every field.
  let key = stateKeys.get(field);
  if (key === undefined) {
    key = field.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
    stateKeys.set(field, key);
  }
  return key;
}
const stateKeys = new Map<string, string>();

/** A removable registration (hooks). */
export interface RemovableHandle {
  /** unregisters; calling it twice is harmless */
  remove(): void;
}

/** Options of {@linkcode Module.stateDict}. */
export interface StateDictOptions {
  /** prepended to every key */
  prefix?: string;
  /** keep the tensors attached to the tape instead of detached views */
  keepVars?: boolean;
}

/** Options of {@linkcode Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /** throw when keys are missing or unexpected (default true); mis-shaped keys always throw */
  strict?: boolean;
}

/** What {@linkcode Module.loadStateDict} did not match, when not strict. */
export interface LoadStateDictResult {
  /** keys the module has that the state dict lacks */
  missingKeys: string[];
  /** keys the state dict has that the module lacks */
  unexpectedKeys: string[];
}

/** A module's private bookkeeping, kept off its enumerable fields. */
interface ModuleState {
  training: boolean;
  /** fields holding buffers, with whether they go into the state dict */
  buffers: Map<string, boolean>;
  hooks: Map<ModuleHook["kind"], Map<number, ModuleHook>>;
}

const STATE = Symbol("flint.module.state");

function stateOfModule(m: Module): ModuleState {
  return (m as unknown as { [STATE]: ModuleState })[STATE];
}

/** A module is callable: `model(x)` is `forward(x)` with the module's hooks around it. */
// deno-lint-ignore no-explicit-any
export interface Module<I extends unknown[] = any[], O = any> {
  /** Runs the forward pre-hooks, `forward`, the forward hooks, and sets up backward hooks. */
  (...args: I): O;
}

/**
 * The base class of all layers and models, as PyTorch's `nn.Module`.
 * Subclass it, assign layers and `Parameter`s to fields, and write
 * `forward`; call the module to run it.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const { nn } = torch;
 *
 * class TwoLayerNet extends nn.Module {
 *   linear1 = new nn.Linear(4, 8);
 *   linear2 = new nn.Linear(8, 2);
 *   override forward(x: torch.Tensor): torch.Tensor {
 *     return this.linear2(this.linear1(x).clamp({ min: 0 }));
 *   }
 * }
 * const model = new TwoLayerNet();
 * console.log(model(torch.randn(3, 4)).shape); // [3, 2]
 * console.log(model.namedParameters().map(([name]) => name)); // ["linear1.weight", "linear1.bias", ...]
 * ```
 */
// deno-lint-ignore no-explicit-any
export abstract class Module<I extends unknown[] = any[], O = any> {
  /** Makes the module callable; subclasses then assign their fields. */
  constructor() {
    const callable = (...args: I): O => runForwardWithHooks(callable as unknown as Module<I, O>, args);
    // A function's own `name` and `length` would shadow fields of those names.
    delete (callable as { name?: string }).name;
    delete (callable as { length?: number }).length;
    Object.setPrototypeOf(callable, new.target.prototype);
    Object.defineProperty(callable, STATE, {
      value: { training: true, buffers: new Map(), hooks: new Map() } satisfies ModuleState,
      enumerable: false,
    });
    return callable as unknown as Module<I, O>;
  }

  /** The computation; subclasses override it. Call the module rather than this, so hooks run. */
  forward(..._args: I): O {
    throw new Error(`Module [${this.constructor.name}] is missing the required "forward" function`);
  }

  // ---- registration ----

  /**
   * Adds a tensor that is state but not a parameter (running statistics), as
   * a field of this name; it goes into the state dict unless not persistent.
   */
  registerBuffer(name: string, tensor: Tensor | null, options: { persistent?: boolean } = {}): void {
    if (tensor !== null && !(tensor instanceof Tensor)) {
      throw new TypeError(
        `cannot assign '${typeof tensor}' object to buffer '${name}' (torch Tensor or None required)`,
      );
    }
    stateOfModule(this).buffers.set(name, options.persistent ?? true);
    (this as unknown as Record<string, unknown>)[name] = tensor;
  }

  /** Adds a parameter under `name` (as assigning a `Parameter` field does). */
  registerParameter(name: string, param: Parameter | null): void {
    if (param !== null && !(param instanceof Parameter)) {
      throw new TypeError(
        `cannot assign '${typeof param}' object to parameter '${name}' (torch.nn.Parameter or None required)`,
      );
    }
    (this as unknown as Record<string, unknown>)[name] = param;
  }

  /** Adds a child module under `name` (as assigning a module field does). */
  registerModule(name: string, module: Module | null): void {
    if (module !== null && !(module instanceof Module)) {
      throw new TypeError(`${String(module)} is not a Module subclass`);
    }
    (this as unknown as Record<string, unknown>)[name] = module;
  }

  /** Same as {@linkcode registerModule}, PyTorch's older name. */
  addModule(name: string, module: Module | null): void {
    this.registerModule(name, module);
  }

  /**
   * Own fields in assignment order, under their state-dict names
   * (containers override this to list their items under their own keys).
   */
  protected ownEntries(): [string, unknown][] {
    return Object.entries(this).map(([field, value]) => [stateKey(field), value]);
  }

  // ---- walking the tree ----

  /** Direct sub-modules with their state-dict names. */
  namedChildren(): [string, Module][] {
    return this.ownEntries()
      .filter(([, v]) => v instanceof Module)
      .map(([k, v]) => [k, v as Module]);
  }

  /** Direct sub-modules. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every descendant, each once, with dotted names ("" for this one). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const visit = (m: Module, name: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([name, m]);
      for (const [child, sub] of m.namedChildren()) visit(sub, name ? `${name}.${child}` : child);
    };
    visit(this, prefix);
    return out;
  }

  /** This module and every descendant. */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Own parameters (not sub-modules') with their state-dict names. */
  protected ownParameters(): [string, Parameter][] {
    return this.ownEntries()
      .filter(([, v]) => v instanceof Parameter)
      .map(([k, v]) => [k, v as Parameter]);
  }

  /** Own buffers with their state-dict names and persistence. */
  protected ownBuffers(): [string, Tensor, boolean][] {
    const out: [string, Tensor, boolean][] = [];
    for (const [field, persistent] of stateOfModule(this).buffers) {
      const value = (this as unknown as Record<string, unknown>)[field];
      if (value instanceof Tensor) out.push([stateKey(field), value, persistent]);
    }
    return out;
  }

  /** Parameters of this module and its descendants, with dotted names, each once. */
  namedParameters(options: { prefix?: string; recurse?: boolean } = {}): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    const modules = options.recurse === false
      ? [[options.prefix ?? "", this] as [string, Module]]
      : this.namedModules(options.prefix);
    for (const [path, m] of modules) {
      for (const [name, p] of m.ownParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([path ? `${path}.${name}` : name, p]);
      }
    }
    return out;
  }

  /** Parameters of this module and its descendants, each once (what optimizers take). */
  parameters(options: { recurse?: boolean } = {}): Parameter[] {
    return this.namedParameters(options).map(([, p]) => p);
  }

  /** Buffers of this module and its descendants, with dotted names. */
  namedBuffers(options: { prefix?: string; recurse?: boolean } = {}): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const modules = options.recurse === false
      ? [[options.prefix ?? "", this] as [string, Module]]
      : this.namedModules(options.prefix);
    for (const [path, m] of modules) {
      for (const [name, b] of m.ownBuffers()) out.push([path ? `${path}.${name}` : name, b]);
    }
    return out;
  }

  /** Buffers of this module and its descendants. */
  buffers(options: { recurse?: boolean } = {}): Tensor[] {
    return this.namedBuffers(options).map(([, b]) => b);
  }

  /** The descendant at a dotted path, as `getSubmodule("layer1.0.conv1")`. */
  getSubmodule(target: string): Module {
    let m = this as Module;
    if (target === "") return m;
    for (const part of target.split(".")) {
      const child = m.namedChildren().find(([name]) => name === part)?.[1];
      if (!child) throw new Error(`${m.constructor.name} has no attribute \`${part}\` (looking up "${target}")`);
      m = child;
    }
    return m;
  }

  // ---- modes and bulk changes ----

  /** True in training mode (the default), false after `eval()`. */
  get training(): boolean {
    return stateOfModule(this).training;
  }

  /** Sets training mode on this module and its descendants. */
  train(mode = true): this {
    for (const m of this.modules()) stateOfModule(m).training = mode;
    return this;
  }

  /** Sets evaluation mode (batch norm uses running stats, dropout is off). */
  eval(): this {
    return this.train(false);
  }

  /** Clears parameter gradients: to null (the default, as PyTorch 2 does; see `releaseGrad`) or to zeros. */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    for (const p of this.parameters()) {
      if (p.grad === null) continue;
      if (options.setToNone ?? true) releaseGrad(p);
      else p.grad.detach_().zero_();
    }
  }

  /** Sets `requiresGrad` on every parameter (false freezes the module). */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }

  /** Calls `fn` on every descendant (children first) and then on this module. */
  apply(fn: (module: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Moves (or converts) every parameter and buffer in place, keeping the
   * same Parameter objects so optimizers made earlier still see them.
   */
  to(target: DeviceLike | DType | { device?: DeviceLike; dtype?: DType }): this {
    noGrad(() => {
      for (const m of this.modules()) {
        const convert = (t: Tensor) => {
          const float = t.dtype === "float32" || t.dtype === "float64";
          const spec = typeof target === "object" && !("type" in target)
            ? target as { device?: DeviceLike; dtype?: DType }
            : undefined;
          const dtype = spec
            ? spec.dtype
            : ["float32", "float64", "int32", "bool"].includes(target as string)
            ? target as DType
            : undefined;
          const device = spec ? spec.device : dtype === undefined ? target as DeviceLike : undefined;
          // Only floating-point tensors change dtype, as in PyTorch (num_batches_tracked stays integer).
          return t.to({ dtype: float ? dtype : undefined, device });
        };
        for (const [, p] of m.ownParameters()) {
          const moved = convert(p);
          if (moved !== p) p.setData(moved);
          if (p.grad) p.grad = convert(p.grad);
        }
        for (const [field] of stateOfModule(m).buffers) {
          const value = (m as unknown as Record<string, unknown>)[field];
          if (value instanceof Tensor) (m as unknown as Record<string, unknown>)[field] = convert(value);
        }
      }
    });
    return this;
  }

  /** As float32. */
  float(): this {
    return this.to("float32");
  }

  /** As float64. */
  double(): this {
    return this.to("float64");
  }

  /** On the CPU. */
  cpu(): this {
    return this.to("cpu");
  }

  // ---- state dict ----

  /**
   * Parameters and persistent buffers by PyTorch's key names
   * (`layer1.0.conv1.weight`, `bn1.running_mean`), in registration order.
   * Values share storage with the module (detached unless `keepVars`).
   */
  stateDict(options: StateDictOptions = {}): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    const prefix = options.prefix ?? "";
    for (const [path, m] of this.namedModules()) {
      const base = prefix + (path ? `${path}.` : "");
      for (const [name, p] of m.ownParameters()) out[base + name] = options.keepVars ? p : p.detach();
      for (const [name, b, persistent] of m.ownBuffers()) {
        if (persistent) {
          out[base + name] = options.keepVars ? b : b.detach();
        }
      }
    }
    return out;
  }

  /**
   * Copies a state dict into this module's parameters and buffers. Every
   * mismatch is reported at once, in PyTorch's words: missing and unexpected
   * keys (an error when `strict`, the default) and shape mismatches (always).
   */
  loadStateDict(stateDict: Readonly<Record<string, Tensor>>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const own = new Map<string, { module: Module; tensor: Tensor }>();
    for (const [path, m] of this.namedModules()) {
      const base = path ? `${path}.` : "";
      for (const [name, p] of m.ownParameters()) own.set(base + name, { module: m, tensor: p });
      for (const [name, b, persistent] of m.ownBuffers()) {
        if (persistent) own.set(base + name, { module: m, tensor: b });
      }
    }
    const missingKeys: string[] = [];
    const unexpectedKeys = Object.keys(stateDict).filter((k) => !own.has(k));
    const errors: string[] = [];
    noGrad(() => {
      for (const [key, { module, tensor }] of own) {
        const value = stateDict[key];
        if (value === undefined) {
          if (!module.fillMissingState(key.slice(key.lastIndexOf(".") + 1), tensor)) missingKeys.push(key);
          continue;
        }
        if (!(value instanceof Tensor)) {
          errors.push(
            `While copying the parameter named "${key}", expected torch.Tensor or Tensor-like object from checkpoint but received ${typeof value}`,
          );
          continue;
        }
        if (value.shape.length !== tensor.shape.length || value.shape.some((d, i) => d !== tensor.shape[i])) {
          errors.push(
            `size mismatch for ${key}: copying a param with shape torch.Size([${value.shape.join(", ")}]) from ` +
              `checkpoint, the shape in current model is torch.Size([${tensor.shape.join(", ")}]).`,
          );
          continue;
        }
        tensor.copy_(value);
      }
    });
    if (strict) {
      if (unexpectedKeys.length > 0) {
        errors.unshift(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}. `);
      }
      if (missingKeys.length > 0) {
        errors.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(", ")}. `);
      }
    }
    if (errors.length > 0) {
      throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join("\n\t")}`);
    }
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Called for a key the loaded state dict lacks; returns true when the
   * module can fill it itself (batch norm's `num_batches_tracked`, absent
   * from older checkpoints such as torchvision's released ResNets).
   */
  protected fillMissingState(_name: string, _tensor: Tensor): boolean {
    return false;
  }

  // ---- hooks ----

  /** Runs `hook(module, args)` before forward; it may return replacement args. */
  registerForwardPreHook(hook: (module: this, args: I) => I | void): RemovableHandle {
    return registerHook(stateOfModule(this).hooks, { kind: "forwardPre", fn: hook as ModuleHook["fn"] });
  }

  /** Runs `hook(module, args, output)` after forward; it may return a replacement output. */
  registerForwardHook(hook: (module: this, args: I, output: O) => O | void): RemovableHandle {
    return registerHook(stateOfModule(this).hooks, { kind: "forward", fn: hook as ModuleHook["fn"] });
  }

  /**
   * Runs `hook(module, gradInput, gradOutput)` when the gradients with
   * respect to the module's inputs are computed; it may return replacements
   * for gradInput.
   */
  registerFullBackwardHook(
    hook: (module: this, gradInput: (Tensor | null)[], gradOutput: (Tensor | null)[]) => (Tensor | null)[] | void,
  ): RemovableHandle {
    return registerHook(stateOfModule(this).hooks, { kind: "backward", fn: hook as ModuleHook["fn"] });
  }

  /** The hooks of one kind ("forwardPre", "forward" or "backward"), in registration order. */
  // deno-lint-ignore no-explicit-any -- hooks of every kind share one table
  hooksOf(kind: "forwardPre" | "forward" | "backward"): ((...args: any[]) => unknown)[] {
    return [...(stateOfModule(this).hooks.get(kind)?.values() ?? [])].map((h) => h.fn);
  }

  // ---- printing ----

  /** Extra text inside this module's parentheses, e.g. "in_features=4, out_features=2, bias=True". */
  extraRepr(): string {
    return "";
  }

  /** PyTorch's printed form: the class name, extraRepr, and the children indented. */
  toString(): string {
    const children = this.namedChildren();
    const extra = this.extraRepr();
    const name = this.constructor.name;
    if (children.length === 0) return `${name}(${extra})`;
    const lines: string[] = extra ? extra.split("\n") : [];
    for (const [key, child] of children) lines.push(`(${key}): ${String(child).replaceAll("\n", "\n  ")}`);
    return `${name}(\n  ${lines.join("\n  ")}\n)`;
  }

  /** How `console.log` shows a module in Deno. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  /** How `console.log` shows a module in Node. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
