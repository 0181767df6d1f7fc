// The conformance suite on the reference CPU backend, at PyTorch's float32
// tolerance (torch.testing: rtol 1.3e-6, atol 1e-5): every op against
// PyTorch's fixtures, forward values and gradients, including broadcasting,
// non-contiguous views, empty and 0-d tensors.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { loadOpCases } from "./conformance/fixtures.ts";
import { OPS } from "./conformance/op_table.ts";
import { conformanceSuite } from "./conformance/suite.ts";

Deno.test("every fixture op has a Flint implementation", () => {
  const missing = loadOpCases().ops.filter((op) => !(op in OPS));
  assert.deepEqual(missing, []);
});

conformanceSuite({
  device: "cpu",
  tolerance: { rtol: 1.3e-6, atol: 1e-5 },
  setup: () => Promise.resolve(torch.device("cpu")),
});
