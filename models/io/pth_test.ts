import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import {
  encodePth,
  load,
  loadPth,
  loadPthObject,
  loadWithInfo,
  PickleDict,
  savePth,
  StorageRef,
  TensorRef,
  unpickle,
  UnpicklingError,
  WeightsFormatError,
} from "@flint/models";
import { writeZip, ZipReader } from "./zip.ts";
import { assertMatches, expected, fixture, fixturePath } from "./_test_util.ts";
import { FLINT_DTYPES, flintStateDict } from "./testdata/write_flint_files.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { memorySource } from "./source.ts";

const TORCH_FILES = [
  "dtypes.pth",
  "views.pth",
  "params.pth",
  "half.pth",
  "tiny.pth",
  "tiny_release.pth",
  "tiny_deflate_zip64.pth",
  "protocol4.pth",
];

for (const name of TORCH_FILES) {
  Deno.test(`loadPth() reads ${name} with the values, keys and order torch.load gives`, async () => {
    const want = (await expected()).files[name];
    const { stateDict, dtypes } = await loadWithInfo(fixturePath(name));
    assert.deepEqual(Object.keys(stateDict), Object.keys(want.tensors));
    for (const [key, e] of Object.entries(want.tensors)) {
      assertMatches(stateDict[key], e, key);
      assert.equal(dtypes[key], e.dtype, `${key}: original dtype`);
      assert.equal(stateDict[key].requiresGrad, e.requires_grad, `${key}: requires_grad`);
      assert.equal(stateDict[key] instanceof torch.Parameter, e.parameter, `${key}: Parameter`);
    }
  });
}

Deno.test("loadPth() keeps PyTorch's storage offsets and strides for views that share a storage", async () => {
  const want = (await expected()).files["views.pth"];
  const sd = await loadPth(fixturePath("views.pth"));
  // Every view but the overlapping unfold is rebuilt as a view with torch's geometry.
  for (const key of ["base", "row", "col", "slice", "t", "step", "flat_offset", "corner", "expanded", "permuted"]) {
    assert.deepEqual([...sd[key].stride()], want.tensors[key].stride, `${key}: stride`);
    assert.equal(sd[key].storageOffset(), want.tensors[key].storage_offset, `${key}: offset`);
  }
  assert.deepEqual(want.shared, [["base", "row", "col", "slice", "t", "step", "flat_offset", "corner"], [
    "expanded",
    "other",
  ]]);
  // A write through one is seen by the others, as in PyTorch.
  torch.noGrad(() => sd.base.index(1, 2).fill_(100));
  assert.equal(sd.row.index(2).itemSync(), 100);
  assert.equal(sd.col.index(1).itemSync(), 100);
  assert.equal(sd.t.index(2, 1).itemSync(), 100);
  assert.equal(sd.slice.index(0, 1).itemSync(), 100);
  torch.noGrad(() => sd.other.index(1).fill_(-1));
  assert.deepEqual(sd.expanded.tolistSync(), [[0, -1, 2], [0, -1, 2], [0, -1, 2], [0, -1, 2]]);
});

Deno.test("loadWithInfo() reports float16, bfloat16, int64 and small ints before conversion", async () => {
  const { stateDict, dtypes } = await loadWithInfo(fixturePath("dtypes.pth"));
  assert.deepEqual(dtypes, {
    f32: "float32",
    f64: "float64",
    f16: "float16",
    bf16: "bfloat16",
    i64: "int64",
    i32: "int32",
    i16: "int16",
    i8: "int8",
    u8: "uint8",
    b: "bool",
    scalar: "float32",
    empty: "float32",
  });
  assert.deepEqual(
    Object.values(stateDict).map((t) => t.dtype),
    [
      "float32",
      "float64",
      "float32",
      "float32",
      "int32",
      "int32",
      "int32",
      "int32",
      "int32",
      "bool",
      "float32",
      "float32",
    ],
  );
});

Deno.test("a tiny conv/bn/linear state dict loads the same from torch.save, release layout, zip64+deflate and safetensors", async () => {
  const a = await loadPth(fixturePath("tiny.pth"));
  const b = await loadPth(fixturePath("tiny_release.pth"));
  const c = await loadPth(fixturePath("tiny_deflate_zip64.pth"));
  const d = await load(fixturePath("tiny.safetensors"));
  for (const [key, t] of Object.entries(b)) {
    for (const other of [a, c, d]) assert.deepEqual(other[key].tolistSync(), t.tolistSync(), key);
  }
  assert.equal(Object.keys(a).length, Object.keys(b).length + 1); // the release layout drops num_batches_tracked
  assert.equal(a["bn1.num_batches_tracked"].itemSync(), 1234);
  assert.ok(b["conv1.weight"] instanceof torch.Parameter && !(b["bn1.running_mean"] instanceof torch.Parameter));
});

