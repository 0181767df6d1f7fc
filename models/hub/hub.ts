// torch.hub's download cache: weights are fetched once into
// `$FLINT_HOME/hub/checkpoints`, checked against the sha256 prefix in their
// file name (torchvision's `resnet18-f37072fd.pth` convention), and written
// through a temporary file renamed into place, so an interrupted download
// never leaves a file that looks complete.

import { createHash } from "node:crypto";
import { load, type LoadAnyOptions, type StateDict } from "../io/mod.ts";
import { type DownloadProgress, progressReporter } from "./progress.ts";

/**
 * A download that failed: the network, the server, or the hash. The message
 * says where to put the file by hand.
 *
 * @example
 * ```ts
 * import { DownloadError } from "@flint/models";
 *
 * const e = new DownloadError("could not download ...", "https://example.com/w.pth", "/tmp/w.pth", { status: 404 });
 * console.log(e.status, e.path); // 404 /tmp/w.pth
 * ```
 */
export class DownloadError extends Error {
  /** the URL */
  readonly url: string;
  /** the HTTP status, when the server answered */
  readonly status?: number;
  /** where the file would have gone */
  readonly path: string;

  /** Makes the error. */
  constructor(message: string, url: string, path: string, options?: ErrorOptions & { status?: number }) {
    super(message, options);
    this.name = "DownloadError";
    this.url = url;
    this.path = path;
    if (options?.status !== undefined) this.status = options.status;
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: fall back to the defaults
  }
}

function join(...parts: string[]): string {
  return parts.map((p, i) => (i === 0 ? p.replace(/\/+$/, "") : p.replace(/^\/+|\/+$/g, ""))).join("/");
}

/**
 * Flint's cache root, as `torch.hub.get_dir()`'s parent: `$FLINT_HOME`, else
 * `$XDG_CACHE_HOME/flint`, else `~/.cache/flint`.
 *
 * @example
 * ```ts
 * import { flintHome } from "@flint/models";
 *
 * console.log(flintHome().endsWith("flint") || Deno.env.get("FLINT_HOME") !== undefined); // true
 * ```
 */
export function flintHome(): string {
  const home = env("FLINT_HOME");
  if (home) return home;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "flint");
  return join(env("HOME") ?? env("USERPROFILE") ?? ".", ".cache", "flint");
}

/**
 * The hub directory, as `torch.hub.get_dir()`: `<flintHome()>/hub`.
 *
 * @example
 * ```ts
 * import { getDir } from "@flint/models";
 *
 * console.log(getDir().endsWith("/hub")); // true
 * ```
 */
export function getDir(): string {
  return join(flintHome(), "hub");
}

// torch.hub's HASH_REGEX: the first "-<hex>." in the file name.
const HASH_REGEX = /-([a-f0-9]*)\./;

/** The sha256 prefix a file name promises (`resnet18-f37072fd.pth` → `f37072fd`), or null. */
export function hashPrefixOf(fileName: string): string | null {
  const m = HASH_REGEX.exec(fileName);
  return m === null ? null : m[1];
}

/** Options of {@linkcode downloadUrlToFile}. */
export interface DownloadOptions {
  /** the sha256 hex digest must start with this, or the download is refused */
  hashPrefix?: string | null;
  /** show progress on stderr (a bar on a terminal, a few lines otherwise; default true) */
  progress?: boolean;
  /** called as bytes arrive, with the total when the server says it */
  onProgress?: DownloadProgress;
  /** passed to `fetch` (headers, signal) */
  init?: RequestInit;
}

function randomSuffix(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
}

/**
 * Downloads `url` to `dst`, as `torch.hub.download_url_to_file`: streamed to
 * `<dst>.partial-<random>` beside it, hashed as it arrives, checked against
 * `hashPrefix`, then renamed. On any failure the partial file is removed.
 *
 * @example
 * ```ts ignore
 * import { downloadUrlToFile } from "@flint/models";
 *
 * await downloadUrlToFile("https://download.pytorch.org/models/resnet18-f37072fd.pth", "/tmp/resnet18.pth", {
 *   hashPrefix: "f37072fd",
 * });
 * ```
 */
