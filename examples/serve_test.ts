// The digits server (examples/serve.ts) on 127.0.0.1 with an ephemeral port:
// good and bad requests, the classes it predicts for real test digits, and the
// command line under the permissions an edge isolate gives (network, and read
// access to the pack only).

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { encode } from "fast-png";
import { type Digits, loadDigits, PIXELS, splitDigits, toInputs } from "./digits/data.ts";
import { fit } from "./digits/fit.ts";
import { DigitsNet } from "./digits/model.ts";
import { pixelsToPng, pngToPixels } from "./digits/png.ts";
import { createHandler, HttpError, MAX_BODY_BYTES, Predictor, readBody } from "./serve.ts";

const SERVE = new URL("./serve.ts", import.meta.url).pathname;

/** A model trained briefly (6 epochs, ~5 s) and packed: what the demo writes, sooner. */
async function trainedPack(digits: Digits): Promise<string> {
  const split = splitDigits(digits, { seed: 0 });
  torch.manualSeed(0);
  const model = new DigitsNet();
  await fit(model, split, { epochs: 6, seed: 0 });
  const path = `${await Deno.makeTempDir()}/model.pack`;
  await torch.save(model.stateDict(), path, { format: "pack", quantization: "int8" });
  return path;
}

function pixelsOf(digits: Digits, i: number): number[] {
  return Array.from(digits.images.subarray(i * PIXELS, (i + 1) * PIXELS));
}

function post(url: string, type: string | null, body: BodyInit): Promise<Response> {
  const headers: Record<string, string> = type === null ? {} : { "content-type": type };
  return fetch(`${url}/predict`, { method: "POST", headers, body });
}

async function expectError(response: Response, status: number, message: RegExp): Promise<void> {
  const body = await response.json();
  assert.equal(response.status, status, JSON.stringify(body));
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.match(body.error, message);
}

