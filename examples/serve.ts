// Serve the digits model at the edge: `POST /predict` with 64 pixels (JSON) or
// a PNG answers the class probabilities. Loads the demo's int8 pack once.
// Needs only the network and read access to the pack, and uses no workers,
// FFI or file writes, as a Deno Deploy-style isolate allows:
//
//   deno run --allow-net --allow-read=out/digits/model.pack examples/serve.ts [--pack out/digits/model.pack]
//     [--port 8000] [--hostname 0.0.0.0] [--kernels auto|typescript]
//
//   curl -s localhost:8000/predict -H 'content-type: application/json' -d '{"pixels": [0, 0, 5, 13, ...]}'
//   curl -s localhost:8000/predict -H 'content-type: image/png' --data-binary @digit.png
//
// A JSON body is `{ "pixels": [...] }`: 64 numbers in 0..16 (the UCI digits'
// scale: ink, high, on a background of 0) row by row, or 8 rows of 8. A PNG
// is converted as examples/digits/png.ts describes (grayscale, inverted when
// dark on light, area-averaged to 8×8, scaled to 0..16).

import * as torch from "@flint/torch";
import { CpuBackend } from "@flint/cpu";
import { CLASSES, MAX_PIXEL, PIXELS, toInputs } from "./digits/data.ts";
import { DigitsNet } from "./digits/model.ts";
import { PngError, pngToPixels } from "./digits/png.ts";

/** The default pack: where `deno task demo` writes it. */
export const DEFAULT_PACK = "out/digits/model.pack";
/** The largest body accepted, in bytes (256 KiB); longer bodies get a 413 as soon as they pass it. */
export const MAX_BODY_BYTES: number = 256 * 1024;

/** What `POST /predict` answers. */
export interface Prediction {
  /** softmax of the logits, one per digit 0..9 */
  probabilities: number[];
  /** the most probable digit */
  prediction: number;
}

/** A request the server refuses, with its HTTP status. */
export class HttpError extends Error {
  /** the status to answer */
  readonly status: number;
  /** extra response headers (`Allow` for a 405) */
  readonly headers: Record<string, string>;

  /** An error answered as `status` with `{ "error": message }`. */
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.headers = headers;
  }
}

/**
 * The model, loaded once, answering one image at a time.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { DigitsNet } from "./digits/model.ts";
 * import { Predictor } from "./serve.ts";
 *
 * const pack = await torch.save(new DigitsNet().stateDict(), { format: "pack" });
 * const predictor = await Predictor.load(pack);
 * const { probabilities } = await predictor.predict(new Float32Array(64));
 * console.log(probabilities.length); // 10
 * ```
 */
export class Predictor {
  readonly #model: DigitsNet;

  /** Wraps a DigitsNet (put in eval mode). */
  constructor(model: DigitsNet) {
    this.#model = model.eval();
  }

  /** Loads a pack (a path, a URL or its bytes) into a fresh DigitsNet. */
  static async load(source: string | URL | Uint8Array): Promise<Predictor> {
    const model = new DigitsNet();
    model.loadStateDict(await torch.load(source));
    return new Predictor(model);
  }

