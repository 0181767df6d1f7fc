// The autograd engine: nodes of the tape, and the walk that runs them in
// reverse. The walk is iterative (a heap of ready nodes, newest first, as
// PyTorch orders them), so graphs thousands of ops deep are fine.

import { setGradEnabled } from "./grad_mode.ts";
import { type StorageRef, storagesMadeSoFar } from "./storage_ref.ts";
import type { Tensor } from "./tensor.ts";

/** What a node computes: one gradient per input (null where none flows). */
export type BackwardFn = (grad: Tensor) => readonly (Tensor | null | undefined)[];

/** A hook on a gradient: returns a replacement, or nothing to keep it. */
export type GradHook = (grad: Tensor) => Tensor | void;

/** Undoes a registration (a hook) when `remove()` is called. */
export interface RemovableHandle {
  /** unregisters; calling it twice is harmless */
  remove(): void;
}

/** A tensor a backward step needs, with the version it must still have. */
export interface SavedTensor {
  readonly ref: StorageRef;
  readonly version: number;
  /**
   * How the error names it: "[torch.FloatTensor [3, 4]], which is output 0 of ExpBackward0". A function, so
   * that the string is only built for the error (every op that saves a tensor would otherwise format one).
   */
  describe(): string;
  /** the saved alias, disposed when the node is released */
  readonly tensor: { dispose(): void };
}

let sequence = 0;

const SECOND_BACKWARD =
  "Trying to backward through the graph a second time (or directly access saved tensors after they have already " +
  "been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). " +
  "Specify retainGraph: true if you need to backward through the graph a second time or if you need to access " +
  "saved tensors after calling backward.";

/**
 * A step of the autograd tape, as PyTorch's `grad_fn`: it knows the next
 * nodes (one per input) and how to turn its output's gradient into theirs.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.tensor([1, 2, 3], { requiresGrad: true });
 * const y = x.add(2);
 * console.log(y.gradFn?.name); // AddBackward0
 * console.log(y.gradFn?.nextFunctions[0]?.name); // AccumulateGrad
 * ```
 */
export class Node {
  /** PyTorch's name for this step, e.g. "MulBackward0" */
  readonly name: string;
  /** creation order; the engine runs newer nodes first */
  readonly sequenceNr: number;
  readonly #next: readonly (Node | null)[];
  #backward: BackwardFn | null;
  #saved: readonly SavedTensor[];
  readonly #keepsValues: boolean;
  readonly #preHooks: GradHook[] = [];

  /**
   * Makes a node; ops do this through autograd's recording helpers.
   * `keepsValues` marks a node that saved values for its backward (tensors in
   * `saved`, or scalars its closure holds): it runs only once unless the
   * graph is retained, as in PyTorch.
   */
  constructor(
    name: string,
    next: readonly (Node | null)[],
    backward: BackwardFn | null,
    saved: readonly SavedTensor[],
    keepsValues: boolean = saved.length > 0,
  ) {
    this.name = name;
    this.sequenceNr = sequence++;
    this.#next = next;
    this.#backward = backward;
    this.#saved = saved;
    this.#keepsValues = keepsValues;
  }

  /** The nodes gradients flow to, one per input (null for inputs that need none). */
  get nextFunctions(): readonly (Node | null)[] {
    return this.#next;
  }

  /** Runs hooks registered on this node's output gradient. */
  registerPreHook(hook: GradHook): RemovableHandle {
    this.#preHooks.push(hook);
    return {
      remove: () => {
        const i = this.#preHooks.indexOf(hook);
        if (i >= 0) this.#preHooks.splice(i, 1);
      },
    };
  }

  /** True when hooks are registered on this node's output gradient. */
  get hasPreHooks(): boolean {
    return this.#preHooks.length > 0;
  }