Deno.test("the server answers good requests with probabilities and refuses bad ones with a reason", async (t) => {
  const digits = await loadDigits();
  const pack = await trainedPack(digits);
  const predictor = await Predictor.load(pack);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, createHandler(predictor));
  const url = `http://127.0.0.1:${server.addr.port}`;
  // Ten real test digits, and the pack's own classes for them, computed without the server.
  const tests = splitDigits(digits, { seed: 0 }).testIndices.slice(0, 10);
  const reference = new DigitsNet();
  reference.loadStateDict(await torch.load(pack));
  const direct = torch.noGrad(() =>
    reference.eval()(toInputs(tests.flatMap((i) => pixelsOf(digits, i)))).argmax(1).dataSync()
  );
  try {
    await t.step("JSON pixels of real test digits get their digit", async () => {
      for (const [k, i] of tests.entries()) {
        const response = await post(url, "application/json", JSON.stringify({ pixels: pixelsOf(digits, i) }));
        assert.equal(response.status, 200);
        const body = await response.json();
        assert.deepEqual(Object.keys(body), ["probabilities", "prediction"]);
        assert.equal(body.probabilities.length, 10);
        assert.ok(Math.abs(body.probabilities.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-5);
        assert.equal(body.prediction, body.probabilities.indexOf(Math.max(...body.probabilities)));
        assert.equal(body.prediction, direct[k], `test digit ${i}: the server and the model agree`);
        assert.equal(body.prediction, digits.labels[i], `test digit ${i} is a ${digits.labels[i]}`);
      }
    });

    await t.step("8 rows of 8 answer as 64 numbers do", async () => {
      const flat = pixelsOf(digits, tests[0]);
      const rows = Array.from({ length: 8 }, (_, r) => flat.slice(8 * r, 8 * r + 8));
      const a = await (await post(url, "application/json", JSON.stringify({ pixels: flat }))).json();
      const b = await (await post(url, "application/json; charset=utf-8", JSON.stringify({ pixels: rows }))).json();
      assert.deepEqual(b, a);
    });

    await t.step("PNGs of real test digits get their digit, dark on light or light on dark", async () => {
      for (const i of tests.slice(0, 5)) {
        const pixels = pixelsOf(digits, i);
        // Gray, 32×32, black ink on white paper: inverted by the server.
        const onPaper = await post(url, "image/png", pixelsToPng(pixels));
        assert.equal(onPaper.status, 200);
        assert.equal((await onPaper.json()).prediction, digits.labels[i]);
        // RGB, 24×24, white ink on black, as UCI stores it: not inverted.
        const data = new Uint8Array(24 * 24 * 3);
        for (let p = 0; p < 24 * 24; p++) {
          data.fill(
            Math.round((pixels[Math.floor(p / 24 / 3) * 8 + Math.floor((p % 24) / 3)] * 255) / 16),
            3 * p,
            3 * p + 3,
          );
        }
        const png = new Uint8Array(encode({ width: 24, height: 24, data, channels: 3, depth: 8 }));
        const onScreen = await post(url, "image/png", png);
        assert.equal(onScreen.status, 200);
        assert.equal((await onScreen.json()).prediction, digits.labels[i]);
      }
    });

    await t.step("a wrong number of pixels is a 400 that says how many", async () => {
      await expectError(
        await post(url, "application/json", JSON.stringify({ pixels: pixelsOf(digits, 0).slice(1) })),
        400,
        /"pixels" has 63 values, expected 64 \(8x8\)/,
      );
      const rows = Array.from({ length: 8 }, (_, r) => Array(r === 5 ? 7 : 8).fill(0));
      await expectError(
        await post(url, "application/json", JSON.stringify({ pixels: rows })),
        400,
        /"pixels" row 5 has 7 values, expected 8/,
      );
    });

    await t.step("non-numbers, out-of-range values and a missing key are 400s naming them", async () => {
      const withValue = (v: unknown) => {
        const pixels: unknown[] = Array(64).fill(0);
        pixels[3] = v;
        return JSON.stringify({ pixels });
      };
      await expectError(
        await post(url, "application/json", withValue("a")),
        400,
        /"pixels"\[3\] is "a", expected a number/,
      );
      await expectError(await post(url, "application/json", withValue(null)), 400, /"pixels"\[3\] is null/);
      await expectError(
        await post(url, "application/json", withValue(17)),
        400,
        /"pixels"\[3\] = 17 is outside 0\.\.16/,
      );
      await expectError(await post(url, "application/json", withValue(-1)), 400, /"pixels"\[3\] = -1 is outside/);
      await expectError(await post(url, "application/json", '{"image": []}'), 400, /expected a JSON object \{"pixels"/);
      await expectError(
        await post(url, "application/json", '{"pixels": "abc"}'),
        400,
        /must be an array of 64 numbers/,
      );
    });

    await t.step("garbage is a 400: not JSON, not a PNG, a broken PNG", async () => {
      await expectError(await post(url, "application/json", "{pixels: oops"), 400, /the body is not valid JSON/);
      await expectError(await post(url, "application/json", new Uint8Array([0xff, 0xfe, 0x00])), 400, /not valid JSON/);
      await expectError(await post(url, "image/png", "garbage"), 400, /^not a PNG: expected the signature 89 50 4e 47/);
      const png = pixelsToPng(pixelsOf(digits, 0));
      await expectError(await post(url, "image/png", png.slice(0, 60)), 400, /^bad PNG: /);
      const huge = png.slice();
      new DataView(huge.buffer).setUint32(16, 50_000); // IHDR width
      await expectError(await post(url, "image/png", huge), 400, /PNG of 50000x32 pixels exceeds the limit/);
    });

    await t.step("a wrong or missing content type is a 415", async () => {
      await expectError(
        await post(url, "text/plain", "1,2,3"),
        415,
        /Content-Type must be application\/json or image\/png, got "text\/plain"/,
      );
      await expectError(await post(url, null, new Uint8Array(4)), 415, /got none/);
    });

    await t.step("a body over the limit is a 413, declared or streamed", async () => {
      const big = new Uint8Array(MAX_BODY_BYTES + 1);
      await expectError(
        await post(url, "image/png", big),
        413,
        /the body is 262145 bytes, more than the limit of 262144/,
      );
      // No Content-Length: the server counts while it reads.
      let chunks = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          chunks++;
          if (chunks > 64) controller.close();
          else controller.enqueue(new Uint8Array(16 * 1024));
        },
      });
      await expectError(await post(url, "image/png", stream), 413, /more than the limit of 262144 bytes/);
    });

    await t.step("another method is a 405 with Allow, another path a 404", async () => {
      const get = await fetch(`${url}/predict`);
      assert.equal(get.headers.get("allow"), "POST");
      await expectError(get, 405, /GET \/predict is not allowed: use POST/);
      await expectError(await fetch(`${url}/predict`, { method: "PUT", body: "x" }), 405, /PUT \/predict/);
      await expectError(await fetch(`${url}/nope`, { method: "POST", body: "x" }), 404, /no route for POST \/nope/);
      const root = await fetch(`${url}/`);
      assert.equal(root.status, 200);
      assert.match((await root.json()).predict, /POST \/predict/);
    });
  } finally {
    await server.shutdown();
    await Deno.remove(pack.slice(0, pack.lastIndexOf("/")), { recursive: true });
  }
});

Deno.test("readBody() stops reading as soon as the body passes the limit", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(1000));
    },
  });
  const request = new Request("http://x/predict", { method: "POST", body: endless });
  await assert.rejects(readBody(request, 10_000), (e) => e instanceof HttpError && e.status === 413);
  assert.ok(pulled <= 13, `read ${pulled} chunks of 1000 bytes for a limit of 10000`);
  const declared = new Request("http://x/predict", {
    method: "POST",
    body: "x",
    headers: { "content-length": "999999" },
  });
  await assert.rejects(readBody(declared, 10_000), /the body is 999999 bytes, more than the limit of 10000/);
});

