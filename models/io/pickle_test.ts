import assert from "node:assert/strict";
import { allowedGlobals, PickleDict, TensorRef, TorchGlobal, unpickle, UnpicklingError } from "@flint/models";
import { storageFromPid } from "./pickle.ts";

const enc = new TextEncoder();

/** Builds a pickle from opcode bytes and strings (strings are written as raw bytes). */
function p(...parts: (number | string)[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") out.push(part);
    else out.push(...enc.encode(part));
  }
  return new Uint8Array(out);
}

function unicode(s: string): number[] {
  const b = enc.encode(s);
  return [0x58, b.length & 0xff, b.length >> 8, 0, 0, ...b];
}

Deno.test("unpickle() reads the basic types weights_only allows", () => {
  // [None, True, False, 1, 300, -5, 70000 (LONG1 7), 1.5, 'héllo', (), (1,), (1, 2), (1, 2, 3), {}]
  // deno-fmt-ignore
  const bytes = p(
    0x80, 2, 0x5d, 0x28,
    0x4e, 0x88, 0x89, 0x4b, 1, 0x4d, 0x2c, 0x01, 0x4a, 0xfb, 0xff, 0xff, 0xff,
    0x8a, 3, 0x70, 0x11, 0x01,
    0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
    ...unicode("héllo"),
    0x29, 0x4b, 1, 0x85, 0x4b, 1, 0x4b, 2, 0x86, 0x4b, 1, 0x4b, 2, 0x4b, 3, 0x87, 0x7d,
    0x65, 0x2e,
  );
  const v = unpickle(bytes) as unknown[];
  assert.deepEqual(v.slice(0, 9), [null, true, false, 1, 300, -5, 70000, 1.5, "héllo"]);
  assert.deepEqual(v.slice(9, 13), [[], [1], [1, 2], [1, 2, 3]]);
  assert.ok(Object.isFrozen(v[10]) && !Object.isFrozen(v));
  assert.ok(v[13] instanceof PickleDict);
});

Deno.test("unpickle() gives LONG1 values past 2^53 as bigints and negative LONG1 values exactly", () => {
  assert.equal(unpickle(p(0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x2e)), 2n ** 64n);
  assert.equal(unpickle(p(0x80, 2, 0x8a, 2, 0x00, 0xff, 0x2e)), -256);
  assert.equal(unpickle(p(0x80, 2, 0x8a, 0, 0x2e)), 0);
});

Deno.test("unpickle() shares memoized objects, as pickle does", () => {
  // l = []; (l, l)
  const v = unpickle(p(0x80, 2, 0x5d, 0x71, 0, 0x68, 0, 0x86, 0x2e)) as unknown[][];
  assert.equal(v[0], v[1]);
});

Deno.test("OrderedDict REDUCE and BUILD of _metadata read as a state dict's top level does", () => {
  // deno-fmt-ignore
  const bytes = p(
    0x80, 2, "ccollections\nOrderedDict\n", 0x71, 0, 0x29, 0x52,
    0x28, ...unicode("b"), 0x4b, 2, ...unicode("a"), 0x4b, 1, 0x75,
    0x7d, ...unicode("_metadata"), 0x68, 0, 0x29, 0x52, 0x73, 0x62, 0x2e,
  );
  const d = unpickle(bytes) as PickleDict;
  assert.ok(d.ordered);
  assert.deepEqual([...d.entries()], [["b", 2], ["a", 1]]);
  assert.ok(d.attributes.get("_metadata") instanceof PickleDict);
});

Deno.test("protocol 4 opcodes that only push data are read (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL)", () => {
  // deno-fmt-ignore
  const bytes = p(
    0x80, 4, 0x95, 20, 0, 0, 0, 0, 0, 0, 0,
    0x8c, 11, "collections", 0x94, 0x8c, 11, "OrderedDict", 0x94, 0x93, 0x94, 0x29, 0x52, 0x2e,
  );
  assert.ok(unpickle(bytes) instanceof PickleDict);
});

Deno.test("STACK_GLOBAL goes through the same allow-list as GLOBAL", () => {
  const bytes = p(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "exec", 0x93, 0x2e);
  assert.throws(() => unpickle(bytes), (e: unknown) => e instanceof UnpicklingError && e.global === "builtins.exec");
});

