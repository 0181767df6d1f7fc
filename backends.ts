// Choosing a backend: `await torch.useBackend("webgpu")`. Backends are loaded
// on demand (dynamic imports), so importing Flint never registers one.

import { type Device, device as getDevice, registerBackend, setDefaultDevice } from "@flint/autograd";

/** The backends `useBackend` knows how to set up. */
export type BackendName = "cpu" | "webgpu" | "tfjs";

/** Options of {@linkcode useBackend}. */
export interface UseBackendOptions {
  /** make it the default device for new tensors (default true) */
  makeDefault?: boolean;
  /** for "tfjs": the tfjs backend to run on ("cpu" or "wasm"; default "wasm") */
  tfjsBackend?: "cpu" | "wasm";
}

const ready = new Map<string, Promise<Device>>();

async function setUp(name: BackendName, options: UseBackendOptions): Promise<Device> {
  if (name === "cpu") return getDevice("cpu");
  if (name === "webgpu") {
    const { WebGpuBackend } = await import("@flint/webgpu");
    return registerBackend(await WebGpuBackend.create());
  }
  if (name === "tfjs") {
    const { loadTfjsBackend, TfjsBackend } = await import("@flint/tfjs");
    const sub = options.tfjsBackend ?? "wasm";
    await loadTfjsBackend(sub);
    return registerBackend(await TfjsBackend.create({ backend: sub, name: "tfjs" }));
  }
  throw new RangeError(`unknown backend "${String(name)}": expected one of cpu, webgpu, tfjs`);
}

/**
 * Sets up a backend once (loading its package on demand) and returns its
 * device; by default it also becomes the default device, so a script written
 * for the CPU runs unchanged: `await torch.useBackend("webgpu")`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const dev = await torch.useBackend("cpu");
 * console.log(dev.type, torch.zeros(2).device.type); // cpu cpu
 * ```
 */
export async function useBackend(name: BackendName, options: UseBackendOptions = {}): Promise<Device> {
  const key = name === "tfjs" ? `tfjs:${options.tfjsBackend ?? "wasm"}` : name;
  let pending = ready.get(key);
  if (!pending) {
    pending = setUp(name, options);
    ready.set(key, pending);
    pending.catch(() => ready.delete(key));
  }
  const dev = await pending;
  if (options.makeDefault ?? true) setDefaultDevice(dev);
  return dev;
}
