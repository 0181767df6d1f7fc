// The shared PyTorch conformance suite on the WebGPU backend: every fixture
// case at the cross-backend tolerance, forward values and gradients. Cases
// the backend cannot serve are listed with their reason and reported as
// ignored, never dropped.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { loadOpCases } from "../../tests/conformance/fixtures.ts";
import { runCase } from "../../tests/conformance/run_case.ts";
import { WebGpuBackend } from "./backend.ts";

const TOLERANCE = { rtol: 1e-3, atol: 1e-3 };
const DEVICE = "webgpu";

/**
 * Cases WebGPU cannot serve, with the reason. The only reason allowed is an
 * inherent one: a boolean mask's true count decides the output's size, and
 * WebGPU cannot read the mask synchronously while the op runs.
 */
const MASK = "boolean-mask indexing sizes its output by the mask's true count, which needs a synchronous read " +
  "(nonzero throws on webgpu)";
const IGNORED: Readonly<Record<string, string>> = {
  "index/bool_mask_full": MASK,
  "index/bool_mask_rows": MASK,
  "index/bool_mask_cols": MASK,
  "index/bool_mask_all_false": MASK,
  "index/expanded_mask": MASK,
  "indexPut/bool_mask_rows": MASK,
  "setitem/bool_mask_values": MASK,
  "setitem/bool_mask_rows": MASK,
  "maskedSelect/plain": MASK,
  "maskedSelect/broadcast_mask": MASK,
  "maskedSelect/broadcast_input": MASK,
  "maskedSelect/all_false": MASK,
  "maskedSelect/scalar0d": MASK,
  "maskedSelect/empty": MASK,
  "maskedSelect/float64": MASK,
  "maskedSelect/noncontig": MASK,
  "maskedSelect/int32": MASK,
};

const { cases } = loadOpCases();
// The default device too: fixture ops that build a tensor of their own (a 0-d `other`) build it on the GPU.
const ready = WebGpuBackend.create({ name: DEVICE }).then((gpu) => {
  torch.setDefaultDevice(torch.registerBackend(gpu));
  return gpu;
});

const byOp = Map.groupBy(cases, (c) => c.op);
let ran = 0, passed = 0;
const started = performance.now();
for (const [op, group] of byOp) {
  const live = group.filter((c) => !(c.name in IGNORED));
  for (const c of group) {
    if (c.name in IGNORED) Deno.test({ name: `${c.name} on ${DEVICE}: ${IGNORED[c.name]}`, ignore: true, fn() {} });
  }
  if (live.length === 0) continue;
  Deno.test(`${op} matches PyTorch on ${DEVICE} (${live.length} cases)`, async () => {
    await ready;
    const failures: string[] = [];
    for (const c of live) {
      const r = await runCase(c, DEVICE, TOLERANCE);
      ran++;
      if (r.ok) passed++;
      else failures.push(`${r.name}: ${r.message}`);
    }
    assert.equal(failures.length, 0, `\n${failures.join("\n")}`);
  });
}

Deno.test(`conformance summary on ${DEVICE}`, async () => {
  const gpu = await ready;
  const skipped = cases.filter((c) => c.name in IGNORED).length;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const { submissions, pipelines } = gpu.stats();
  console.log(
    `${DEVICE} (${gpu.adapterInfo}): ${cases.length} cases, ran ${ran}, passed ${passed}, ignored ${skipped} ` +
      `in ${seconds} s (${submissions} submissions, ${pipelines} pipelines)`,
  );
  const unknown = Object.keys(IGNORED).filter((name) => !cases.some((c) => c.name === name));
  assert.deepEqual(unknown, [], "ignored cases that no fixture has");
  assert.ok(skipped <= 0.05 * cases.length, `${skipped} ignored cases is over 5% of ${cases.length}`);
  assert.equal(ran + skipped, cases.length);
});
