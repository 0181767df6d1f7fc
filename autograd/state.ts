// The mutable state behind a Tensor, shared with autograd's ops but not with
// users: a Tensor's public surface only reads it.

import type { DType, View } from "@flint/backend";
import type { Device } from "./device.ts";
import type { AccumulateGrad, Node } from "./engine.ts";
import type { StorageRef } from "./storage_ref.ts";
import type { Tensor } from "./tensor.ts";

/** Everything a tensor is: where its elements live and its place on the tape. */
export interface TensorState {
  /** the shared storage and its version counter */
  ref: StorageRef;
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
  dtype: DType;
  requiresGrad: boolean;
  grad: Tensor | null;
  gradFn: Node | null;
  /** for a view: the tensor that owns the storage (never itself a view) */
  base: Tensor | null;
  /** for a view: the base's gradFn when this view's gradFn was made */
  baseGradFn: Node | null;
  /** for a leaf that requires grad: the node that fills `.grad` */
  accumulator: AccumulateGrad | null;
  retainsGrad: boolean;
  disposed: boolean;
}

/** The backend-facing view of a tensor state. */
export function viewOfState(s: TensorState): View {
  return { storage: s.ref.storage, dtype: s.dtype, shape: s.shape, strides: s.strides, offset: s.offset };
}

/** The device of a tensor state. */
export function deviceOfState(s: TensorState): Device {
  return s.ref.device;
}
