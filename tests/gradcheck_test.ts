// Gradients against finite differences (float64, PyTorch's gradcheck
// defaults) for every differentiable fixture case, and second derivatives
// (gradgradcheck) for one smooth case of each op.

import assert from "node:assert/strict";
import { loadOpCases } from "./conformance/fixtures.ts";
import { gradcheckCase } from "./conformance/run_case.ts";

const fixtures = loadOpCases();
const candidates = fixtures.cases.filter((c) => c.gradcheck);
const byOp = Map.groupBy(candidates, (c) => c.op);

let checked = 0;
for (const [op, cases] of byOp) {
  Deno.test(`gradcheck: ${op} (${cases.length} cases)`, () => {
    const failures = cases.map((c) => gradcheckCase(c)).filter((r) => !r.ok);
    checked += cases.length;
    assert.deepEqual(failures, []);
  });
  Deno.test(`gradgradcheck: ${op}`, () => {
    const result = gradcheckCase(cases[0], true);
    assert.ok(result.ok, `${result.name}: ${result.message}`);
  });
}

Deno.test("gradcheck summary", () => {
  console.log(`gradcheck ran on ${checked} cases over ${byOp.size} differentiable ops`);
  assert.equal(checked, candidates.length);
});
