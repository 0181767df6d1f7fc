// Memory on WebGPU: no growth over 1,000 training steps; `using` and
// torch.scope give GPU buffers back at once.

import * as torch from "@flint/torch";
import { assertDisposalIsImmediate, assertTrainingDoesNotGrow } from "./_memory_check.ts";

await torch.useBackend("webgpu", { makeDefault: false });

Deno.test("webgpu: 1,000 training steps of tutorial 001's MLP do not grow memory", () => {
  assertTrainingDoesNotGrow("webgpu");
});

Deno.test("webgpu: `using` and torch.scope free GPU buffers at once", () => {
  assertDisposalIsImmediate("webgpu");
});