Deno.test("tiny_release.pth has the release file's layout: stored entries with data descriptors", async () => {
  const layout = (await expected()).release_layout;
  assert.ok(layout.every((e) => e.flag_bits === 0x0808 && e.compress_type === 0));
  const zip = await ZipReader.open(memorySource(await fixture("tiny_release.pth")), DEFAULT_LIMITS);
  assert.deepEqual(zip.entries.map((e) => e.name), layout.map((e) => e.name));
  const keys = zip.entries.filter((e) => e.name.includes("/data/")).map((e) => e.name.split("/").pop()!);
  assert.deepEqual(keys, [...keys].sort());
  assert.ok(keys.every((k) => /^\d{15}$/.test(k)));
});

Deno.test("the files Flint writes are what PyTorch loaded with weights_only=True", async () => {
  const rec = (await expected()).flint_written;
  assert.equal(rec.pth_weights_only, "loaded");
  // The writer is deterministic: today's bytes are the bytes PyTorch read.
  const bytes = await encodePth(flintStateDict(), { dtypes: FLINT_DTYPES });
  assert.deepEqual(bytes, await fixture("flint_written.pth"));
  assert.deepEqual(rec.pth.shared, [["fc.weight", "fc.tied"]]);
  const sd = flintStateDict();
  for (const [key, e] of Object.entries(rec.pth.tensors)) {
    const ours = sd[key];
    assert.deepEqual([...ours.shape], e.shape, key);
    assert.equal(e.parameter, ours instanceof torch.Parameter, `${key}: Parameter`);
    assert.equal(e.requires_grad, ours.requiresGrad, `${key}: requires_grad`);
  }
  assert.equal(rec.pth.tensors.count.dtype, "int64");
  assert.equal(rec.pth.tensors.i32.dtype, "int32");
  assert.deepEqual(rec.pth.tensors.half.values, [0.0999755859375, -2.5, "inf", 1.0132789611816406e-6]);
  assert.deepEqual(rec.pth.tensors.bhalf.values.slice(0, 2), [0.10009765625, -2.5]);
  // And reading it back gives what PyTorch saw.
  const back = await loadPth(bytes);
  for (const [key, e] of Object.entries(rec.pth.tensors)) assertMatches(back[key], e, key);
});

