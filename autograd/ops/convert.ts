// Copies and conversions (clone, detach, to), and reading values out.

import { contiguousStrides, type DataArray, type DType, formatShape } from "@flint/backend";
import { type Device, Device as DeviceClass, device as toDevice } from "../device.ts";
import { stateOf, type Tensor } from "../tensor.ts";
import type { NestedArray, ToOptions } from "../types.ts";
import { backendOf, castTo, checkDType, fromStorage, makeView, record, viewOf } from "./_core.ts";

/** A tensor sharing `x`'s elements, with no autograd history. */
export function detach(x: Tensor): Tensor {
  // Not an autograd view: in-place writes to it bump the shared version
  // counter but never change the original's history, as in PyTorch.
  const out = makeView(x, x.shape, x.stride(), x.storageOffset());
  stateOf(out).base = null;
  return out;
}

/** A contiguous copy with its own storage; gradients flow back to `x`. */
export function clone(x: Tensor): Tensor {
  const out = fromStorage(x.device, backendOf(x).cast(viewOf(x), x.dtype), x.shape, x.dtype);
  return record(out, "CloneBackward0", [x], [], (g) => [g]);
}

/** `x` itself when contiguous, else a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  return x.isContiguous() ? x : clone(x);
}

function parseTarget(target: DType | string | Device | ToOptions): ToOptions {
  if (target instanceof DeviceClass) return { device: target };
  if (typeof target === "string") {
    return ["float32", "float64", "int32", "bool"].includes(target) ? { dtype: target as DType } : { device: target };
  }
  if (target === null || typeof target !== "object") {
    throw new TypeError(`to() expects a dtype, a device or options, got ${String(target)}`);
  }
  return target;
}

/** Moves a tensor's elements to another device (the source must read synchronously). */
function moveTo(x: Tensor, dev: Device): Tensor {
  const source = backendOf(x);
  if (!source.canReadSync || !source.readSync) {
    throw new Error(
      `moving a tensor from ${x.device.type} to ${dev.type} needs an asynchronous read: use \`await x.toAsync("${dev.type}")\``,
    );
  }
  const data = source.readSync(viewOf(x));
  const out = fromStorage(dev, dev.backend.upload(data, x.dtype), x.shape, x.dtype);
  const from = x.device;
  return record(out, "ToCopyBackward0", [x], [], (g) => [moveTo(g, from)]);
}

/** `x` in another dtype and/or device; itself when nothing changes (unless `copy`). */
export function to(x: Tensor, target: DType | string | Device | ToOptions): Tensor {
  const options = parseTarget(target);
  let out = x;
  if (options.dtype !== undefined) out = castTo(out, checkDType(options.dtype));
  if (options.device !== undefined) {
    const dev = toDevice(options.device);
    if (dev !== out.device) out = moveTo(out, dev);
  }
  if (out === x && options.copy) out = clone(x);
  return out;
}

/** `to()` for moves that need an asynchronous read (from WebGPU to the CPU, say). */
export async function toAsync(x: Tensor, target: DType | string | Device | ToOptions): Promise<Tensor> {
  const options = parseTarget(target);
  if (options.device === undefined || backendOf(x).canReadSync) return to(x, options);
  const dev = toDevice(options.device);
  const data = await backendOf(x).read(viewOf(x));
  const moved = fromStorage(dev, dev.backend.upload(data, x.dtype), x.shape, x.dtype);
  return options.dtype === undefined ? moved : castTo(moved, checkDType(options.dtype));
}

// ---- reading ----

function checkReadable(x: Tensor, sync: boolean, call: string): void {
  if (sync && !backendOf(x).canReadSync) {
    throw new Error(
      `${call}Sync() cannot read a tensor on ${x.device.type}, which reads only asynchronously: use \`await x.${call}()\``,
    );
  }
}

/** The elements in row-major order (a copy). */
export function dataSync(x: Tensor): DataArray {
  checkReadable(x, true, "data");
  return backendOf(x).readSync!(viewOf(x));
}

/** The elements in row-major order (a copy), on any device. */
export function data(x: Tensor): Promise<DataArray> {
  return backendOf(x).read(viewOf(x));
}

function scalarOf(values: DataArray): number {
  if (values.length !== 1) {
    throw new RangeError(`a Tensor with ${values.length} elements cannot be converted to Scalar`);
  }
  return values[0];
}

/** The value of a one-element tensor. */
export function itemSync(x: Tensor): number {
  if (x.numel() !== 1) throw new RangeError(`a Tensor with ${x.numel()} elements cannot be converted to Scalar`);
  checkReadable(x, true, "item");
  return scalarOf(dataSync(x));
}

/** The value of a one-element tensor, on any device. */
export async function item(x: Tensor): Promise<number> {
  if (x.numel() !== 1) throw new RangeError(`a Tensor with ${x.numel()} elements cannot be converted to Scalar`);
  return scalarOf(await data(x));
}

function nest(values: DataArray, shape: readonly number[], dtype: DType): NestedArray {
  const convert = dtype === "bool" ? (v: number) => v !== 0 : (v: number) => v;
  if (shape.length === 0) return convert(values[0]);
  const strides = contiguousStrides(shape);
  const build = (dim: number, offset: number): NestedArray[] => {
    const out: NestedArray[] = [];
    for (let i = 0; i < shape[dim]; i++) {
      const at = offset + i * strides[dim];
      out.push(dim === shape.length - 1 ? convert(values[at]) : build(dim + 1, at));
    }
    return out;
  };
  return build(0, 0);
}

/** The elements as nested arrays (a number or boolean for a 0-d tensor). */
export function tolistSync(x: Tensor): NestedArray {
  checkReadable(x, true, "tolist");
  return nest(dataSync(x), x.shape, x.dtype);
}

/** The elements as nested arrays, on any device. */
export async function tolist(x: Tensor): Promise<NestedArray> {
  return nest(await data(x), x.shape, x.dtype);
}

/** Describes a tensor briefly for messages: "float32 tensor of shape [2, 3]". */
export function describe(x: Tensor): string {
  return `${x.dtype} tensor of shape ${formatShape(x.shape)}`;
}
