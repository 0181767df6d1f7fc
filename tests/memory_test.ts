// Memory on the CPU: no growth over 1,000 training steps; immediate frees.
// (tfjs and WebGPU run the same checks from their own packages' test files.)

import { assertDisposalIsImmediate, assertTrainingDoesNotGrow } from "./_memory_check.ts";

Deno.test("cpu: 1,000 training steps of tutorial 001's MLP do not grow memory", () => {
  assertTrainingDoesNotGrow("cpu");
});

Deno.test("cpu: `using` and torch.scope free storages at once", () => {
  assertDisposalIsImmediate("cpu");
});
