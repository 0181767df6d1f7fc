// The process-wide generator that `torch.manualSeed` seeds and random ops draw from.

import { Generator } from "./generator.ts";

/**
 * The default generator, as PyTorch's `torch.default_generator`: seeded with
 * PyTorch's default seed until `manualSeed` is called.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 *
 * torch.manualSeed(7);
 * console.log(torch.defaultGenerator.initialSeed()); // 7n
 * ```
 */
export const defaultGenerator: Generator = new Generator();
