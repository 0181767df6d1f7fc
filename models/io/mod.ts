/**
 * Reading and writing weights safely: PyTorch `.pth`/`.pt` (the zip format,
 * through a pickle reader restricted as `weights_only=True`), safetensors,
 * and compressed Flint packs. Every size a file claims is checked against
 * the file and a cap before memory is taken.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { load, save } from "@flint/models";
 *
 * const bytes = await save({ "fc.weight": torch.eye(2) }, { format: "safetensors" });
 * console.log(Object.keys(await load(bytes))); // [ "fc.weight" ]
 * ```
 *
 * @module
 */
export { load, type LoadAnyOptions, loadWithInfo, save, type SaveOptions, type WeightsFormat } from "./load.ts";
export {
  encodePth,
  type LoadOptions,
  loadPth,
  loadPthObject,
  type LoadResult,
  savePth,
  type SavePthOptions,
  type StateDict,
} from "./pth.ts";
export {
  encodeSafetensors,
  loadSafetensors,
  SAFETENSORS_DTYPES,
  saveSafetensors,
  type SaveSafetensorsOptions,
} from "./safetensors.ts";
export {
  dequantize,
  encodePack,
  loadPack,
  type LoadPackOptions,
  type Pack,
  PACK_FORMAT,
  type PackCompression,
  type PackedTensor,
  type PackQuantization,
  quantizeInt8,
  readPack,
  savePack,
  type SavePackOptions,
  SCALE_SUFFIX,
} from "./pack.ts";
export {
  allowedGlobals,
  PickleDict,
  type PickleValue,
  StorageRef,
  TensorRef,
  TorchGlobal,
  unpickle,
  type UnpickleOptions,
} from "./pickle.ts";
export { UnpicklingError, type WeightsErrorKind, type WeightsErrorLocation, WeightsFormatError } from "./errors.ts";
export { DEFAULT_LIMITS, type LoadLimits } from "./limits.ts";
export type { SourceDType } from "./dtypes.ts";
export type { WeightsSource } from "./source.ts";
