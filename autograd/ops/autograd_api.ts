// The user-facing autograd calls: backward, autograd.grad, requiresGrad,
// .grad, retainGrad and hooks.

import { formatShape, isFloatingPoint } from "@flint/backend";
import { type GradHook, type Node, type RemovableHandle, runBackward } from "../engine.ts";
import { noGrad } from "../grad_mode.ts";
import { closeScope, keep, openScope, type StorageRef } from "../storage_ref.ts";
import { stateOf, type Tensor } from "../tensor.ts";
import type { BackwardOptions } from "../types.ts";
import { accumulatorOf, addTensors, detachedCopy, edgeOf } from "./_core.ts";
import { onesLike } from "./creation.ts";

// Non-leaf tensors that asked to keep their grad, by the node that makes them.
const retained = new WeakMap<Node, Tensor>();

/** A tensor's storage, for the engine's aliasing checks. */
function storageOf(t: Tensor): StorageRef {
  return stateOf(t).ref;
}

function retainInto(node: Node, grad: Tensor): void {
  const t = retained.get(node);
  if (t === undefined || t.gradFn !== node) return;
  const s = stateOf(t);
  s.grad = keep(s.grad === null ? detachedCopy(grad) : noGrad(() => s.grad!.add(grad)));
}

function rootGradient(t: Tensor, gradient: Tensor | undefined, index: number): Tensor {
  if (gradient === undefined) {
    if (t.numel() !== 1) throw new Error("grad can be implicitly created only for scalar outputs");
    return onesLike(t);
  }
  if (gradient.shape.length !== t.shape.length || gradient.shape.some((d, i) => d !== t.shape[i])) {
    throw new RangeError(
      `Mismatch in shape: grad_output[${index}] has a shape of ${
        formatShape(gradient.shape)
      } and output[${index}] has ` +
        `a shape of ${formatShape(t.shape)}.`,
    );
  }
  return gradient;
}

function checkRoot(t: Tensor, index: number): void {
  if (!t.requiresGrad) {
    throw new Error(`element ${index} of tensors does not require grad and does not have a grad_fn`);
  }
}

/** `t.backward(gradient?, options)`: accumulates d(t)/d(leaf) into every leaf's `.grad`. */
export function backward(t: Tensor, gradient: Tensor | undefined, options: BackwardOptions): void {
  checkRoot(t, 0);
  const createGraph = options.createGraph ?? false;
  const retainGraph = options.retainGraph ?? createGraph;
  if (options.inputs !== undefined) {
    // Only the named tensors accumulate: capture their gradients, then add them in.
    const inputs = [...options.inputs];
    const grads = grad([t], inputs, [gradient], { retainGraph, createGraph, allowUnused: true });
    inputs.forEach((x, i) => {
      const g = grads[i];
      if (g !== null) accumulatorOf(x).accumulate(g, createGraph);
    });
    return;
  }
  walkFreeingTemporaries(createGraph, (hooked) => {
    // Made inside the walk's scope: a seed of ones is freed with the rest.
    const seed = rootGradient(t, gradient, 0);
    runBackward([edgeOf(t)], [seed], {
      retainGraph,
      createGraph,
      accumulate: true,
      add: addTensors,
      retain: retainInto,
      storageOf,
      hooked,
    });
    return [];
  });
}

/**
 * Runs a backward walk inside a scope, so the gradients it computes along the
 * way are freed when it ends rather than when the garbage collector runs
 * (which, in a synchronous training loop on a GPU or a WebAssembly heap, may
 * be far too late). Kept: what the walk returns, `.grad` (kept by the
 * accumulator), and any gradient a hook saw. A walk that builds a graph
 * (createGraph) frees nothing: its gradients are part of that graph.
 */
function walkFreeingTemporaries(createGraph: boolean, walk: (hooked: (t: Tensor) => void) => Tensor[]): void {
  if (createGraph) {
    walk(() => {});
    return;
  }
  const kept = new Set<Tensor>();
  const scope = openScope();
  try {
    for (const t of walk((t) => kept.add(t))) kept.add(t);
  } finally {
    closeScope(scope, kept);
  }
}

/** Options of {@linkcode grad}. */
export interface GradOptions {
  /** keep the graph for another backward (default: createGraph) */
  retainGraph?: boolean;
  /** record the gradient computation, for higher-order gradients */
  createGraph?: boolean;
  /** give null for inputs the outputs do not depend on, instead of throwing */
  allowUnused?: boolean;
}

