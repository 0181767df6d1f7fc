/**
 * The backend contract of Flint: the small set of ops a device must run for
 * autograd to work on it, the optional fused kernels that make it fast, and
 * the shape arithmetic every backend shares.
 *
 * A backend is a value you construct, never a side effect of an import:
 *
 * @example Checking a backend against the contract
 * ```ts
 * import type { Backend } from "@flint/backend";
 * import { contiguousStrides, numel } from "@flint/backend";
 *
 * function describe(backend: Backend): string {
 *   return `${backend.name}: ${backend.memory().storages} live storages`;
 * }
 * console.log(numel([2, 3]), contiguousStrides([2, 3])); // 6 [3, 1]
 * ```
 *
 * @module
 */
export * from "./dtype.ts";
export * from "./layout.ts";
export * from "./ops.ts";
export * from "./backend.ts";
export * from "./errors.ts";
export * from "./memory.ts";
