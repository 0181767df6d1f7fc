// Devices: the named backends tensors live on, and the default one.

import type { Backend } from "@flint/backend";

/**
 * A place tensors live, backed by one {@linkcode Backend}. Get one with
 * {@linkcode device}; devices print as their name ("cpu", "webgpu").
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * const cpu = torch.device("cpu");
 * console.log(String(cpu), torch.zeros(2).device === cpu); // cpu true
 * ```
 */
export class Device {
  /** the device name, as PyTorch's `device.type` */
  readonly type: string;
  /** the backend that runs this device's kernels */
  readonly backend: Backend;

  /** Wraps a backend; use {@linkcode registerBackend} rather than calling this. */
  constructor(backend: Backend) {
    this.type = backend.name;
    this.backend = backend;
  }

  /** The device name. */
  toString(): string {
    return this.type;
  }
}

const devices = new Map<string, Device>();
let defaultDevice: Device | undefined;

/**
 * Makes a backend available as a device named after it, and returns that
 * device. Registering a second backend under a taken name replaces the first.
 * The first backend registered becomes the default device.
 *
 * @example
 * ```ts
 * import { registerBackend } from "@flint/autograd";
 * import { CpuBackend } from "@flint/cpu";
 *
 * const dev = registerBackend(new CpuBackend({ name: "cpu2" }));
 * console.log(dev.type); // cpu2
 * ```
 */
export function registerBackend(backend: Backend): Device {
  const dev = new Device(backend);
  devices.set(dev.type, dev);
  defaultDevice ??= dev;
  return dev;
}

/** Anything that names a device: its name or the device itself. */
export type DeviceLike = string | Device;

/**
 * The device with this name, as `torch.device("cpu")`. A name such as
 * "webgpu:0" is accepted; the index must be 0, since Flint drives one
 * adapter per backend.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.device("cpu").type); // cpu
 * ```
 */
export function device(name: DeviceLike): Device {
  if (name instanceof Device) return name;
  if (typeof name !== "string") throw new TypeError(`expected a device name, got ${String(name)}`);
  const [type, index] = name.split(":");
  if (index !== undefined && index !== "0") {
    throw new RangeError(`device ${JSON.stringify(name)}: Flint has one device of each type, use "${type}"`);
  }
  const found = devices.get(type);
  if (found) return found;
  const known = [...devices.keys()].join(", ") || "none";
  throw new Error(
    `device "${type}" is not set up (set up: ${known}). ` +
      `Set it up first, e.g. \`await torch.useBackend("${type}")\`.`,
  );
}

/**
 * The device new tensors go to when no `device` option is given.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * console.log(torch.getDefaultDevice().type); // cpu
 * ```
 */
export function getDefaultDevice(): Device {
  if (!defaultDevice) {
    throw new Error(
      "no device is set up: import Flint through @flint/torch, or call registerBackend(new CpuBackend()) first",
    );
  }
  return defaultDevice;
}

/**
 * Sets the device new tensors go to, as `torch.set_default_device`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.setDefaultDevice("cpu");
 * console.log(torch.ones(1).device.type); // cpu
 * ```
 */
export function setDefaultDevice(dev: DeviceLike): void {
  defaultDevice = device(dev);
}

/** Every device set up so far. */
export function listDevices(): Device[] {
  return [...devices.values()];
}
