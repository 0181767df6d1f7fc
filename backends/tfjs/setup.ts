// Loading the tfjs backends that run without a browser (cpu, wasm), so one
// call sets tfjs up: used by `torch.useBackend("tfjs")`.

import { createRequire } from "node:module";

/** The tfjs backends this package can load by itself. */
export type LoadableTfjsBackend = "cpu" | "wasm";

/**
 * Imports the tfjs backend package for `name` (registering it with tfjs),
 * pointing tfjs-wasm at the .wasm files of the installed npm package so no
 * network is needed. webgl, webgpu and tensorflow (Node) you import yourself.
 *
 * @example
 * ```ts
 * import { loadTfjsBackend, TfjsBackend } from "@flint/tfjs";
 *
 * await loadTfjsBackend("cpu");
 * const backend = await TfjsBackend.create({ backend: "cpu", name: "tfjs-setup-example" });
 * console.log(backend.name); // tfjs-setup-example
 * ```
 */
export async function loadTfjsBackend(name: LoadableTfjsBackend): Promise<void> {
  if (name === "cpu") {
    await import("@tensorflow/tfjs-backend-cpu");
    return;
  }
  if (name !== "wasm") {
    throw new RangeError(`tfjs backend "${String(name)}" cannot be loaded here: import its package yourself`);
  }
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  const file = createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm");
  wasm.setWasmPaths(file.slice(0, file.lastIndexOf("/") + 1));
}
