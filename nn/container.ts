// Containers: Sequential, ModuleList, ModuleDict.

import type { Tensor } from "@flint/autograd";
import { Module } from "./module.ts";

function checkModule(m: unknown, where: string): Module {
  if (!(m instanceof Module)) throw new TypeError(`${where}: ${String(m)} is not a Module subclass`);
  return m;
}

/**
 * Modules run one after another, each fed the previous one's output. Items
 * are numbered fields ("0", "1", ...) as in PyTorch, or named when built from
 * an object.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const { nn } = torch;
 *
 * const model = new nn.Sequential(new nn.Linear(1000, 100), new nn.ReLU(), new nn.Linear(100, 10));
 * console.log(model(torch.randn(64, 1000)).shape); // [64, 10]
 * console.log(model[0] instanceof nn.Linear, model.length); // true 3
 * ```
 */
export class Sequential extends Module<[Tensor], Tensor> {
  /** Item access by position, as `model[0]`. */
  [index: number]: Module;

  /** Builds from modules in order, or from an object of named modules. */
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    const first = modules[0];
    if (modules.length === 1 && !(first instanceof Module) && typeof first === "object") {
      for (const [name, m] of Object.entries(first)) this.registerModule(name, checkModule(m, "Sequential"));
    } else {
      (modules as Module[]).forEach((m, i) => this.registerModule(String(i), checkModule(m, "Sequential")));
    }
  }

  /** Number of modules. */
  override get length(): number {
    return this.children().length;
  }

  /** Appends a module at the end. */
  append(module: Module): this {
    this.registerModule(String(this.length), checkModule(module, "Sequential.append"));
    return this;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): Module {
    const children = this.children();
    const i = index < 0 ? index + children.length : index;
    if (i < 0 || i >= children.length) throw new RangeError(`index ${index} is out of range`);
    return children[i];
  }

  /** Iterates over the modules in order. */
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }

  /** Feeds the input through every module in order. */
  override forward(input: Tensor): Tensor {
    let x = input;
    for (const m of this.children()) x = m(x);
    return x;
  }
}

/**
 * A list of modules, registered so their parameters are found. It has no
 * forward of its own: index it and call the items.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const { nn } = torch;
 *
 * const layers = new nn.ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 4)]);
 * let x = torch.randn(2, 4);
 * for (const layer of layers) x = layer(x);
 * console.log(layers.length, layers.parameters().length); // 2 4
 * ```
 */
export class ModuleList extends Module {
  /** Item access by position, as `layers[0]`. */
  [index: number]: Module;

  /** Builds from modules in order. */
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Number of modules. */
  override get length(): number {
    return this.children().length;
  }

  /** Appends a module. */
  append(module: Module): this {
    this.registerModule(String(this.length), checkModule(module, "ModuleList.append"));
    return this;
  }

  /** Appends several modules. */
  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** Inserts a module before position `index`. */
  insert(index: number, module: Module): void {
    const items = this.children();
    items.splice(index < 0 ? index + items.length : index, 0, checkModule(module, "ModuleList.insert"));
    items.forEach((m, i) => this.registerModule(String(i), m));
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): Module {
    const children = this.children();
    const i = index < 0 ? index + children.length : index;
    if (i < 0 || i >= children.length) throw new RangeError(`index ${index} is out of range`);
    return children[i];
  }

  /** Iterates over the modules in order. */
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
}

/**
 * Modules by name, in insertion order, registered so their parameters are found.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * const { nn } = torch;
 *
 * const heads = new nn.ModuleDict({ cls: new nn.Linear(8, 3), box: new nn.Linear(8, 4) });
 * console.log(heads.get("box")(torch.randn(1, 8)).shape, heads.keys()); // [1, 4] ["cls", "box"]
 * ```
 */
export class ModuleDict extends Module {
  readonly #items = new Map<string, Module>();

  /** Builds from an object or entries of named modules. */
  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    const entries = Symbol.iterator in modules ? [...modules as Iterable<[string, Module]>] : Object.entries(modules);
    for (const [k, m] of entries) this.set(k, m);
  }

  /** The items under their own keys (a ModuleDict's children). */
  protected override ownEntries(): [string, unknown][] {
    return [...this.#items];
  }

  /** The module under `key`; throws naming the key when absent. */
  get(key: string): Module {
    const m = this.#items.get(key);
    if (!m) throw new RangeError(`ModuleDict has no key "${key}" (keys: ${[...this.#items.keys()].join(", ")})`);
    return m;
  }

  /** Adds or replaces the module under `key`. */
  set(key: string, module: Module): this {
    this.#items.set(key, checkModule(module, `ModuleDict.set("${key}")`));
    return this;
  }

  /** True when `key` is present. */
  has(key: string): boolean {
    return this.#items.has(key);
  }

  /** Removes and returns the module under `key`. */
  pop(key: string): Module {
    const m = this.get(key);
    this.#items.delete(key);
    return m;
  }

  /** The keys, in insertion order. */
  keys(): string[] {
    return [...this.#items.keys()];
  }

  /** The modules, in insertion order. */
  values(): Module[] {
    return [...this.#items.values()];
  }

  /** The entries, in insertion order. */
  items(): [string, Module][] {
    return [...this.#items];
  }

  /** Number of modules. */
  override get length(): number {
    return this.#items.size;
  }
}
