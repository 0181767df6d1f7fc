// Memory on tfjs-wasm: no growth over 1,000 training steps; immediate frees.
// (A file of its own: tfjs has one active backend per JavaScript realm.)

import * as torch from "@flint/torch";
import { assertDisposalIsImmediate, assertTrainingDoesNotGrow } from "./_memory_check.ts";

await torch.useBackend("tfjs", { tfjsBackend: "wasm", makeDefault: false });

Deno.test("tfjs-wasm: 1,000 training steps of tutorial 001's MLP do not grow memory", () => {
  assertTrainingDoesNotGrow("tfjs");
});

Deno.test("tfjs-wasm: `using` and torch.scope free storages at once", () => {
  assertDisposalIsImmediate("tfjs");
});
