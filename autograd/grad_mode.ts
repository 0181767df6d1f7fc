// Whether ops record the autograd tape: `noGrad` and `enableGrad`.

let enabled = true;

/** True when ops record the tape (outside `noGrad`). */
export function isGradEnabled(): boolean {
  return enabled;
}

/** A grad-mode switch, restored when disposed (`using _ = noGrad()`). */
export interface GradModeGuard extends Disposable {
  /** restores the grad mode in force before the switch */
  [Symbol.dispose](): void;
}

function switchTo(mode: boolean): GradModeGuard {
  const previous = enabled;
  enabled = mode;
  return { [Symbol.dispose]: () => void (enabled = previous) };
}

function runWith<T>(mode: boolean, fn: () => T): T {
  const guard = switchTo(mode);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    guard[Symbol.dispose]();
    throw error;
  }
  if (result instanceof Promise) {
    // An async callback keeps the mode until it settles; other code awaiting
    // meanwhile sees it too, as with Python's `with` across `await`.
    return result.finally(() => guard[Symbol.dispose]()) as T;
  }
  guard[Symbol.dispose]();
  return result;
}

/**
 * Runs `fn` without recording the autograd tape, as `with torch.no_grad():`,
 * and returns its result. With no argument, switches recording off until the
 * returned guard is disposed: `using _ = torch.noGrad();`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.tensor([1, 2], { requiresGrad: true });
 * const y = torch.noGrad(() => w.mul(2));
 * console.log(y.requiresGrad); // false
 * {
 *   using _ = torch.noGrad();
 *   console.log(w.add(1).requiresGrad); // false
 * }
 * ```
 */
export function noGrad(): GradModeGuard;
/** Runs `fn` without recording the tape and returns its result. */
export function noGrad<T>(fn: () => T): T;
export function noGrad<T>(fn?: () => T): T | GradModeGuard {
  return fn ? runWith(false, fn) : switchTo(false);
}

/**
 * Runs `fn` with the tape on, even inside `noGrad`, as `torch.enable_grad()`.
 * With no argument, returns a guard for `using`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.tensor([1.0], { requiresGrad: true });
 * torch.noGrad(() => {
 *   console.log(torch.enableGrad(() => w.mul(2)).requiresGrad); // true
 * });
 * ```
 */
export function enableGrad(): GradModeGuard;
/** Runs `fn` with the tape on and returns its result. */
export function enableGrad<T>(fn: () => T): T;
export function enableGrad<T>(fn?: () => T): T | GradModeGuard {
  return fn ? runWith(true, fn) : switchTo(true);
}

/**
 * Sets whether ops record the tape, as `torch.set_grad_enabled(mode)`; the
 * returned guard restores the previous mode when disposed.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * {
 *   using _ = torch.setGradEnabled(false);
 *   console.log(torch.isGradEnabled()); // false
 * }
 * console.log(torch.isGradEnabled()); // true
 * ```
 */
export function setGradEnabled(mode: boolean): GradModeGuard {
  return switchTo(mode);
}
