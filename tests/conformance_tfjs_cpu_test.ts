// The conformance suite on tfjs-cpu, in a test module of its own: tfjs has
// one active backend per JavaScript realm, and each module gets a fresh realm.

import * as torch from "@flint/torch";
import { loadTfjsBackend, TfjsBackend } from "@flint/tfjs";
import { conformanceSuite } from "./conformance/suite.ts";

conformanceSuite({
  device: "tfjs-cpu",
  setup: async () => {
    await loadTfjsBackend("cpu");
    return torch.registerBackend(await TfjsBackend.create({ backend: "cpu", name: "tfjs-cpu" }));
  },
});
