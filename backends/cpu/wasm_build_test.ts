// The committed WebAssembly kernels are what their source builds to: a
// rebuild with the pinned AssemblyScript reproduces wasm/*.wasm and
// _wasm_bytes.ts byte for byte (run `deno task build:wasm` after editing
// ./assembly).

import assert from "node:assert/strict";
import { bytesModule, compileKernels } from "./_build_wasm.ts";
import { KERNELS_RELAXED, KERNELS_SIMD } from "./_wasm_bytes.ts";

const here = (path: string) => new URL(path, import.meta.url);

function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} bytes built, ${expected.length} committed`);
  const at = actual.findIndex((b, i) => b !== expected[i]);
  assert.equal(at, -1, `${what}: the rebuild differs from the committed bytes at byte ${at}`);
}

Deno.test("rebuilding the kernels from ./assembly reproduces the committed .wasm and _wasm_bytes.ts", async () => {
  const relaxed = await compileKernels("relaxed");
  const simd = await compileKernels("simd");
  sameBytes(relaxed, await Deno.readFile(here("wasm/kernels_relaxed.wasm")), "wasm/kernels_relaxed.wasm");
  sameBytes(simd, await Deno.readFile(here("wasm/kernels_simd.wasm")), "wasm/kernels_simd.wasm");
  assert.equal(bytesModule(relaxed, simd), await Deno.readTextFile(here("_wasm_bytes.ts")), "_wasm_bytes.ts is stale");
  const decode = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  sameBytes(decode(KERNELS_RELAXED), relaxed, "KERNELS_RELAXED");
  sameBytes(decode(KERNELS_SIMD), simd, "KERNELS_SIMD");
});

Deno.test("the build is deterministic: two compiles give the same bytes", async () => {
  sameBytes(await compileKernels("simd"), await compileKernels("simd"), "a second simd build");
});

Deno.test("only the relaxed build uses relaxed SIMD: the plain one validates without it", async () => {
  const simd = await Deno.readFile(here("wasm/kernels_simd.wasm"));
  const relaxed = await Deno.readFile(here("wasm/kernels_relaxed.wasm"));
  assert.ok(WebAssembly.validate(simd));
  assert.ok(WebAssembly.validate(relaxed)); // this runtime has relaxed SIMD (Deno 2.9's V8)
  assert.notDeepEqual(simd, relaxed);
});
