// Reads `--device <name>` from the command line for the examples; the CPU
// is the default. Other backends are set up here once they exist.

import * as torch from "@flint/torch";

/** The device the example runs on, from `--device` (default "cpu"). */
export function deviceFromArgs(args: readonly string[] = Deno.args): Promise<torch.Device> {
  const i = args.indexOf("--device");
  const name = i >= 0 ? args[i + 1] : args.find((a) => a.startsWith("--device="))?.slice(9) ?? "cpu";
  if (name === undefined) throw new TypeError("--device needs a value, e.g. --device cpu");
  const dev = torch.device(name);
  torch.setDefaultDevice(dev);
  return Promise.resolve(dev);
}