Deno.test("savePth() then loadPth() round-trips values, dtypes, Parameters and tied tensors", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pth" });
  try {
    const sd = flintStateDict();
    await savePth(sd, path);
    const { stateDict: back, dtypes } = await loadWithInfo(path);
    assert.deepEqual(Object.keys(back), Object.keys(sd));
    for (const key of Object.keys(sd)) {
      assert.deepEqual(back[key].tolistSync(), sd[key].tolistSync(), key);
      assert.equal(back[key].dtype, sd[key].dtype, key);
    }
    assert.equal(dtypes.count, "int64");
    assert.ok(back["conv.weight"] instanceof torch.Parameter && back["conv.weight"].requiresGrad);
    assert.ok(back.frozen instanceof torch.Parameter && !back.frozen.requiresGrad);
    torch.noGrad(() => back["fc.weight"].index(0, 0).fill_(42));
    assert.equal(back["fc.tied"].index(0, 0).itemSync(), 42);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("savePth() with the loaded dtypes writes float16 back as float16", async () => {
  const { stateDict, dtypes } = await loadWithInfo(fixturePath("half.pth"));
  const again = await loadWithInfo(await encodePth(stateDict, { dtypes }));
  assert.deepEqual(again.dtypes, dtypes);
  for (const key of Object.keys(stateDict)) {
    assert.deepEqual(again.stateDict[key].tolistSync(), stateDict[key].tolistSync());
  }
});

Deno.test("loadPth() refuses a TorchScript archive, saying how to convert it", async () => {
  await assert.rejects(
    loadPth(fixturePath("torchscript.pt")),
    (e: unknown) =>
      e instanceof WeightsFormatError && e.kind === "unsupported" &&
      /TorchScript archive.*torch\.save\(m\.state_dict\(\)/.test(e.message),
  );
});

Deno.test("loadPth() refuses the legacy pickle format, naming its magic number and the conversion", async () => {
  await assert.rejects(
    load(fixturePath("legacy.pth")),
    (e: unknown) =>
      e instanceof WeightsFormatError && e.kind === "unsupported" && /0x1950a86a20f9469cfc6c/.test(e.message) &&
      /torch\.save\(model\.state_dict\(\), path\)/.test(e.message),
  );
});

for (
  const [name, global] of [
    ["os_system", "os.system"],
    ["posix_system", "posix.system"],
    ["builtins_eval", "builtins.eval"],
    ["subprocess_check_output", "subprocess.check_output"],
    ["torch_load", "torch.load"],
  ]
) {
  Deno.test(`a .pth whose pickle names ${global} is refused before anything runs`, async () => {
    assert.match((await expected()).evil[name], /Unsupported class/); // PyTorch refuses it too
    await assert.rejects(
      load(fixturePath(`evil_${name}.pth`)),
      (e: unknown) =>
        e instanceof UnpicklingError && e.global === global &&
        e.message.startsWith(`weights_only: global '${global}' is not allowed`),
    );
  });
}

Deno.test("REDUCE on an allowed non-function, INST and BUILD on a list are refused as weights_only refuses them", async () => {
  await assert.rejects(
    load(fixturePath("evil_reduce_on_dtype.pth")),
    (e: unknown) => e instanceof UnpicklingError && e.opcode === "REDUCE",
  );
  await assert.rejects(
    load(fixturePath("evil_inst_opcode.pth")),
    (e: unknown) => e instanceof UnpicklingError && e.opcode === "INST",
  );
  await assert.rejects(
    load(fixturePath("evil_build_on_list.pth")),
    (e: unknown) => e instanceof UnpicklingError && e.opcode === "BUILD",
  );
});

Deno.test("loadPthObject() reads a checkpoint dict that loadPth() refuses as not a state dict", async () => {
  const model = { w: torch.ones(2) };
  // A checkpoint {"model": {...}, "epoch": 3, "note": "x"} written through the zip writer.
  const inner = new Uint8Array(await encodePth(model));
  const zip = await ZipReader.open(memorySource(inner), DEFAULT_LIMITS);
  const data = await zip.read(zip.get("archive/data/0")!, { take() {}, remaining: Infinity });
  const enc = new TextEncoder();
  // deno-fmt-ignore
  const pkl = new Uint8Array([
    0x80, 2, 0x7d, 0x28, // {  MARK
    ...str("model"), 0x7d, ...str("w"),
    ...enc.encode("ctorch._utils\n_rebuild_tensor_v2\n"), 0x28, 0x28, ...str("storage"),
    ...enc.encode("ctorch\nFloatStorage\n"), ...str("0"), ...str("cpu"), 0x4b, 2, 0x74, 0x51,
    0x4b, 0, 0x4b, 2, 0x85, 0x4b, 1, 0x85, 0x89, ...enc.encode("ccollections\nOrderedDict\n"), 0x29, 0x52, 0x74, 0x52,
    0x73, // SETITEM into the inner dict
    ...str("epoch"), 0x4b, 3, ...str("note"), ...str("x"), 0x75, 0x2e,
  ]);
  const bytes = concat(writeZip([{ name: "archive/data.pkl", data: pkl }, { name: "archive/data/0", data }]));
  await assert.rejects(loadPth(bytes), /'model' is a dict, not a tensor.*loadPthObject/);
  const obj = await loadPthObject(bytes);
  assert.ok(obj instanceof PickleDict);
  assert.equal(obj.get("epoch"), 3);
  assert.equal(obj.get("note"), "x");
  const w = (obj.get("model") as PickleDict).get("w") as unknown as torch.Tensor;
  assert.deepEqual(w.tolistSync(), [1, 1]);
});

function str(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [0x58, b.length, 0, 0, 0, ...b];
}

function concat(pieces: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---- the real release file's pickle, from ../shared when present ----

const RELEASE_PKL = new URL("../../../shared/reference/resnet18/resnet18-f37072fd.data.pkl", import.meta.url);
let releasePickle: Uint8Array | null = null;
try {
  releasePickle = await Deno.readFile(RELEASE_PKL);
} catch {
  releasePickle = null;
}

Deno.test({
  name: "the data.pkl of torchvision's resnet18-f37072fd.pth parses as weights_only parses it",
  ignore: releasePickle === null,
  fn: async () => {
    const storages: StorageRef[] = [];
    const value = unpickle(releasePickle!, {
      persistentLoad: (pid) => {
        const [, , key, location, numel] = pid as [string, unknown, string, string, number];
        const s = new StorageRef("float32", key, location, numel);
        storages.push(s);
        return s;
      },
    });
    assert.ok(value instanceof PickleDict && value.ordered);
    const want = (await expected()).resnet18;
    assert.equal(value.size, 102);
    // The same keys as torchvision's resnet18 today, in the older order (running stats before weight and bias).
    assert.deepEqual([...value.keys()].sort(), Object.keys(want).sort());
    assert.deepEqual([...value.keys()].slice(0, 5), [
      "conv1.weight",
      "bn1.running_mean",
      "bn1.running_var",
      "bn1.weight",
      "bn1.bias",
    ]);
    for (const [key, ref] of value) {
      assert.ok(ref instanceof TensorRef, String(key));
      assert.deepEqual(ref.size, want[key as string].shape, String(key));
      assert.equal(ref.parameter, want[key as string].parameter, String(key));
      assert.equal(ref.storage.numel, ref.size.reduce((n, d) => n * d, 1), String(key));
    }
    const conv1 = value.get("conv1.weight") as TensorRef;
    assert.deepEqual(conv1.stride, [147, 49, 7, 1]);
    assert.ok(storages.every((s) => /^\d{15}$/.test(s.key)));
    const total = storages.reduce((n, s) => n + s.numel, 0);
    const numel = Object.values(want).reduce((n, e) => n + e.shape.reduce((m, d) => m * d, 1), 0);
    assert.equal(total, numel);
    assert.equal(total, 11_699_112); // resnet18's 11,689,512 parameters and 9,600 batch-norm statistics
  },
});

Deno.test({
  name: "a release-layout archive around the real resnet18 pickle loads with loadPth()",
  ignore: releasePickle === null,
  fn: async () => {
    const keys: [string, number][] = [];
    unpickle(releasePickle!, {
      persistentLoad: (pid) => {
        const [, , key, , numel] = pid as [string, unknown, string, string, number];
        keys.push([key, numel]);
        return new StorageRef("float32", key, "cpu", numel);
      },
    });
    keys.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const entries = [
      { name: "archive/data.pkl", data: releasePickle! },
      // Storage i holds the value i, so each tensor can be told apart.
      ...keys.map(([key, numel], i) => ({
        name: `archive/data/${key}`,
        data: new Uint8Array(new Float32Array(numel).fill(i).buffer),
      })),
      { name: "archive/version", data: new TextEncoder().encode("3\n") },
    ];
    const sd = await loadPth(concat(writeZip(entries)));
    assert.equal(Object.keys(sd).length, 102);
    assert.deepEqual([...sd["fc.weight"].shape], [1000, 512]);
    assert.ok(sd["conv1.weight"] instanceof torch.Parameter && sd["conv1.weight"].requiresGrad);
    assert.ok(!(sd["bn1.running_var"] instanceof torch.Parameter));
    const want = (await expected()).resnet18;
    for (const [key, t] of Object.entries(sd)) assert.deepEqual([...t.shape], want[key].shape, key);
  },
});

Deno.test("a byteorder record of 'big' swaps storages; .data/serialization_id is ignored", async () => {
  const little = await encodePth({ w: torch.tensor([1.5, -2, 3]), n: torch.tensor([258], { dtype: "int32" }) });
  const zip = await ZipReader.open(memorySource(little), DEFAULT_LIMITS);
  const any = { take() {}, remaining: Infinity };
  const swap = (b: Uint8Array, size: number) => {
    const out = b.slice();
    for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
    return out;
  };
  const bytes = concat(writeZip([
    { name: "archive/data.pkl", data: await zip.read(zip.get("archive/data.pkl")!, any) },
    { name: "archive/byteorder", data: new TextEncoder().encode("big") },
    { name: "archive/data/0", data: swap(await zip.read(zip.get("archive/data/0")!, any), 4) },
    { name: "archive/data/1", data: swap(await zip.read(zip.get("archive/data/1")!, any), 8) },
    { name: "archive/.data/serialization_id", data: new TextEncoder().encode("1234567890") },
  ]));
  const sd = await loadPth(bytes);
  assert.deepEqual(sd.w.tolistSync(), [1.5, -2, 3]);
  assert.deepEqual(sd.n.tolistSync(), [258]);
});