Deno.test("Python 2 names map as PyTorch maps them: __builtin__.set is builtins.set, __builtin__.eval refused", () => {
  const set = unpickle(p(0x80, 2, "c__builtin__\nset\n", 0x5d, 0x4b, 1, 0x61, 0x85, 0x52, 0x2e));
  assert.deepEqual(set, new Set([1]));
  assert.throws(
    () => unpickle(p(0x80, 2, "c__builtin__\neval\n", 0x2e)),
    (e: unknown) => e instanceof UnpicklingError && e.global === "builtins.eval",
  );
});

Deno.test("the allow-list is PyTorch's weights_only list and nothing that runs code", () => {
  const allowed = new Set(allowedGlobals());
  for (
    const name of [
      "collections.OrderedDict",
      "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_parameter",
      "torch._utils._rebuild_parameter_with_state",
      "torch.FloatStorage",
      "torch.BFloat16Storage",
      "torch.storage.UntypedStorage",
      "torch.serialization._get_layout",
      "torch.device",
      "torch.Size",
      "torch.float16",
      "builtins.set",
    ]
  ) assert.ok(allowed.has(name), name);
  for (
    const name of [
      "os.system",
      "builtins.eval",
      "builtins.exec",
      "builtins.getattr",
      "builtins.__import__",
      "subprocess.Popen",
      "torch.load",
      "torch.jit.load",
      "pickle.loads",
      "numpy.core.multiarray._reconstruct",
    ]
  ) assert.ok(!allowed.has(name), name);
});

Deno.test("each opcode weights_only refuses is refused by name", () => {
  const cases: [string, Uint8Array][] = [
    ["INST", p(0x80, 2, "ios\nsystem\n", 0x2e)],
    ["OBJ", p(0x80, 2, 0x28, 0x6f, 0x2e)],
    ["PERSID", p(0x80, 2, "Pfoo\n", 0x2e)],
    ["EXT1", p(0x80, 2, 0x82, 1, 0x2e)],
    ["NEWOBJ_EX", p(0x80, 2, 0x92, 0x2e)],
    ["POP", p(0x80, 2, 0x4e, 0x30, 0x2e)],
    ["DUP", p(0x80, 2, 0x4e, 0x32, 0x2e)],
    ["INT", p(0x80, 2, "I1\n", 0x2e)],
    ["STRING", p(0x80, 2, "S'a'\n", 0x2e)],
    ["BYTEARRAY8", p(0x80, 2, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0x2e)],
    ["NEXT_BUFFER", p(0x80, 2, 0x97, 0x2e)],
  ];
  for (const [name, bytes] of cases) {
    assert.throws(
      () => unpickle(bytes),
      (e: unknown) =>
        e instanceof UnpicklingError && e.opcode === name && e.message.includes(`opcode ${name} is not allowed`),
      name,
    );
  }
});

Deno.test("REDUCE, NEWOBJ, BUILD, APPEND and SETITEM are refused on what weights_only refuses them on", () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["REDUCE on a list", p(0x80, 2, 0x5d, 0x29, 0x52, 0x2e), /REDUCE on a list/],
    ["REDUCE on torch.Tensor", p(0x80, 2, "ctorch\nTensor\n", 0x29, 0x52, 0x2e), /REDUCE on global 'torch.Tensor'/],
    ["NEWOBJ of OrderedDict", p(0x80, 2, "ccollections\nOrderedDict\n", 0x29, 0x81, 0x2e), /NEWOBJ of global/],
    ["BUILD on a tuple", p(0x80, 2, 0x29, 0x7d, 0x62, 0x2e), /BUILD on a tuple/],
    ["APPEND to a dict", p(0x80, 2, 0x7d, 0x4e, 0x61, 0x2e), /APPEND on a dict/],
    ["APPEND to a tuple", p(0x80, 2, 0x29, 0x4e, 0x61, 0x2e), /APPEND on a tuple/],
    ["SETITEM on a list", p(0x80, 2, 0x5d, 0x4e, 0x4e, 0x73, 0x2e), /SETITEM on a list/],
    ["persistent id 'module'", p(0x80, 2, ...unicode("module"), 0x85, 0x51, 0x2e), /only persistent_load of storage/],
    ["persistent id a string", p(0x80, 2, ...unicode("storage"), 0x51, 0x2e), /must be tuple or int/],
  ];
  for (const [name, bytes, message] of cases) {
    assert.throws(() => unpickle(bytes), (e: unknown) => e instanceof UnpicklingError && message.test(e.message), name);
  }
});

