// Test set-up shared by this package's test modules: tfjs-wasm's binaries
// loaded from the installed npm package (never from the network), one Flint
// backend per tfjs backend, and views built from plain arrays.

import { contiguousStrides, type DataArray, type DType, type Storage, type View } from "@flint/backend";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";
import { TfjsBackend } from "./backend.ts";

/** Points tfjs-wasm at the directory of its .wasm files inside node_modules. */
export function useLocalWasmFiles(): void {
  const require = createRequire(import.meta.url);
  const file = require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm");
  setWasmPaths(file.slice(0, file.lastIndexOf("/") + 1));
}

useLocalWasmFiles();

/** The tfjs backends tested here. */
export const TF_BACKENDS: readonly string[] = ["cpu", "wasm"];

const made = new Map<string, TfjsBackend>();

/**
 * The Flint backend on tfjs's `name` backend, made active. Deno runs a
 * module's tests one after another, so switching tfjs's global backend
 * between tests is safe.
 */
export async function tfjsOn(name: string): Promise<TfjsBackend> {
  const known = made.get(name);
  if (known !== undefined) {
    await tf.setBackend(name);
    return known;
  }
  const backend = await TfjsBackend.create({ backend: name, name: `tfjs-${name}` });
  made.set(name, backend);
  return backend;
}

/** Live storages over every Flint backend made here: what tfjs's tensor count should equal. */
export function liveStorages(): number {
  let n = 0;
  for (const b of made.values()) n += b.memory().storages;
  return n;
}

/** A view of `shape` (row-major unless `strides` say otherwise) over fresh storage holding `values`. */
export function viewOf(
  backend: { upload(data: DataArray, dtype: DType): Storage },
  values: readonly number[],
  dtype: DType,
  shape: readonly number[],
  strides: readonly number[] = contiguousStrides(shape),
  offset = 0,
): View {
  const data = dtype === "int32"
    ? Int32Array.from(values)
    : dtype === "bool"
    ? Uint8Array.from(values)
    : dtype === "float64"
    ? Float64Array.from(values)
    : Float32Array.from(values);
  return { storage: backend.upload(data, dtype), dtype, shape, strides, offset };
}

/** A contiguous view of `shape` over `storage`. */
export function whole(storage: Storage, dtype: DType, shape: readonly number[]): View {
  return { storage, dtype, shape, strides: contiguousStrides(shape), offset: 0 };
}

/** `view`'s elements in row-major order, walked on the host from `values` (a reference for the kernels). */
export function hostView(values: readonly number[], view: Pick<View, "shape" | "strides" | "offset">): number[] {
  const out: number[] = [];
  const walk = (d: number, at: number): void => {
    if (d === view.shape.length) {
      out.push(values[at]);
      return;
    }
    for (let i = 0; i < view.shape[d]; i++) walk(d + 1, at + i * view.strides[d]);
  };
  walk(0, view.offset);
  return out;
}
