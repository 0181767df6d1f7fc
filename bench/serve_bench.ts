// The digits server (examples/serve.ts) under load: 1,000 `POST /predict`
// requests of real test digits, a few at a time, against the server started as
// users start it (its own process, `--allow-net` and read access to the pack
// only); throughput and latency percentiles.
//
//   deno run -A bench/serve_bench.ts [--pack out/digits/model.pack] [--requests 1000] [--concurrency 4]
//     [--png] [--json out/bench/serve.json] [--kernels auto|typescript]
//     without a pack at --pack, an untrained DigitsNet is packed to a temporary file (the same work per request);
//     --kernels is handed to the server (its CPU backend's kernels: WebAssembly, or the TypeScript reference)
//   deno bench -A bench/serve_bench.ts
//     times one JSON and one PNG request through the handler, in process (no network)

import * as torch from "@flint/torch";
import { loadDigits, PIXELS } from "../examples/digits/data.ts";
import { DigitsNet } from "../examples/digits/model.ts";
import { pixelsToPng } from "../examples/digits/png.ts";
import { createHandler, DEFAULT_PACK, Predictor } from "../examples/serve.ts";

const digits = await loadDigits();

/** Digit `i` as a 32×32 8-bit gray PNG, dark ink on white. */
function digitPng(i: number): Uint8Array<ArrayBuffer> {
  return pixelsToPng(digits.images.subarray(i * PIXELS, (i + 1) * PIXELS));
}

function requestInit(i: number, png: boolean): RequestInit {
  return png ? { method: "POST", headers: { "content-type": "image/png" }, body: digitPng(i) } : {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pixels: Array.from(digits.images.subarray(i * PIXELS, (i + 1) * PIXELS)) }),
  };
}

// ---- deno bench: the handler alone ----

let handler: ((request: Request) => Promise<Response>) | undefined;
function ready(): (request: Request) => Promise<Response> {
  if (handler === undefined) {
    torch.manualSeed(0);
    handler = createHandler(new Predictor(new DigitsNet()));
  }
  return handler;
}
for (const png of [false, true]) {
  Deno.bench({
    name: `serve: one POST /predict through the handler (${png ? "32x32 PNG" : "JSON pixels"})`,
    group: "serve",
    baseline: !png,
    fn: async () => {
      const response = await ready()(new Request("http://bench/predict", requestInit(7, png)));
      await response.arrayBuffer();
    },
  });
}

// ---- deno run: the server in its own process, under load ----

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Starts examples/serve.ts on an ephemeral port and resolves with its URL once it listens. */
async function startServer(pack: string, kernels: string): Promise<{ url: string; process: Deno.ChildProcess }> {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      `--allow-read=${pack}`,
      new URL("../examples/serve.ts", import.meta.url).pathname,
      "--pack",
      pack,
      "--port",
      "0",
      "--hostname",
      "127.0.0.1",
      "--kernels",
      kernels,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the server exited before listening: ${text}`);
    text += value;
    const match = text.match(/on (http:\/\/[^\s]+)\/predict/);
    if (match) {
      reader.releaseLock();
      return { url: match[1], process };
    }
  }
}

if (import.meta.main) {
  const requests = Number(flag("--requests", "1000"));
  const concurrency = Number(flag("--concurrency", "4"));
  const png = Deno.args.includes("--png");
  const json = Deno.args.includes("--json") ? flag("--json", "out/bench/serve.json") : undefined;
  const kernels = flag("--kernels", "auto");
  let pack = flag("--pack", DEFAULT_PACK);
  let trained = true;
  try {
    await Deno.stat(pack);
  } catch {
    trained = false;
    pack = `${await Deno.makeTempDir()}/untrained.pack`;
    torch.manualSeed(0);
    await torch.save(new DigitsNet().stateDict(), pack, { format: "pack" });
  }
  const { url, process } = await startServer(pack, kernels);
  try {
    const bodies = Array.from({ length: 64 }, (_, i) => requestInit(i, png));
    // Warm up: the first requests compile the kernels' paths.
    for (let i = 0; i < 20; i++) await (await fetch(`${url}/predict`, bodies[i % 64])).arrayBuffer();
    const latencies: number[] = [];
    let next = 0;
    let failures = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const t = performance.now();
        const response = await fetch(`${url}/predict`, bodies[i % 64]);
        await response.arrayBuffer();
        if (response.status !== 200) failures++;
        latencies.push(performance.now() - t);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const result = {
      bench: "serve",
      body: png ? "png 32x32" : "json",
      kernels,
      pack: trained ? pack : "untrained (temporary)",
      requests,
      concurrency,
      failures,
      seconds,
      requestsPerSecond: requests / seconds,
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1)!,
      loadavg: Deno.loadavg(),
    };
    console.log(
      `${requests} requests (${result.body}), concurrency ${concurrency}: ${
        result.requestsPerSecond.toFixed(0)
      } req/s, ` +
        `p50 ${result.p50Ms.toFixed(2)} ms, p90 ${result.p90Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ` +
        `max ${result.maxMs.toFixed(2)} ms, ${failures} failures (load ${Deno.loadavg()[0].toFixed(2)})`,
    );
    if (json !== undefined) {
      await Deno.mkdir(json.slice(0, Math.max(0, json.lastIndexOf("/"))) || ".", { recursive: true });
      await Deno.writeTextFile(json, JSON.stringify(result, null, 2) + "\n");
      console.log(`wrote ${json}`);
    }
  } finally {
    process.kill("SIGTERM");
    await process.status;
  }
}