export async function downloadUrlToFile(url: string | URL, dst: string, options: DownloadOptions = {}): Promise<void> {
  const href = String(url);
  const hint = `put the file at ${dst} or pass a local path`;
  let response: Response;
  try {
    response = await fetch(url, options.init);
  } catch (e) {
    throw new DownloadError(`could not download ${href}: ${(e as Error).message}; ${hint}`, href, dst, { cause: e });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new DownloadError(
      `could not download ${href}: HTTP ${response.status} ${response.statusText}; ${hint}`,
      href,
      dst,
      { status: response.status },
    );
  }
  const lengthHeader = response.headers.get("content-length");
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const tmp = `${dst}.partial-${randomSuffix()}`;
  const reporter = progressReporter(options.progress ?? true, total, options.onProgress);
  const hash = createHash("sha256");
  let received = 0;
  const file = await Deno.open(tmp, { write: true, createNew: true });
  let closed = false;
  try {
    try {
      if (response.body !== null) {
        for await (const chunk of response.body) {
          hash.update(chunk);
          let done = 0;
          while (done < chunk.length) done += await file.write(chunk.subarray(done));
          received += chunk.length;
          reporter.update(received);
        }
      }
    } catch (e) {
      throw new DownloadError(
        `could not download ${href}: the connection failed after ${received} bytes (${(e as Error).message}); ${hint}`,
        href,
        dst,
        { cause: e },
      );
    }
    if (total !== undefined && received !== total) {
      throw new DownloadError(
        `could not download ${href}: the connection closed after ${received} of ${total} bytes; ${hint}`,
        href,
        dst,
      );
    }
    file.close();
    closed = true;
    reporter.finish();
    const digest = hash.digest("hex");
    const prefix = options.hashPrefix;
    if (prefix !== undefined && prefix !== null && !digest.startsWith(prefix)) {
      throw new DownloadError(`invalid hash value (expected "${prefix}", got "${digest}") for ${href}`, href, dst);
    }
    await Deno.rename(tmp, dst);
  } catch (e) {
    reporter.abort();
    if (!closed) file.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Options of {@linkcode loadStateDictFromUrl}. */
export interface LoadStateDictFromUrlOptions extends LoadAnyOptions {
  /** the cache folder (default `<getDir()>/checkpoints`) */
  modelDir?: string;
  /** check the sha256 prefix in the file name after downloading (default true) */
  checkHash?: boolean;
  /** show download progress on stderr (default true) */
  progress?: boolean;
  /** the cached file's name (default: the last part of the URL's path) */
  fileName?: string;
  /** called as download bytes arrive */
  onDownloadProgress?: DownloadProgress;
}

/**
 * Loads a state dict from a URL through the cache, as
 * `torch.hub.load_state_dict_from_url`: downloads it once into
 * `<getDir()>/checkpoints/<name>` (checking the sha256 prefix in the name),
 * then loads the cached file with {@linkcode load}.
 *
 * @example
 * ```ts ignore
 * import { loadStateDictFromUrl } from "@flint/models";
 *
 * const sd = await loadStateDictFromUrl("https://download.pytorch.org/models/resnet18-f37072fd.pth");
 * console.log(sd["fc.weight"].shape); // [1000, 512]
 * ```
 */
export async function loadStateDictFromUrl(
  url: string | URL,
  options: LoadStateDictFromUrlOptions = {},
): Promise<StateDict> {
  return await load(await cachedFileFor(url, options), options);
}

/** Downloads `url` into the cache unless it is there, and returns the cached path. */
export async function cachedFileFor(url: string | URL, options: LoadStateDictFromUrlOptions = {}): Promise<string> {
  const modelDir = options.modelDir ?? join(getDir(), "checkpoints");
  await Deno.mkdir(modelDir, { recursive: true });
  const parsed = new URL(String(url));
  const fileName = options.fileName ?? decodeURIComponent(parsed.pathname.split("/").pop() ?? "");
  if (fileName === "" || fileName.includes("/") || fileName === "." || fileName === "..") {
    throw new TypeError(`cannot take a file name from ${parsed.href}; pass options.fileName`);
  }
  const cached = join(modelDir, fileName);
  let exists = true;
  try {
    await Deno.stat(cached);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    exists = false;
  }
  if (!exists) {
    const progress = options.progress ?? true;
    if (progress) await writeStderr(`Downloading: "${parsed.href}" to ${cached}\n`);
    await downloadUrlToFile(parsed, cached, {
      hashPrefix: (options.checkHash ?? true) ? hashPrefixOf(fileName) : null,
      progress,
      onProgress: options.onDownloadProgress,
    });
  }
  return cached;
}

async function writeStderr(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let done = 0;
  while (done < bytes.length) done += await Deno.stderr.write(bytes.subarray(done));
}
