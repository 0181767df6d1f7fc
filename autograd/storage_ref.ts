// Who owns device memory. A StorageRef is shared by a tensor and its views
// (and by autograd's saved copies); the storage is freed when the last holder
// lets go: by dispose(), by the end of a torch.scope, or by the garbage
// collector through a FinalizationRegistry. Users never have to dispose.

import type { Storage } from "@flint/backend";
import type { Device } from "./device.ts";

let storagesMade = 0;

/** How many StorageRefs were made so far: a ref whose `serial` is at least this number is newer than the call. */
export function storagesMadeSoFar(): number {
  return storagesMade;
}

/** One storage, its device, its holders and its in-place version counter. */
export class StorageRef {
  readonly device: Device;
  readonly storage: Storage;
  /** the order it was made in (see storagesMadeSoFar) */
  readonly serial = storagesMade++;
  /** bumped by every in-place write; autograd checks it on saved tensors */
  version = 0;
  #holders = 0;
  #freed = false;

  constructor(device: Device, storage: Storage) {
    this.device = device;
    this.storage = storage;
  }

  get freed(): boolean {
    return this.#freed;
  }

  retain(): void {
    this.#holders++;
  }

  release(): void {
    if (--this.#holders > 0 || this.#freed) return;
    this.#freed = true;
    this.device.backend.dispose(this.storage);
  }
}

/** Something a scope can dispose: a tensor. */
export interface ScopedValue {
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Set<ScopedValue>[] = [];
const liveTensors = new Map<Device, number>();

/** Records a new tensor in the innermost scope and in the live counts. */
export function trackTensor(t: ScopedValue, device: Device): void {
  scopes.at(-1)?.add(t);
  liveTensors.set(device, (liveTensors.get(device) ?? 0) + 1);
}

/** Forgets a tensor that was disposed or collected. */
export function untrackTensor(device: Device): void {
  liveTensors.set(device, (liveTensors.get(device) ?? 1) - 1);
}

/** Live tensor objects per device. */
export function liveTensorCounts(): ReadonlyMap<Device, number> {
  return liveTensors;
}

/**
 * Keeps `t` alive past the end of every scope it was made in (as tfjs's
 * `keep`). Autograd keeps `.grad` tensors and optimizers keep their state
 * this way.
 */
export function keep<T extends ScopedValue>(t: T): T {
  for (const scope of scopes) scope.delete(t);
  return t;
}

/** Opens a scope; tensors made until `closeScope` are recorded in it. */
export function openScope(): Set<ScopedValue> {
  const scope = new Set<ScopedValue>();
  scopes.push(scope);
  return scope;
}

/** Closes the innermost scope, disposing what it holds except `kept`. */
export function closeScope(scope: Set<ScopedValue>, kept: ReadonlySet<ScopedValue>): void {
  if (scopes.at(-1) !== scope) throw new Error("torch.scope: scopes closed out of order");
  scopes.pop();
  const outer = scopes.at(-1);
  for (const t of scope) {
    if (kept.has(t)) outer?.add(t);
    else if (!t.isDisposed) t.dispose();
  }
}