  /** The probabilities of 64 pixels in 0..16. */
  async predict(pixels: Float32Array): Promise<Prediction> {
    const probs = torch.scope(() => torch.noGrad(() => this.#model(toInputs(pixels)).softmax(1)));
    const probabilities = Array.from(await probs.data() as Float32Array);
    probs.dispose();
    const prediction = probabilities.indexOf(Math.max(...probabilities));
    return { probabilities, prediction };
  }
}

/**
 * The 64 pixels of a JSON body `{ "pixels": [...] }`: 64 numbers in 0..16,
 * or 8 arrays of 8.
 *
 * @throws {HttpError} 400 naming what is wrong
 *
 * @example
 * ```ts
 * import { pixelsFromJson } from "./serve.ts";
 *
 * console.log(pixelsFromJson({ pixels: Array(64).fill(3) }).length); // 64
 * try {
 *   pixelsFromJson({ pixels: [1, 2, 3] });
 * } catch (e) {
 *   console.log((e as Error).message); // "pixels" has 3 values, expected 64 (8x8)
 * }
 * ```
 */
export function pixelsFromJson(body: unknown): Float32Array {
  if (body === null || typeof body !== "object" || Array.isArray(body) || !("pixels" in body)) {
    throw new HttpError(400, `expected a JSON object {"pixels": [64 numbers in 0..16]}`);
  }
  let pixels = (body as { pixels: unknown }).pixels;
  if (!Array.isArray(pixels)) throw new HttpError(400, `"pixels" must be an array of 64 numbers, got ${kind(pixels)}`);
  if (pixels.length === 8 && pixels.every(Array.isArray)) {
    const rows = pixels as unknown[][];
    const bad = rows.findIndex((row) => row.length !== 8);
    if (bad >= 0) throw new HttpError(400, `"pixels" row ${bad} has ${rows[bad].length} values, expected 8`);
    pixels = rows.flat();
  }
  const flat = pixels as unknown[];
  if (flat.length !== PIXELS) {
    throw new HttpError(400, `"pixels" has ${flat.length} values, expected ${PIXELS} (8x8)`);
  }
  const out = new Float32Array(PIXELS);
  flat.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new HttpError(400, `"pixels"[${i}] is ${kind(v)}, expected a number in 0..${MAX_PIXEL}`);
    }
    if (v < 0 || v > MAX_PIXEL) throw new HttpError(400, `"pixels"[${i}] = ${v} is outside 0..${MAX_PIXEL}`);
    out[i] = v;
  });
  return out;
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}...` : value);
  return typeof value === "object" ? "an object" : String(value);
}

/**
 * Reads a request's body, refusing with a 413 as soon as it passes `limit`
 * bytes (a declared `Content-Length` over the limit is refused before
 * reading), so a huge upload is never held in memory.
 *
 * @throws {HttpError} 413 past the limit, 400 when there is no body
 *
 * @example
 * ```ts
 * import { readBody } from "./serve.ts";
 *
 * const bytes = await readBody(new Request("http://x/", { method: "POST", body: "hello" }), 16);
 * console.log(bytes.length); // 5
 * ```
 */
export async function readBody(request: Request, limit: number = MAX_BODY_BYTES): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    throw new HttpError(413, `the body is ${declared} bytes, more than the limit of ${limit}`);
  }
  if (request.body === null) throw new HttpError(400, "the request has no body");
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new HttpError(413, `the body is more than the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return body;
}

