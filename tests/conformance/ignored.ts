// Cases a backend cannot serve, with the reason: data, so the suite reports
// them as ignored (never dropped) and the support table is generated from it.

/** Why a WebGPU (or any asynchronous-read) device cannot run boolean-mask indexing. */
export const MASK_NEEDS_SYNC_READ =
  "boolean-mask indexing sizes its output by the mask's true count, which needs a synchronous read " +
  "(nonzero throws on devices that read asynchronously)";

const maskCases = [
  "index/bool_mask_full",
  "index/bool_mask_rows",
  "index/bool_mask_cols",
  "index/bool_mask_all_false",
  "index/expanded_mask",
  "indexPut/bool_mask_rows",
  "setitem/bool_mask_values",
  "setitem/bool_mask_rows",
  "maskedSelect/plain",
  "maskedSelect/broadcast_mask",
  "maskedSelect/broadcast_input",
  "maskedSelect/all_false",
  "maskedSelect/scalar0d",
  "maskedSelect/empty",
  "maskedSelect/float64",
  "maskedSelect/noncontig",
  "maskedSelect/int32",
];

/** Per backend: case name → reason it is ignored. */
export const IGNORED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "cpu": {},
  "cpu-composed": {},
  "webgpu": Object.fromEntries(maskCases.map((name) => [name, MASK_NEEDS_SYNC_READ])),
  "tfjs-cpu": {},
  "tfjs-wasm": {},
};
