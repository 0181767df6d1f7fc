// The download cache against a local server on 127.0.0.1 (never the internet).

import assert from "node:assert/strict";
import "@flint/torch";
import { loadPth } from "@flint/models";
import { DownloadError, getDir, hashPrefixOf, loadStateDictFromUrl } from "@flint/models/hub";
import { progressReporter } from "./progress.ts";

const TINY = await Deno.readFile(new URL("../../tests/fixtures/weights/tiny.pth", import.meta.url));
const HASH = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", TINY)))
  .map((b) => b.toString(16).padStart(2, "0"))
  .join("");
const NAME = `tiny-${HASH.slice(0, 8)}.pth`;

type Handler = (req: Request) => Response | Promise<Response>;

/** Serves `handler` on a free port of 127.0.0.1 for the duration of `fn`, counting requests. */
async function withServer(handler: Handler, fn: (base: string, count: () => number) => Promise<void>): Promise<void> {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    requests++;
    return handler(req);
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, () => requests);
  } finally {
    await server.shutdown();
  }
}

function fileResponse(bytes: Uint8Array): Response {
  return new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { "content-length": String(bytes.length) } });
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("hashPrefixOf() takes torchvision's sha256 prefix from a file name, as torch.hub's regex", () => {
  assert.equal(hashPrefixOf("resnet18-f37072fd.pth"), "f37072fd");
  assert.equal(hashPrefixOf("mobilenet_v3_small-047dcff4.pth"), "047dcff4");
  assert.equal(hashPrefixOf("weights.pth"), null);
  assert.equal(hashPrefixOf("a-b-0123.tar.gz"), "0123");
  assert.equal(hashPrefixOf("model-.pth"), "");
});

Deno.test("loadStateDictFromUrl() downloads once into the cache, checks the hash, then loads from disk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withServer(() => fileResponse(TINY), async (base, count) => {
      const sd = await loadStateDictFromUrl(`${base}/models/${NAME}`, { modelDir: dir, progress: false });
      const want = await loadPth(TINY);
      assert.deepEqual(Object.keys(sd), Object.keys(want));
      assert.deepEqual(sd["conv1.weight"].dataSync(), want["conv1.weight"].dataSync());
      assert.deepEqual(await listDir(dir), [NAME]);
      await loadStateDictFromUrl(`${base}/models/${NAME}`, { modelDir: dir, progress: false });
      assert.equal(count(), 1);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a download whose sha256 does not match the name is refused and leaves no file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withServer(() => fileResponse(TINY), async (base) => {
      await assert.rejects(
        loadStateDictFromUrl(`${base}/tiny-deadbeef.pth`, { modelDir: dir, progress: false }),
        (e: unknown) =>
          e instanceof DownloadError && e.message.startsWith(`invalid hash value (expected "deadbeef", got "${HASH}")`),
      );
      assert.deepEqual(await listDir(dir), []);
      // checkHash: false takes the file as it is.
      const sd = await loadStateDictFromUrl(`${base}/tiny-deadbeef.pth`, {
        modelDir: dir,
        progress: false,
        checkHash: false,
      });
      assert.ok("fc.weight" in sd);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a server dropping the connection midway gives a DownloadError and no partial file remains", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A raw socket: promise the whole file, send part of it, hang up.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const served = (async () => {
      const conn = await listener.accept();
      await conn.read(new Uint8Array(4096));
      const head = `HTTP/1.1 200 OK\r\ncontent-length: ${TINY.length}\r\nconnection: close\r\n\r\n`;
      await conn.write(new TextEncoder().encode(head));
      await conn.write(TINY.subarray(0, 1500));
      await new Promise((r) => setTimeout(r, 20));
      conn.close();
    })();
    const base = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    try {
      await assert.rejects(
        loadStateDictFromUrl(`${base}/${NAME}`, { modelDir: dir, progress: false }),
        (e: unknown) =>
          e instanceof DownloadError &&
          /could not download .*: the connection (failed|closed) after \d+ (of \d+ )?bytes/.test(e.message) &&
          e.message.includes(`put the file at ${dir}/${NAME} or pass a local path`),
      );
      assert.deepEqual(await listDir(dir), []);
    } finally {
      await served;
      listener.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an HTTP 404 gives a DownloadError with the status and where to put the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withServer(() => new Response("no such model", { status: 404, statusText: "Not Found" }), async (base) => {
      await assert.rejects(
        loadStateDictFromUrl(`${base}/${NAME}`, { modelDir: dir, progress: false }),
        (e: unknown) =>
          e instanceof DownloadError && e.status === 404 &&
          e.message ===
            `could not download ${base}/${NAME}: HTTP 404 Not Found; put the file at ${dir}/${NAME} or pass a local path`,
      );
      assert.deepEqual(await listDir(dir), []);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreachable server gives a DownloadError naming the cause", async () => {
  const dir = await Deno.makeTempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // nothing listens there now
  try {
    await assert.rejects(
      loadStateDictFromUrl(`http://127.0.0.1:${port}/${NAME}`, { modelDir: dir, progress: false }),
      (e: unknown) =>
        e instanceof DownloadError && e.status === undefined && e.cause !== undefined &&
        new RegExp(`^could not download http://127\\.0\\.0\\.1:${port}/${NAME}: .+; put the file at`).test(e.message),
    );
    assert.deepEqual(await listDir(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a slow stream reports progress as the bytes arrive", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withServer(() => {
      let at = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((r) => setTimeout(r, 5));
          if (at >= TINY.length) return controller.close();
          controller.enqueue(TINY.slice(at, at + 512));
          at += 512;
        },
      });
      return new Response(body, { headers: { "content-length": String(TINY.length) } });
    }, async (base) => {
      const seen: [number, number | undefined][] = [];
      await loadStateDictFromUrl(`${base}/${NAME}`, {
        modelDir: dir,
        progress: false,
        onDownloadProgress: (n, total) => seen.push([n, total]),
      });
      assert.ok(seen.length >= Math.ceil(TINY.length / 512) - 1, `${seen.length} reports`);
      assert.ok(seen.every(([n, total], i) => total === TINY.length && (i === 0 || n > seen[i - 1][0])));
      assert.deepEqual(seen.at(-1), [TINY.length, TINY.length]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the cache lives in $FLINT_HOME/hub/checkpoints", async () => {
  const home = await Deno.makeTempDir();
  const before = Deno.env.get("FLINT_HOME");
  Deno.env.set("FLINT_HOME", home);
  try {
    assert.equal(getDir(), `${home}/hub`);
    await withServer(() => fileResponse(TINY), async (base) => {
      await loadStateDictFromUrl(`${base}/${NAME}`, { progress: false });
    });
    assert.deepEqual(await listDir(`${home}/hub/checkpoints`), [NAME]);
  } finally {
    if (before === undefined) Deno.env.delete("FLINT_HOME");
    else Deno.env.set("FLINT_HOME", before);
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("without a terminal, progress is a line per quarter on stderr", () => {
  const lines: string[] = [];
  const original = console.error;
  console.error = (line: string) => lines.push(line);
  try {
    const r = progressReporter(true, 4 * 1024 ** 2);
    for (let n = 0; n <= 4 * 1024 ** 2; n += 256 * 1024) r.update(n);
    r.finish();
  } finally {
    console.error = original;
  }
  assert.deepEqual(lines, [
    "downloaded 1.0 MiB of 4.0 MiB (25%)",
    "downloaded 2.0 MiB of 4.0 MiB (50%)",
    "downloaded 3.0 MiB of 4.0 MiB (75%)",
  ]);
});
