/**
 * The CPU backend of Flint: tensors live in typed arrays and kernels are
 * TypeScript loops with contiguous fast paths. It runs anywhere JavaScript
 * runs (Deno, browsers, serverless isolates) and is the reference every other
 * backend is tested against.
 *
 * @example
 * ```ts
 * import { CpuBackend } from "@flint/cpu";
 *
 * const cpu = new CpuBackend();
 * const s = cpu.fill(4, 1.5, "float32");
 * console.log(cpu.memory()); // { storages: 1, bytes: 16 }
 * cpu.dispose(s);
 * ```
 *
 * @module
 */
export { CpuBackend, type CpuBackendOptions } from "./backend.ts";