Deno.test("pngToPixels() reads 1-bit, palette, 16-bit and transparent PNGs as the same digit", () => {
  // A vertical bar in columns 2..3 of 8, at 16×16: ink 16 there, 0 elsewhere.
  const inked = (x: number) => x >= 4 && x < 8;
  const want = Array.from({ length: 64 }, (_, i) => (i % 8 === 2 || i % 8 === 3 ? 16 : 0));
  const check = (png: Uint8Array, what: string) => {
    const got = Array.from(pngToPixels(png), (v) => Math.round(v * 1000) / 1000);
    assert.deepEqual(got, want, what);
  };
  const gray8 = Uint8Array.from({ length: 256 }, (_, p) => (inked(p % 16) ? 0 : 255));
  check(encode({ width: 16, height: 16, data: gray8, channels: 1, depth: 8 }), "8-bit gray, dark on light");
  const gray16 = Uint16Array.from({ length: 256 }, (_, p) => (inked(p % 16) ? 65535 : 0));
  check(encode({ width: 16, height: 16, data: gray16, channels: 1, depth: 16 }), "16-bit gray, light on dark");
  // 1 bit per pixel, 2 bytes per row, the first pixel in the high bit: white (1) with columns 4..7 black (0).
  const bits = new Uint8Array(16 * 2);
  for (let y = 0; y < 16; y++) bits.set([0b11110000, 0b11111111], 2 * y);
  check(encode({ width: 16, height: 16, data: bits, channels: 1, depth: 1 }), "1-bit");
  // Black ink on a transparent background: composited over white, then inverted.
  const rgba = new Uint8Array(256 * 4);
  for (let p = 0; p < 256; p++) rgba.set(inked(p % 16) ? [0, 0, 0, 255] : [0, 0, 0, 0], 4 * p);
  check(encode({ width: 16, height: 16, data: rgba, channels: 4, depth: 8 }), "RGBA, transparent background");
  const palette = encode({
    width: 16,
    height: 16,
    data: Uint8Array.from({ length: 256 }, (_, p) => (inked(p % 16) ? 1 : 0)),
    channels: 1,
    depth: 8,
    palette: [[250, 250, 250], [10, 10, 10]],
  });
  const got = pngToPixels(palette);
  assert.ok(got[2] > 15 && got[0] < 0.5, `palette: ${got[2]}, ${got[0]}`);
});

Deno.test("pngToPixels() averages areas of sizes that do not divide by 8", () => {
  // 12 columns to 8: each output column covers 1.5 source columns. The left 3 columns inked fill output columns
  // 0 and 1 exactly.
  const data = Uint8Array.from({ length: 144 }, (_, p) => (p % 12 < 3 ? 255 : 0));
  const pixels = pngToPixels(encode({ width: 12, height: 12, data, channels: 1, depth: 8 }));
  const row = Array.from(pixels.subarray(0, 8), (v) => Math.round(v * 1000) / 1000);
  assert.deepEqual(row, [16, 16, 0, 0, 0, 0, 0, 0]);
  const data2 = Uint8Array.from({ length: 144 }, (_, p) => (p % 12 < 2 ? 255 : 0));
  const row2 = Array.from(
    pngToPixels(encode({ width: 12, height: 12, data: data2, channels: 1, depth: 8 })).subarray(0, 8),
  );
  // column 1 covers source columns 1.5..3: half of column 1 is ink (0.5 of 1.5) → 16 / 3
  assert.deepEqual(row2.map((v) => Math.round(v * 1000) / 1000), [16, 5.333, 0, 0, 0, 0, 0, 0]);
});

Deno.test("the server runs with --allow-net and read access to the pack only, on one thread", async () => {
  const digits = await loadDigits();
  const dir = await Deno.makeTempDir();
  const pack = `${dir}/model.pack`;
  torch.manualSeed(0);
  await torch.save(new DigitsNet().stateDict(), pack, { format: "pack" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      `--allow-read=${pack}`,
      SERVE,
      "--pack",
      pack,
      "--port",
      "0",
      "--hostname",
      "127.0.0.1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let match: RegExpMatchArray | null = null;
    while (match === null) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the server exited: ${text}`);
      text += value;
      match = text.match(/serving .*model\.pack on (http:\/\/127\.0\.0\.1:\d+)\/predict/);
    }
    reader.releaseLock();
    const url = match[1];
    for (let i = 0; i < 20; i++) {
      const response = await post(url, "application/json", JSON.stringify({ pixels: pixelsOf(digits, i) }));
      assert.equal(response.status, 200);
      assert.equal((await response.json()).probabilities.length, 10);
    }
    const png = await post(url, "image/png", pixelsToPng(pixelsOf(digits, 0)));
    assert.equal(png.status, 200);
    await png.body?.cancel();
    const root = await (await fetch(`${url}/`)).json();
    assert.deepEqual(root.backend, { device: "cpu", threads: 1 });
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});
