// `--device cpu|webgpu|tfjs` (and `--tfjs-backend cpu|wasm`) for the examples:
// the same script runs on every backend. The CPU is the default.

import * as torch from "@flint/torch";

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) {
    const value = args[i + 1];
    if (value === undefined || value.startsWith("--")) throw new TypeError(`${name} needs a value`);
    return value;
  }
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** Sets up the device named by `--device` (default "cpu"), makes it the default, and returns it. */
export async function deviceFromArgs(args: readonly string[] = Deno.args): Promise<torch.Device> {
  const name = flag(args, "--device") ?? "cpu";
  if (name !== "cpu" && name !== "webgpu" && name !== "tfjs") {
    throw new RangeError(`--device must be cpu, webgpu or tfjs, got "${name}"`);
  }
  const tfjsBackend = flag(args, "--tfjs-backend") ?? "wasm";
  if (tfjsBackend !== "cpu" && tfjsBackend !== "wasm") {
    throw new RangeError(`--tfjs-backend must be cpu or wasm, got "${tfjsBackend}"`);
  }
  return await torch.useBackend(name, { tfjsBackend });
}
