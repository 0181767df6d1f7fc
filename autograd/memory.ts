// torch.memory() and torch.scope(): seeing and bounding what tensors hold.

import { listDevices } from "./device.ts";
import { closeScope, keep as keepTensor, liveTensorCounts, openScope, type ScopedValue } from "./storage_ref.ts";
import { Tensor } from "./tensor.ts";

/** Live tensors and memory on one device. */
export interface DeviceMemory {
  /** tensor objects not yet disposed or collected (views count separately) */
  readonly tensors: number;
  /** storages the backend holds */
  readonly storages: number;
  /** bytes those storages occupy */
  readonly bytes: number;
}

/**
 * Live tensors, storages and bytes per device, as the backends count them.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const before = torch.memory().cpu.storages;
 * const x = torch.zeros(1000);
 * console.log(torch.memory().cpu.storages - before); // 1
 * x.dispose();
 * console.log(torch.memory().cpu.storages - before); // 0
 * ```
 */
export function memory(): Record<string, DeviceMemory> {
  const counts = liveTensorCounts();
  const out: Record<string, DeviceMemory> = {};
  for (const dev of listDevices()) {
    const info = dev.backend.memory();
    out[dev.type] = { tensors: counts.get(dev) ?? 0, storages: info.storages, bytes: info.bytes };
  }
  return out;
}

function collectTensors(value: unknown, into: Set<ScopedValue>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Tensor) {
    into.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, into, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, into, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into, seen);
  }
}

/**
 * Runs `fn` and then disposes every tensor it made, except the tensors it
 * returns (alone, or inside arrays, maps and plain objects) and those kept
 * with {@linkcode keep}. Gradients written by `backward()` and optimizer state
 * are kept automatically. Use it around a training step to free device
 * memory at once instead of waiting for the garbage collector.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const w = torch.randn(3, { requiresGrad: true });
 * const before = torch.memory().cpu.storages;
 * const loss = torch.scope(() => {
 *   const l = w.mul(2).sum();
 *   l.backward();
 *   return l.detach();
 * });
 * console.log(loss.shape, w.grad !== null); // [] true
 * console.log(torch.memory().cpu.storages - before <= 2); // true
 * ```
 */
export function scope<T>(fn: () => T): T {
  const opened = openScope();
  let result: T;
  try {
    result = fn();
  } catch (error) {
    closeScope(opened, new Set());
    throw error;
  }
  if (result instanceof Promise) {
    return result.then(
      (value) => {
        const kept = new Set<ScopedValue>();
        collectTensors(value, kept);
        closeScope(opened, kept);
        return value;
      },
      (error) => {
        closeScope(opened, new Set());
        throw error;
      },
    ) as T;
  }
  const kept = new Set<ScopedValue>();
  collectTensors(result, kept);
  closeScope(opened, kept);
  return result;
}

/**
 * Keeps a tensor made inside {@linkcode scope} alive after the scope ends.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * let saved: torch.Tensor | undefined;
 * torch.scope(() => {
 *   saved = torch.keep(torch.ones(2));
 * });
 * console.log(saved!.isDisposed); // false
 * ```
 */
export function keep<T extends Tensor>(t: T): T {
  return keepTensor(t);
}
