// The conformance suite on a CPU backend without its fused kernels, so the
// compositions autograd falls back to (conv by gather + matmul, pooling by
// gather + reduce, softmax by reductions) are checked as a new backend would
// use them.

import * as torch from "@flint/torch";
import { CpuBackend } from "@flint/cpu";
import { conformanceSuite } from "./conformance/suite.ts";

conformanceSuite({
  device: "cpu-composed",
  tolerance: { rtol: 1e-5, atol: 1e-5 },
  setup: () => {
    const backend = new CpuBackend({ name: "cpu-composed" });
    for (const key of Object.keys(backend.fused)) delete (backend.fused as Record<string, unknown>)[key];
    return Promise.resolve(torch.registerBackend(backend));
  },
});
