import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import {
  encodeSafetensors,
  load,
  loadSafetensors,
  loadWithInfo,
  save,
  saveSafetensors,
  WeightsFormatError,
} from "@flint/models";
import { assertMatches, expected, fixture, fixturePath } from "./_test_util.ts";
import { FLINT_DTYPES, flintStateDict } from "./testdata/write_flint_files.ts";

for (const name of ["dtypes.safetensors", "tiny.safetensors"]) {
  Deno.test(`loadSafetensors() reads ${name} (written from torch tensors) with torch's values`, async () => {
    const want = (await expected()).files[name];
    const { stateDict, dtypes, metadata } = await loadWithInfo(fixturePath(name));
    assert.deepEqual(Object.keys(stateDict), Object.keys(want.tensors));
    for (const [key, e] of Object.entries(want.tensors)) {
      assertMatches(stateDict[key], e, key);
      assert.equal(dtypes[key], e.dtype);
    }
    assert.deepEqual(metadata, want.metadata);
  });
}

Deno.test("the safetensors Flint writes are byte-identical to the fixture whose values PyTorch read", async () => {
  const rec = (await expected()).flint_written.safetensors;
  const bytes = await encodeSafetensors(flintStateDict(), {
    dtypes: FLINT_DTYPES,
    metadata: { format: "pt", written_by: "flint" },
  });
  assert.deepEqual(bytes, await fixture("flint_written.safetensors"));
  assert.deepEqual(rec.metadata, { format: "pt", written_by: "flint" });
  const back = await loadSafetensors(bytes);
  for (const [key, e] of Object.entries(rec.tensors)) assertMatches(back[key], e, key);
  assert.equal(rec.tensors.count.dtype, "int64");
  assert.equal(rec.tensors.half.dtype, "float16");
});

Deno.test("the safetensors header is padded with spaces to 8 bytes and its offsets tile the data", async () => {
  const bytes = await encodeSafetensors({ a: torch.ones(3), b: torch.tensor([true]) });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header, {
    a: { dtype: "F32", shape: [3], data_offsets: [0, 12] },
    b: { dtype: "BOOL", shape: [1], data_offsets: [12, 13] },
  });
  assert.equal(bytes.length, 8 + n + 13);
});

Deno.test("saveSafetensors() then load() round-trips every Flint dtype, with the default int64 for int32", async () => {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    const sd = flintStateDict();
    await saveSafetensors(sd, path, { metadata: { epoch: "3" } });
    const { stateDict, dtypes, metadata, format } = await loadWithInfo(path);
    assert.equal(format, "safetensors");
    assert.deepEqual(metadata, { epoch: "3" });
    assert.equal(dtypes.count, "int64");
    for (const key of Object.keys(sd)) assert.deepEqual(stateDict[key].tolistSync(), sd[key].tolistSync(), key);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("save() picks safetensors from the extension and load() tells it from a .pth by its bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await save({ w: torch.eye(2) }, `${dir}/w.safetensors`);
    await save({ w: torch.eye(2) }, `${dir}/w.bin`);
    const st = await Deno.readFile(`${dir}/w.safetensors`);
    const pth = await Deno.readFile(`${dir}/w.bin`);
    assert.equal(st[8], 0x7b);
    assert.deepEqual([...pth.subarray(0, 2)], [0x50, 0x4b]);
    assert.equal((await loadWithInfo(`${dir}/w.bin`)).format, "pth");
    assert.deepEqual((await load(`${dir}/w.safetensors`)).w.tolistSync(), [[1, 0], [0, 1]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("encodeSafetensors() refuses a value that is not a tensor, naming the key", async () => {
  await assert.rejects(
    encodeSafetensors({ w: [1, 2] as unknown as torch.Tensor }),
    (e: unknown) => e instanceof WeightsFormatError && e.kind === "invalid" && e.key === "w",
  );
});

Deno.test("encodeSafetensors() refuses an int32 value that does not fit the int8 it is asked for", async () => {
  await assert.rejects(
    encodeSafetensors({ n: torch.tensor([300], { dtype: "int32" }) }, { dtypes: { n: "int8" } }),
    /value 300 at element 0 does not fit in int8/,
  );
});
