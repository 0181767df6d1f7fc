import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import {
  dequantize,
  encodePack,
  load,
  loadPack,
  loadPth,
  loadWithInfo,
  quantizeInt8,
  readPack,
  save,
  savePack,
  SCALE_SUFFIX,
} from "@flint/models";
import { expected, fixturePath } from "./_test_util.ts";

async function tinyStateDict(): Promise<Record<string, torch.Tensor>> {
  return await loadPth(fixturePath("tiny.pth"));
}

async function gunzipWeb(bytes: Uint8Array, format: "gzip" | "deflate"): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("quantizeInt8() gives torch.quantize_per_channel's int8 values and scales", async () => {
  const e = (await expected()).int8;
  const { q, scale } = quantizeInt8(new Float32Array(e.w), e.shape[0]);
  assert.deepEqual(Array.from(q), e.q);
  assert.deepEqual(Array.from(scale), e.scale.map(Math.fround));
  const t = dequantize({
    dtype: "int8",
    shape: e.shape,
    data: new Uint8Array(q.buffer),
    scale,
    restore: "float32",
  });
  assert.deepEqual(Array.from(t.dataSync()), e.dequantized.map(Math.fround));
});

Deno.test("an int8 pack stores weights as I8 with a per-channel scale and BN statistics as F32", async () => {
  const sd = await tinyStateDict();
  const pack = await readPack(await encodePack(sd));
  assert.equal(pack.metadata.format, "flint-pack");
  assert.equal(pack.metadata["flint.pack.version"], "1");
  assert.equal(pack.quantization, "int8");
  assert.equal(pack.tensors["conv1.weight"].dtype, "int8");
  assert.equal(pack.tensors["conv1.weight"].scale!.length, 4);
  assert.equal(pack.tensors["bn1.running_var"].dtype, "float32");
  assert.equal(pack.tensors["bn1.num_batches_tracked"].dtype, "int32");
  assert.ok(!Object.keys(pack.tensors).some((k) => k.endsWith(SCALE_SUFFIX)));
  assert.deepEqual(JSON.parse(pack.metadata["flint.pack.dtypes"])["bn1.num_batches_tracked"], "int32");
});

Deno.test("loadPack() of an int8 pack is within half a step of each weight and exact elsewhere", async () => {
  const sd = await tinyStateDict();
  const back = await loadPack(await encodePack(sd));
  assert.deepEqual(Object.keys(back), Object.keys(sd));
  for (const [key, t] of Object.entries(sd)) {
    assert.equal(back[key].dtype, t.dtype, key);
    const a = t.dataSync();
    const b = back[key].dataSync();
    if (t.ndim < 2) {
      assert.deepEqual(b, a, key);
      continue;
    }
    const rows = t.shape[0];
    const cols = a.length / rows;
    for (let r = 0; r < rows; r++) {
      let max = 0;
      for (let i = r * cols; i < (r + 1) * cols; i++) max = Math.max(max, Math.abs(a[i]));
      const step = max / 127;
      for (let i = r * cols; i < (r + 1) * cols; i++) {
        assert.ok(Math.abs(a[i] - b[i]) <= step / 2 + 1e-7, `${key}[${i}]: ${a[i]} vs ${b[i]}`);
      }
    }
  }
});

Deno.test("a float16 pack matches the float16 state dict PyTorch wrote", async () => {
  const sd = await tinyStateDict();
  const fromPack = await loadPack(await encodePack(sd, { quantization: "float16" }));
  const half = await loadPth(fixturePath("half.pth")); // tiny.half() saved by torch
  for (const key of Object.keys(half)) {
    if (sd[key].isFloatingPoint()) assert.deepEqual(fromPack[key].dataSync(), half[key].dataSync(), key);
  }
});

Deno.test("packs are valid gzip and zlib streams: the web DecompressionStream reads them", async () => {
  const sd = await tinyStateDict();
  for (const compression of ["gzip", "deflate"] as const) {
    const packed = await encodePack(sd, { compression });
    const plain = await gunzipWeb(packed, compression);
    const raw = await encodePack(sd, { compression: "none" });
    assert.deepEqual(plain, raw, compression);
    assert.ok(packed.length < raw.length, compression);
  }
});

Deno.test("load() recognises gzip, deflate and uncompressed packs and dequantizes them", async () => {
  // Rows whose max is 127 steps of a power of two quantize exactly.
  const sd = { "fc.weight": torch.tensor([[1.984375, -1], [127, 3]]), "fc.bias": torch.tensor([0.1, 0.2]) };
  for (const compression of ["gzip", "deflate", "none"] as const) {
    const info = await loadWithInfo(await encodePack(sd, { compression }));
    assert.equal(info.format, "pack", compression);
    assert.deepEqual(info.dtypes, { "fc.weight": "int8", "fc.bias": "float32" });
    assert.deepEqual(info.stateDict["fc.weight"].tolistSync(), [[1.984375, -1], [127, 3]]);
    assert.deepEqual(info.stateDict["fc.bias"].dataSync(), new Float32Array([0.1, 0.2]));
  }
});

Deno.test("readPack() decodes a ReadableStream fed in small chunks, reporting progress", async () => {
  const bytes = await encodePack(await tinyStateDict());
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 97) chunks.push(bytes.slice(at, at + 97));
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      await new Promise((r) => setTimeout(r, 0));
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
  const seen: [number, number | undefined][] = [];
  const sd = await loadPack(stream, { onProgress: (n, total) => seen.push([n, total]) });
  assert.equal(seen.length, Math.ceil(bytes.length / 97));
  assert.deepEqual(seen.at(-1), [bytes.length, undefined]);
  assert.ok(seen.every(([n], i) => i === 0 || n > seen[i - 1][0]));
  assert.deepEqual(Object.keys(sd), Object.keys(await tinyStateDict()));
});

Deno.test("loadPack() reads a file as a stream and reports its total size", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pack" });
  try {
    await savePack(await tinyStateDict(), path, { quantization: "float16", level: 9 });
    const size = (await Deno.stat(path)).size;
    let last: [number, number | undefined] = [0, 0];
    const sd = await loadPack(path, { onProgress: (n, total) => (last = [n, total]) });
    assert.deepEqual(last, [size, size]);
    assert.equal(sd["conv1.weight"].shape.length, 4);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("save() writes a pack for a .pack path and load() reads it back", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pack" });
  try {
    await save({ w: torch.ones(3, 2) }, path);
    const bytes = await Deno.readFile(path);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b]);
    assert.deepEqual((await load(path)).w.tolistSync(), [[1, 1], [1, 1], [1, 1]]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("dequantize() restores float64 weights as float64", async () => {
  const sd = { w: torch.tensor([[127 / 128, -0.5]], { dtype: "float64" }) };
  const back = await loadPack(await encodePack(sd));
  assert.equal(back.w.dtype, "float64");
  assert.deepEqual(back.w.tolistSync(), [[127 / 128, -0.5]]);
});

Deno.test("encodePack() refuses keys that end in the scale suffix and non-finite int8 weights", async () => {
  await assert.rejects(encodePack({ ["w" + SCALE_SUFFIX]: torch.ones(1) }), /reserved for int8 scales/);
  await assert.rejects(encodePack({ w: torch.tensor([[1, Infinity]]) }), /non-finite/);
});