  /** Applies the pre-hooks in order. */
  runPreHooks(grad: Tensor): Tensor {
    for (const hook of this.#preHooks) grad = hook(grad) ?? grad;
    return grad;
  }

  /** Computes the inputs' gradients. */
  apply(grad: Tensor): readonly (Tensor | null | undefined)[] {
    if (this.#backward === null) throw new Error(SECOND_BACKWARD);
    for (const saved of this.#saved) {
      if (saved.ref.version !== saved.version) {
        throw new Error(
          `one of the variables needed for gradient computation has been modified by an inplace operation: ` +
            `${saved.describe()}, is at version ${saved.ref.version}; expected version ${saved.version} instead. ` +
            `Hint: the operation that failed was ${this.name}; find the in-place op (ending in _) that changed the ` +
            `tensor after it was used, and use its out-of-place form or .clone() the tensor first.`,
        );
      }
    }
    return this.#backward(grad);
  }

  /** Frees what the node saved; a node that saved nothing stays usable, as in PyTorch. */
  release(): void {
    if (!this.#keepsValues) return;
    this.#backward = null;
    for (const saved of this.#saved) saved.tensor.dispose();
    this.#saved = [];
  }

  /** "<MulBackward0>", as PyTorch prints a grad_fn. */
  toString(): string {
    return `<${this.name}>`;
  }
}

/**
 * The node at the end of every path: it adds the incoming gradient into a
 * leaf tensor's `.grad`.
 */
export class AccumulateGrad extends Node {
  /** the leaf whose `.grad` this node fills */
  readonly variable: Tensor;
  readonly #accumulate: (grad: Tensor, createGraph: boolean, owned: boolean) => void;

  /** Makes the accumulator of one leaf. */
  constructor(variable: Tensor, accumulate: (grad: Tensor, createGraph: boolean, owned: boolean) => void) {
    super("AccumulateGrad", [], null, []);
    this.variable = variable;
    this.#accumulate = accumulate;
  }

  /**
   * Adds `grad` into the leaf's `.grad`. `owned` says nothing else will read
   * `grad` or its storage (the engine made it for this leaf alone), so the
   * leaf may take it as its `.grad` instead of a copy.
   */
  accumulate(grad: Tensor, createGraph: boolean, owned = false): void {
    this.#accumulate(grad, createGraph, owned);
  }
}

/** Options of one backward walk. */
export interface WalkOptions {
  readonly retainGraph: boolean;
  readonly createGraph: boolean;
  /** accumulate into leaves' `.grad` (backward) or only capture (autograd.grad) */
  readonly accumulate: boolean;
  /** nodes whose incoming gradient the caller wants back */
  readonly capture?: readonly Node[];
  /** adds two gradients (the engine cannot import the ops) */
  readonly add: (a: Tensor, b: Tensor) => Tensor;
  /** sets a retained non-leaf tensor's grad (to a copy) */
  readonly retain: (node: Node, grad: Tensor) => void;
  /** the storage a tensor's elements live in (views share their base's) */
  readonly storageOf: (t: Tensor) => StorageRef;
  /** told of every gradient a hook saw or returned (the caller must not free those) */
  readonly hooked?: (grad: Tensor) => void;
}

/** A max-heap of nodes by sequence number: the newest ready node runs first. */
class ReadyQueue {
  readonly #heap: Node[] = [];
  get size(): number {
    return this.#heap.length;
  }
  push(node: Node): void {
    const h = this.#heap;
    h.push(node);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p].sequenceNr >= h[i].sequenceNr) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }
  pop(): Node {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && h[l].sequenceNr > h[m].sequenceNr) m = l;
        if (r < h.length && h[r].sequenceNr > h[m].sequenceNr) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}

/** Every node reachable from `roots`, children before parents, and each node's count of incoming edges. */
function collect(roots: readonly Node[]): { order: Node[]; deps: Map<Node, number> } {
  const deps = new Map<Node, number>();
  const order: Node[] = [];
  const stack: { node: Node; child: number }[] = [];
  const seen = new Set<Node>();
  for (const root of roots) {
    if (seen.has(root)) continue;
    seen.add(root);
    stack.push({ node: root, child: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const next = top.node.nextFunctions;
      if (top.child < next.length) {
        const child = next[top.child++];
        if (child === null) continue;
        deps.set(child, (deps.get(child) ?? 0) + 1);
        if (!seen.has(child)) {
          seen.add(child);
          stack.push({ node: child, child: 0 });
        }
      } else {
        order.push(top.node);
        stack.pop();
      }
    }
  }
  return { order, deps };
}

/**
 * Runs the tape backward from `roots`, seeded with `rootGrads`. Returns the
 * gradients that reached the `capture` nodes.
 */
export function runBackward(
  roots: readonly Node[],
  rootGrads: readonly Tensor[],
  options: WalkOptions,
): Map<Node, Tensor> {
  const { order, deps } = collect(roots);
  const capture = new Set(options.capture ?? []);
  // With capture only (autograd.grad), skip nodes that lead to no captured node.
  let needed: Set<Node> | undefined;
  if (!options.accumulate) {
    needed = new Set();
    for (const node of order) {
      if (capture.has(node) || node.nextFunctions.some((n) => n !== null && needed!.has(n))) needed.add(node);
    }
  }
  const firstNewStorage = storagesMadeSoFar();
  const buffer = new Map<Node, Tensor>();
  const captured = new Map<Node, Tensor>();
  const ready = new ReadyQueue();
  const executed: Node[] = [];
  // How many times each gradient was handed on; one a caller or a hook has seen counts as shared.
  const handed = new Map<Tensor, number>();
  const share = (grad: Tensor) => handed.set(grad, 2);
  const addTo = (node: Node, grad: Tensor) => {
    handed.set(grad, (handed.get(grad) ?? 0) + 1);
    const existing = buffer.get(node);
    if (existing === undefined) return void buffer.set(node, grad);
    // The sum of two gradients is a fresh tensor this node alone holds.
    const sum = options.add(existing, grad);
    handed.set(sum, 1);
    buffer.set(node, sum);
  };
  /**
   * True when a leaf may keep `grad` itself (PyTorch's AccumulateGrad steals a
   * gradient no one else references): its storage made by this walk (not a
   * forward tensor's, not a seed's a caller holds), the tensor handed to this
   * node alone and never seen by a hook, and no pending gradient sharing its
   * storage (a view on its way to another node would see the leaf's later
   * in-place accumulations).
   */
  const owned = (grad: Tensor) => {
    if (options.createGraph || handed.get(grad) !== 1) return false;
    const storage = options.storageOf(grad);
    if (storage.serial < firstNewStorage) return false;
    for (const pending of buffer.values()) if (options.storageOf(pending) === storage) return false;
    return true;
  };
  rootGrads.forEach(share);
  roots.forEach((root, i) => addTo(root, rootGrads[i]));
  for (const root of new Set(roots)) if (!deps.has(root)) ready.push(root);

  const guard = setGradEnabled(options.createGraph);
  try {
    while (ready.size > 0) {
      const node = ready.pop();
      let grad = buffer.get(node);
      buffer.delete(node);
      let outs: readonly (Tensor | null | undefined)[] = [];
      if (grad !== undefined) {
        if (node.hasPreHooks) {
          options.hooked?.(grad);
          share(grad);
          grad = node.runPreHooks(grad);
          options.hooked?.(grad);
          share(grad);
        }
        options.retain(node, grad);
        if (capture.has(node)) {
          captured.set(node, grad);
          share(grad);
        }
        if (node instanceof AccumulateGrad) {
          if (options.accumulate) node.accumulate(grad, options.createGraph, owned(grad));
        } else if (needed === undefined || needed.has(node)) {
          outs = node.apply(grad);
          executed.push(node);
        }
      }
      const next = node.nextFunctions;
      for (let i = 0; i < next.length; i++) {
        const child = next[i];
        if (child === null) continue;
        const g = outs[i];
        if (g) addTo(child, g);
        const left = deps.get(child)! - 1;
        deps.set(child, left);
        if (left === 0) ready.push(child);
      }
    }
  } finally {
    guard[Symbol.dispose]();
  }
  if (!options.retainGraph) { for (const node of executed) node.release(); }
  return captured;
}