/** The pixels of a `POST /predict` request, by its content type. */
async function pixelsOf(request: Request, maxBodyBytes: number): Promise<Float32Array> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json" && type !== "image/png") {
    throw new HttpError(
      415,
      `Content-Type must be application/json or image/png, got ${type === "" ? "none" : JSON.stringify(type)}`,
    );
  }
  const body = await readBody(request, maxBodyBytes);
  if (type === "image/png") {
    try {
      return pngToPixels(body);
    } catch (e) {
      if (e instanceof PngError) throw new HttpError(400, e.message);
      throw e;
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (e) {
    throw new HttpError(400, `the body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return pixelsFromJson(json);
}

/** The default device's name and, on the CPU, the threads its kernels run on now. */
function backendInfo(): { device: string; threads?: number } {
  const device = torch.getDefaultDevice();
  const backend = device.backend;
  return backend instanceof CpuBackend
    ? { device: device.type, threads: backend.info().activeThreads }
    : { device: device.type };
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** Options of {@linkcode createHandler}. */
export interface HandlerOptions {
  /** the body limit in bytes (default {@linkcode MAX_BODY_BYTES}) */
  maxBodyBytes?: number;
}

/**
 * The server's `fetch` handler, for `Deno.serve(handler)`:
 * - `POST /predict` → 200 `{ "probabilities": [10 numbers], "prediction": k }`
 * - `GET /` → 200, a short description of the API
 * - a bad body → 400, an unsupported Content-Type → 415, a body past the
 *   limit → 413, another method on /predict → 405, another path → 404; each
 *   with `{ "error": "..." }`.
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { DigitsNet } from "./digits/model.ts";
 * import { createHandler, Predictor } from "./serve.ts";
 *
 * const handler = createHandler(new Predictor(new DigitsNet()));
 * const response = await handler(new Request("http://x/predict", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ pixels: Array(64).fill(0) }),
 * }));
 * console.log(response.status, (await response.json()).probabilities.length); // 200 10
 * ```
 */
export function createHandler(
  predictor: Predictor,
  options: HandlerOptions = {},
): (request: Request) => Promise<Response> {
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  return async (request) => {
    const { pathname } = new URL(request.url);
    try {
      if (pathname === "/predict") {
        if (request.method !== "POST") {
          throw new HttpError(405, `${request.method} /predict is not allowed: use POST`, { allow: "POST" });
        }
        return json(200, await predictor.predict(await pixelsOf(request, maxBodyBytes)));
      }
      if (pathname === "/" && (request.method === "GET" || request.method === "HEAD")) {
        return json(200, {
          model: "DigitsNet (UCI handwritten digits, int8 Flint pack)",
          predict: `POST /predict with {"pixels": [64 numbers in 0..16]} (application/json) or an image/png`,
          classes: CLASSES,
          backend: backendInfo(),
        });
      }
      throw new HttpError(404, `no route for ${request.method} ${pathname}: POST /predict`);
    } catch (e) {
      if (e instanceof HttpError) {
        // Leave the rest of an unread body alone: the connection closes rather than reading it.
        return json(e.status, { error: e.message }, e.headers);
      }
      console.error(e);
      return json(500, { error: `internal error: ${e instanceof Error ? e.message : String(e)}` });
    }
  };
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) {
    const value = args[i + 1];
    if (value === undefined || value.startsWith("--")) throw new TypeError(`${name} needs a value`);
    return value;
  }
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/**
 * The command line: loads `--pack` and serves on `--port` (default 8000) of
 * `--hostname` (default 0.0.0.0) until the process ends. `--kernels
 * typescript` runs the CPU backend's plain TypeScript kernels instead of its
 * WebAssembly ones (default auto), to compare the two (bench/race.ts does).
 *
 * @example
 * ```ts
 * import * as torch from "@flint/torch";
 * import { DigitsNet } from "./digits/model.ts";
 * import { main } from "./serve.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await torch.save(new DigitsNet().stateDict(), `${dir}/model.pack`, { format: "pack" });
 * const server = await main(["--pack", `${dir}/model.pack`, "--port", "0", "--hostname", "127.0.0.1"]);
 * await server.shutdown();
 * console.log(server.finished instanceof Promise); // true
 * ```
 */
export async function main(args: readonly string[]): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const pack = flag(args, "--pack") ?? DEFAULT_PACK;
  const port = Number(flag(args, "--port") ?? 8000);
  const hostname = flag(args, "--hostname") ?? "0.0.0.0";
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`--port must be 0..65535, got ${port}`);
  const kernels = flag(args, "--kernels") ?? "auto";
  if (kernels !== "auto" && kernels !== "typescript") {
    throw new RangeError(`--kernels must be auto or typescript, got "${kernels}"`);
  }
  // One thread, decided here rather than left to the CPU backend: under Deno's permissions a worker needs none, so
  // the default backend would start its pool on the first convolution; an isolate has no cores to spare, and one
  // 8×8 image is too small to split anyway.
  torch.setDefaultDevice(torch.registerBackend(new CpuBackend({ name: "cpu", threads: 1, kernels })));
  let predictor: Predictor;
  try {
    predictor = await Predictor.load(pack);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`no pack at ${pack}: run \`deno task demo\` first, or pass --pack <file>`);
    }
    throw e;
  }
  return Deno.serve({
    port,
    hostname,
    onListen: ({ hostname, port }) => console.log(`serving ${pack} on http://${hostname}:${port}/predict`),
  }, createHandler(predictor));
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
