// The call machinery of modules: forward pre-hooks, forward, forward hooks,
// and full backward hooks (identity ops on the inputs and outputs that see
// the gradients pass).

import { autograd, isGradEnabled, keep, Tensor } from "@flint/autograd";
import type { Module, RemovableHandle } from "./module.ts";

/** A registered module hook. */
export interface ModuleHook {
  readonly kind: "forwardPre" | "forward" | "backward";
  // deno-lint-ignore no-explicit-any
  readonly fn: (...args: any[]) => unknown;
}

let nextHookId = 0;

/** Adds a hook to a module's table and returns a handle that removes it. */
export function registerHook(
  table: Map<ModuleHook["kind"], Map<number, ModuleHook>>,
  hook: ModuleHook,
): RemovableHandle {
  const id = nextHookId++;
  let kind = table.get(hook.kind);
  if (!kind) table.set(hook.kind, kind = new Map());
  kind.set(id, hook);
  return { remove: () => void kind.delete(id) };
}

/** Gradients seen during one backward through one module call. */
interface BackwardRecord {
  gradOutputs: (Tensor | null)[];
  gradInputs: (Tensor | null)[];
  pendingInputs: number;
}

function passThrough(name: string, onGrad: (g: Tensor) => Tensor | void) {
  return autograd.defineFunction({
    name,
    forward: (_ctx, x: Tensor) => x.detach(),
    backward: (_ctx, g) => {
      // The gradients go to user hooks, which may keep them: exempt them from
      // the backward walk's freeing of its temporaries.
      keep(g);
      const out = onGrad(g) ?? g;
      return [keep(out)];
    },
  });
}

/** Runs a module call: hooks around `forward`. */
export function runForwardWithHooks<I extends unknown[], O>(module: Module<I, O>, args: I): O {
  let input = args;
  for (const hook of module.hooksOf("forwardPre")) {
    const replaced = hook(module, input);
    if (replaced !== undefined) input = (Array.isArray(replaced) ? replaced : [replaced]) as I;
  }
  const backwardHooks = isGradEnabled() ? module.hooksOf("backward") : [];
  let rec: BackwardRecord | undefined;
  if (backwardHooks.length > 0) {
    rec = { gradOutputs: [], gradInputs: [], pendingInputs: 0 };
    input = wrapInputs(module, input, rec, backwardHooks);
  }
  let output = module.forward(...input);
  for (const hook of module.hooksOf("forward")) {
    const replaced = hook(module, input, output);
    if (replaced !== undefined) output = replaced as O;
  }
  if (rec) output = wrapOutputs(module, output, rec, backwardHooks);
  return output;
}

function callBackwardHooks(module: Module, rec: BackwardRecord, hooks: ModuleHook["fn"][]): void {
  for (const hook of hooks) {
    const replaced = hook(module, rec.gradInputs, rec.gradOutputs) as (Tensor | null)[] | undefined;
    if (replaced !== undefined) rec.gradInputs = [...replaced];
  }
}

function wrapInputs<I extends unknown[]>(module: Module, args: I, rec: BackwardRecord, hooks: ModuleHook["fn"][]): I {
  const slots = args.map((a, i) => (a instanceof Tensor && a.requiresGrad ? i : -1)).filter((i) => i >= 0);
  rec.pendingInputs = slots.length;
  rec.gradInputs = slots.map(() => null);
  return args.map((a, i) => {
    const k = slots.indexOf(i);
    if (k < 0) return a;
    return passThrough("BackwardHookFunctionBackward", (g) => {
      rec.gradInputs[k] = g;
      // The hook runs once, when the last input's gradient arrives; its
      // replacement applies to that gradient (earlier ones have gone on).
      if (--rec.pendingInputs > 0) return g;
      callBackwardHooks(module, rec, hooks);
      return rec.gradInputs[k] ?? g;
    }).apply(a as Tensor);
  }) as I;
}

function wrapOutputs<O>(module: Module, output: O, rec: BackwardRecord, hooks: ModuleHook["fn"][]): O {
  const outputs = output instanceof Tensor ? [output] : Array.isArray(output) ? output : [];
  rec.gradOutputs = outputs.map(() => null);
  const wrapped = outputs.map((o, k) =>
    o instanceof Tensor && o.requiresGrad
      ? passThrough("BackwardHookFunctionBackward", (g) => {
        rec.gradOutputs[k] = g;
        // No input needs a gradient: the hook runs as soon as the outputs' arrive.
        if (rec.pendingInputs === 0) callBackwardHooks(module, rec, hooks);
      }).apply(o)
      : o
  );
  if (output instanceof Tensor) return wrapped[0] as O;
  return (Array.isArray(output) ? wrapped : output) as O;
}
