// The PyTorch conformance suite on both kernel sets of the CPU backend: the
// TypeScript loops (the reference) and the WebAssembly SIMD kernels, each
// registered as its own device, forward values and gradients of every op
// fixture case. The WebAssembly device runs every case its kernels cover,
// however small (kernels: "wasm"), so the fixtures' NaN, infinity, empty and
// strided cases reach the kernels too.
//
// Tolerances: the TypeScript path is held to torch.testing's float32 rtol
// 1.3e-6 / atol 1e-5, as ops_parity_test.ts holds the default device. The
// WebAssembly path to rtol 1e-4 / atol 1e-5: its matrix products sum in
// float32 with fused multiply-adds in blocked order (PyTorch's BLAS does too,
// in another order), so sums of many products differ from PyTorch's in the
// last few bits; element-wise kernels and reductions agree with the
// TypeScript loops bit for bit.

import assert from "node:assert/strict";
import { CpuBackend, type CpuKernels } from "@flint/cpu";
import * as torch from "@flint/torch";
import type { Tolerance } from "./conformance/compare.ts";
import { loadOpCases } from "./conformance/fixtures.ts";
import { runCase } from "./conformance/run_case.ts";

const { cases } = loadOpCases();
const byOp = Map.groupBy(cases, (c) => c.op);

const PATHS: readonly { kernels: Exclude<CpuKernels, "auto">; tolerance: Tolerance }[] = [
  { kernels: "typescript", tolerance: { rtol: 1.3e-6, atol: 1e-5 } },
  { kernels: "wasm", tolerance: { rtol: 1e-4, atol: 1e-5 } },
];

for (const { kernels, tolerance } of PATHS) {
  const name = `cpu-${kernels}`;
  const backend = new CpuBackend({ name, kernels });
  const device = torch.registerBackend(backend);
  let ran = 0;
  for (const [op, group] of byOp) {
    Deno.test(`${op} matches PyTorch on the ${kernels} kernels (${group.length} cases)`, async () => {
      // Fixture ops that make a tensor of their own (a 0-d `other`) make it on the default device.
      const previous = torch.getDefaultDevice();
      torch.setDefaultDevice(device);
      try {
        const failures: string[] = [];
        for (const c of group) {
          const r = await runCase(c, name, tolerance);
          ran++;
          if (!r.ok) failures.push(`${r.name}: ${r.message}`);
        }
        assert.equal(failures.length, 0, `\n${failures.join("\n")}`);
      } finally {
        torch.setDefaultDevice(previous);
      }
    });
  }
  Deno.test(`every op case ran on the ${kernels} kernels`, () => {
    console.log(`${name}: ${ran} PyTorch cases over ${byOp.size} ops, kernels ${backend.info().kernels}`);
    assert.equal(ran, cases.length);
    assert.equal(backend.info().kernels, kernels);
  });
}
