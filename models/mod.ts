/**
 * Models and weights for Flint: `torch.load` / `torch.save` for PyTorch
 * `.pth` files (read as `weights_only=True` reads them), safetensors and
 * compressed Flint packs, and a `torch.hub`-like download cache.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { load, save } from "@flint/models";
 *
 * const bytes = await save({ "fc.bias": torch.zeros(3) }, { format: "pth" });
 * console.log((await load(bytes))["fc.bias"].shape); // [3]
 * ```
 *
 * @module
 */
export * from "./io/mod.ts";
export * from "./hub/mod.ts";
