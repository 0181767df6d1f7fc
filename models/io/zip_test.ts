import assert from "node:assert/strict";
import "@flint/torch";
import { encodePth, loadPth, WeightsFormatError } from "@flint/models";
import { writeZip, ZipReader } from "./zip.ts";
import { crc32 } from "./crc32.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { memorySource } from "./source.ts";
import { expected, fixture } from "./_test_util.ts";
import { FLINT_DTYPES, flintStateDict } from "./testdata/write_flint_files.ts";

function concat(pieces: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const noBudget = { take() {}, remaining: Infinity };

Deno.test("crc32() gives the standard check value and chains across pieces", () => {
  const bytes = new TextEncoder().encode("123456789");
  assert.equal(crc32(bytes), 0xcbf43926);
  assert.equal(crc32(bytes.subarray(5), crc32(bytes.subarray(0, 5))), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

Deno.test("writeZip() aligns every entry's data to 64 bytes with PyTorch's FB extra field", async () => {
  const bytes = concat(writeZip([
    { name: "a/data.pkl", data: new Uint8Array([1, 2, 3]) },
    { name: "a/data/0", data: [new Uint8Array([4]), new Uint8Array([5, 6])] },
    { name: "a/x", data: new Uint8Array(0) },
  ]));
  const zip = await ZipReader.open(memorySource(bytes), DEFAULT_LIMITS);
  for (const e of zip.entries) {
    const view = new DataView(bytes.buffer, e.localHeaderOffset);
    const nameLength = view.getUint16(26, true);
    const extra = view.getUint16(28, true);
    assert.equal((e.localHeaderOffset + 30 + nameLength + extra) % 64, 0, e.name);
    assert.equal(view.getUint16(30 + nameLength, true), 0x4246, e.name); // "FB"
  }
  assert.deepEqual(await zip.read(zip.get("a/data/0")!, noBudget), new Uint8Array([4, 5, 6]));
});

Deno.test("forced zip64 records are read back, and PyTorch loaded the same file", async () => {
  const rec = (await expected()).flint_written;
  assert.equal(rec.zip64_weights_only, "loaded");
  assert.equal(rec.zip64_same, true);
  const bytes = await encodePth(flintStateDict(), { dtypes: FLINT_DTYPES, zip64: true });
  assert.deepEqual(bytes, await fixture("flint_written_zip64.pth"));
  const zip = await ZipReader.open(memorySource(bytes), DEFAULT_LIMITS);
  assert.equal(zip.entries.length, 15);
  const plain = await loadPth(await fixture("flint_written.pth"));
  const big = await loadPth(bytes);
  for (const key of Object.keys(plain)) assert.deepEqual(big[key].dataSync(), plain[key].dataSync(), key);
});

Deno.test("the central directory's sizes win over zeros in local headers (data descriptors)", async () => {
  const zip = await ZipReader.open(memorySource(await fixture("tiny_release.pth")), DEFAULT_LIMITS);
  for (const e of zip.entries) {
    assert.equal(e.flags & 8, 8);
    const local = new DataView((await fixture("tiny_release.pth")).buffer, e.localHeaderOffset);
    assert.equal(local.getUint32(18, true), 0, e.name); // compressed size in the local header
    assert.equal((await zip.read(e, noBudget)).length, e.size);
  }
});

Deno.test("ZipReader.read() refuses an entry whose CRC-32 does not match, naming it", async () => {
  const bytes = concat(writeZip([{ name: "a/data.pkl", data: new Uint8Array([1, 2, 3, 4]) }]));
  bytes[64] ^= 0xff; // the first data byte
  const zip = await ZipReader.open(memorySource(bytes), DEFAULT_LIMITS);
  await assert.rejects(
    zip.read(zip.entries[0], noBudget),
    (e: unknown) => e instanceof WeightsFormatError && e.kind === "checksum" && e.entry === "a/data.pkl",
  );
});

Deno.test("ZipReader.read() takes an entry's size from the budget before reading it", async () => {
  const bytes = concat(writeZip([{ name: "a/b", data: new Uint8Array(100) }]));
  const zip = await ZipReader.open(memorySource(bytes), DEFAULT_LIMITS);
  const taken: number[] = [];
  await zip.read(zip.entries[0], { take: (n: number) => taken.push(n), remaining: Infinity });
  assert.deepEqual(taken, [100]);
  await assert.rejects(
    zip.read(zip.entries[0], {
      take: () => {
        throw new WeightsFormatError("limit", "no");
      },
      remaining: 0,
    }),
    /no/,
  );
});
