// The conformance suite on tfjs-wasm, in a test module of its own: tfjs has
// one active backend per JavaScript realm, and each module gets a fresh realm.

import * as torch from "@flint/torch";
import { loadTfjsBackend, TfjsBackend } from "@flint/tfjs";
import { conformanceSuite } from "./conformance/suite.ts";

conformanceSuite({
  device: "tfjs-wasm",
  setup: async () => {
    await loadTfjsBackend("wasm");
    return torch.registerBackend(await TfjsBackend.create({ backend: "wasm", name: "tfjs-wasm" }));
  },
});
