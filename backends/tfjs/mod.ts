/**
 * Flint on TensorFlow.js: a backend that runs Flint's ops on tfjs kernels
 * (cpu, wasm with XNNPACK, webgl, webgpu, or tfjs-node). tfjs only computes:
 * Flint's autograd records the tape, and every op frees its tfjs
 * intermediates (`tf.tidy`), so no `dispose()` is ever needed.
 *
 * Nothing registers itself by being imported. You import the tfjs backend
 * package you want, then create a Flint backend on it and register it as a
 * device. tfjs has one active backend per JavaScript realm; `create` makes
 * yours the active one, and a device throws if tfjs is switched away from it.
 *
 * float64 tensors are kept in float32 (tfjs has no 64-bit floats), as
 * `float64Precision: "float32"` says; reads still return Float64Array.
 *
 * @example tfjs-cpu: plain JavaScript, anywhere
 * ```ts
 * import "@tensorflow/tfjs-backend-cpu";
 * import * as torch from "@flint/torch";
 * import { TfjsBackend } from "@flint/tfjs";
 *
 * torch.registerBackend(await TfjsBackend.create({ backend: "cpu" }));
 * const x = torch.tensor([[1, 2], [3, 4]], { device: "tfjs", requiresGrad: true });
 * x.matmul(x).sum().backward();
 * console.log(await x.grad!.tolist()); // [ [ 7, 11 ], [ 9, 13 ] ]
 * ```
 *
 * @example tfjs-wasm (XNNPACK) in Deno or Node, its .wasm files read from the installed npm package
 * ```ts
 * import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
 * import { createRequire } from "node:module";
 * import * as torch from "@flint/torch";
 * import { TfjsBackend } from "@flint/tfjs";
 *
 * const wasmFile = createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm");
 * setWasmPaths(wasmFile.slice(0, wasmFile.lastIndexOf("/") + 1)); // no network: the files beside it
 * const wasm = torch.registerBackend(await TfjsBackend.create({ backend: "wasm", name: "tfjs-wasm" }));
 * console.log(await torch.ones(3, { device: wasm }).mul(2).tolist()); // [ 2, 2, 2 ]
 * ```
 *
 * @example tfjs-webgl in a browser (reads are synchronous but stall the GPU: prefer `await t.data()`)
 * ```ts ignore
 * import "@tensorflow/tfjs-backend-webgl";
 * import * as torch from "@flint/torch";
 * import { TfjsBackend } from "@flint/tfjs";
 *
 * torch.registerBackend(await TfjsBackend.create({ backend: "webgl" }));
 * // WebGL keeps int32 in float32 textures: integers are exact up to 2^24.
 * ```
 *
 * @example tfjs-webgpu in a browser (or Deno with WebGPU): reads are asynchronous only
 * ```ts ignore
 * import "@tensorflow/tfjs-backend-webgpu";
 * import * as torch from "@flint/torch";
 * import { TfjsBackend } from "@flint/tfjs";
 *
 * const tfjs = await TfjsBackend.create({ backend: "webgpu" });
 * console.log(tfjs.canReadSync); // false: use await t.item(), await t.tolist()
 * torch.registerBackend(tfjs);
 * ```
 *
 * @example tfjs-node (TensorFlow's C library) in Node: its tfjs-core must be the one this package uses (4.22.0)
 * ```ts ignore
 * import "@tensorflow/tfjs-node"; // registers the "tensorflow" backend
 * import * as torch from "@flint/torch";
 * import { TfjsBackend } from "@flint/tfjs";
 *
 * torch.registerBackend(await TfjsBackend.create({ backend: "tensorflow" }));
 * ```
 *
 * @module
 */
export { TfjsBackend, type TfjsBackendOptions, type TfjsMemoryInfo } from "./backend.ts";
export { type LoadableTfjsBackend, loadTfjsBackend } from "./setup.ts";
