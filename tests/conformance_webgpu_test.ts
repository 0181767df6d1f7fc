// The conformance suite on WebGPU (Mesa's llvmpipe when there is no GPU).

import * as torch from "@flint/torch";
import { WebGpuBackend } from "@flint/webgpu";
import { conformanceSuite } from "./conformance/suite.ts";

let gpu: WebGpuBackend | undefined;
conformanceSuite({
  device: "webgpu",
  setup: async () => torch.registerBackend(gpu = await WebGpuBackend.create({ name: "webgpu" })),
  describe: () => {
    const { submissions, pipelines } = gpu!.stats();
    return `${gpu!.adapterInfo}, ${submissions} submissions, ${pipelines} pipelines`;
  },
});