/**
 * The gradients of `outputs` with respect to `inputs`, without touching any
 * `.grad` (PyTorch's `torch.autograd.grad`). Non-scalar outputs need
 * `gradOutputs`. With `createGraph`, the result can be differentiated again.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const x = torch.tensor([3], { requiresGrad: true });
 * const y = x.pow(3).sum();
 * const [dy] = torch.autograd.grad([y], [x], undefined, { createGraph: true });
 * const [d2y] = torch.autograd.grad([dy!.sum()], [x]);
 * console.log(dy!.itemSync(), d2y!.itemSync()); // 27 18
 * ```
 */
export function grad(
  outputs: readonly Tensor[],
  inputs: readonly Tensor[],
  gradOutputs?: readonly (Tensor | undefined)[],
  options: GradOptions = {},
): (Tensor | null)[] {
  outputs.forEach(checkRoot);
  inputs.forEach((x, i) => {
    if (!x.requiresGrad) throw new Error(`One of the differentiated Tensors (input ${i}) does not require grad`);
  });
  outputs.forEach((o, i) => gradOutputs?.[i] && rootGradient(o, gradOutputs[i], i));
  const createGraph = options.createGraph ?? false;
  const targets = inputs.map(edgeOf);
  let captured = new Map<Node, Tensor>();
  walkFreeingTemporaries(createGraph, (hooked) => {
    const seeds = outputs.map((o, i) => rootGradient(o, gradOutputs?.[i], i));
    captured = runBackward(outputs.map(edgeOf), seeds, {
      retainGraph: options.retainGraph ?? createGraph,
      createGraph,
      accumulate: false,
      capture: targets,
      add: addTensors,
      retain: retainInto,
      storageOf,
      hooked,
    });
    return [...captured.values()];
  });
  return targets.map((node, i) => {
    const g = captured.get(node);
    if (g !== undefined) return g;
    if (!options.allowUnused) {
      throw new Error(
        `One of the differentiated Tensors (input ${i}) appears to not have been used in the graph. ` +
          `Set allowUnused: true if this is the desired behavior.`,
      );
    }
    return null;
  });
}

/** Sets `requiresGrad`, with PyTorch's rules: only leaves, only floating point. */
export function setRequiresGrad(t: Tensor, value: boolean): void {
  const s = stateOf(t);
  if (value && !isFloatingPoint(s.dtype)) {
    throw new TypeError(`only Tensors of floating point dtype can require gradients (got ${s.dtype})`);
  }
  if (t.gradFn !== null) {
    if (value) return;
    throw new Error(
      "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a " +
        "subgraph that doesn't require differentiation use var_no_grad = var.detach().",
    );
  }
  s.requiresGrad = value;
}

/** Sets `.grad`, checking it fits the tensor. */
export function setGrad(t: Tensor, value: Tensor | null): void {
  const s = stateOf(t);
  if (value !== null) {
    if (value.shape.length !== s.shape.length || value.shape.some((d, i) => d !== s.shape[i])) {
      throw new RangeError(
        `assigned grad has data of a different size: ${formatShape(value.shape)} for a tensor of ${
          formatShape(s.shape)
        }`,
      );
    }
    if (value.dtype !== s.dtype) {
      throw new TypeError(`assigned grad has data of a different type: ${value.dtype} for ${s.dtype}`);
    }
    if (value.device !== t.device) {
      throw new Error(`assigned grad is on ${value.device.type}, but the tensor is on ${t.device.type}`);
    }
    keep(value);
  }
  s.grad = value;
}

/** Cuts a tensor off from the tape in place. */
export function detachInPlace(t: Tensor): void {
  const s = stateOf(t);
  if (s.base !== null && s.requiresGrad) throw new Error("Can't detach views in-place. Use detach() instead.");
  s.gradFn = null;
  s.requiresGrad = false;
}

/** Makes a non-leaf keep its `.grad`. */
export function retainGrad(t: Tensor): void {
  if (!t.requiresGrad) throw new Error("can't retain_grad on Tensor that has requires_grad=False");
  const node = t.gradFn;
  if (node === null) return;
  stateOf(t).retainsGrad = true;
  retained.set(node, t);
}

/** Registers a hook on `t`'s gradient. */
export function registerHook(t: Tensor, hook: GradHook): RemovableHandle {
  if (!t.requiresGrad) throw new Error("cannot register a hook on a tensor that doesn't require gradient");
  return edgeOf(t).registerPreHook(hook);
}