Deno.test("pickle limits: MARK depth, memo size and string length are capped", () => {
  const deep = new Uint8Array([0x80, 2, ...new Array(50).fill(0x28), 0x2e]);
  assert.throws(() => unpickle(deep, { limits: { maxPickleDepth: 10 } }), /MARKs nest deeper than 10/);
  const memo = p(0x80, 2, 0x4e, ...Array.from({ length: 12 }, (_, i) => [0x71, i]).flat(), 0x2e);
  assert.throws(() => unpickle(memo, { limits: { maxMemoSize: 10 } }), /more than 10 memo entries/);
  const long = p(0x80, 2, ...unicode("x".repeat(100)), 0x2e);
  assert.throws(() => unpickle(long, { limits: { maxStringLength: 64 } }), /100 bytes is past the cap of 64/);
  assert.equal(unpickle(long), "x".repeat(100));
});

Deno.test("a corrupt pickle gives an UnpicklingError that says where, never a bare exception", () => {
  const cases: [Uint8Array, RegExp][] = [
    [p(0x80, 2, 0x52), /stack underflow/],
    [p(0x80, 2, 0x68, 7, 0x2e), /memo entry 7 was never stored/],
    [p(0x80, 2, 0x4e), /ends before its STOP/],
    [p(0x80, 2, 0x58, 0xff, 0xff, 0, 0, 0x61), /ends inside a BINUNICODE string/],
    [p(0x80, 2, 0x74, 0x2e), /no MARK to pop to/],
    [p(0x80, 2, 0x58, 2, 0, 0, 0, 0xff, 0xfe, 0x2e), /not valid UTF-8/],
    [p(0x80, 1, 0x4e, 0x2e), /protocol 1 is not supported/],
    [p(0x80, 2, "ctorch\nfloat32"), /ends inside a GLOBAL/],
    [p(0x80, 2, 0x2e), /stack underflow/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(
      () => unpickle(bytes),
      (e: unknown) => e instanceof UnpicklingError && message.test(e.message) && /offset \d+/.test(e.message),
      String(message),
    );
  }
});

Deno.test("_rebuild_tensor_v2 and _rebuild_parameter make tensor references with torch's geometry", () => {
  // deno-fmt-ignore
  const bytes = p(
    0x80, 2,
    "ctorch._utils\n_rebuild_parameter\n",
    "ctorch._utils\n_rebuild_tensor_v2\n", 0x28, 0x28, ...unicode("storage"), "ctorch\nHalfStorage\n",
    ...unicode("k"), ...unicode("cuda:0"), 0x4b, 6, 0x74, 0x51,
    0x4b, 1, 0x4b, 2, 0x4b, 2, 0x86, 0x4b, 1, 0x4b, 2, 0x86, 0x89, "ccollections\nOrderedDict\n", 0x29, 0x52, 0x74,
    0x52, 0x88, 0x7d, 0x87, 0x52, 0x2e,
  );
  const t = unpickle(bytes, { persistentLoad: (pid) => storageFromPid(pid) });
  assert.ok(t instanceof TensorRef);
  assert.equal(t.dtype, "float16");
  assert.equal(t.storage.location, "cuda:0");
  assert.deepEqual([t.offset, t.size, t.stride, t.parameter, t.requiresGrad], [1, [2, 2], [1, 2], true, true]);
});

Deno.test("storages of complex and quantized types are refused, naming the type", () => {
  const pid = Object.freeze(["storage", new TorchGlobal("torch.ComplexFloatStorage"), "0", "cpu", 4]);
  assert.throws(() => storageFromPid(pid as never), /ComplexFloatStorage holds complex or quantized elements/);
});
