// Every op against PyTorch's fixtures on the CPU: forward values and
// gradients, including broadcasting, non-contiguous views, empty and 0-d
// tensors.

import assert from "node:assert/strict";
import { loadOpCases } from "./conformance/fixtures.ts";
import { OPS } from "./conformance/op_table.ts";
import { runCase } from "./conformance/run_case.ts";

const fixtures = loadOpCases();
const TOLERANCE = { rtol: 1.3e-6, atol: 1e-5 };

Deno.test("every fixture op has a Flint implementation", () => {
  const missing = fixtures.ops.filter((op) => !(op in OPS));
  assert.deepEqual(missing, []);
});

const byOp = Map.groupBy(fixtures.cases, (c) => c.op);
let ran = 0;
for (const [op, cases] of byOp) {
  Deno.test(`${op} matches PyTorch on cpu (${cases.length} cases)`, async () => {
    const failures: string[] = [];
    for (const c of cases) {
      const r = await runCase(c, "cpu", TOLERANCE);
      ran++;
      if (!r.ok) failures.push(`${r.name}: ${r.message}`);
    }
    assert.equal(failures.length, 0, `\n${failures.join("\n")}`);
  });
}

Deno.test("parity summary", () => {
  console.log(`ran ${ran} PyTorch parity cases over ${byOp.size} ops on cpu`);
  assert.equal(ran, fixtures.cases.length);
});
