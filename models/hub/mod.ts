/**
 * A `torch.hub`-like download cache for weights: `loadStateDictFromUrl`
 * fetches into `$FLINT_HOME/hub/checkpoints` once, checks the sha256 prefix
 * in the file name, and loads the file.
 *
 * @example
 * ```ts
 * import { hashPrefixOf } from "@flint/models";
 *
 * console.log(hashPrefixOf("resnet18-f37072fd.pth")); // f37072fd
 * ```
 *
 * @module
 */
export {
  DownloadError,
  type DownloadOptions,
  downloadUrlToFile,
  flintHome,
  getDir,
  hashPrefixOf,
  loadStateDictFromUrl,
  type LoadStateDictFromUrlOptions,
} from "./hub.ts";
export type { DownloadProgress } from "./progress.ts";
