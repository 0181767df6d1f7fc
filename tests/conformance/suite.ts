// The conformance suite: every op fixture case on one backend, forward values
// and gradients against PyTorch's, with the backend's ignored cases reported
// (never dropped) and a one-line summary of what ran, passed and was ignored.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { loadOpCases } from "./fixtures.ts";
import { IGNORED } from "./ignored.ts";
import { runCase } from "./run_case.ts";

/** How to run the suite on one backend. */
export interface SuiteOptions {
  /** the backend's key in IGNORED, and the device name it registers */
  readonly device: string;
  /** sets the backend up and returns its device (it becomes the default device) */
  readonly setup: () => Promise<torch.Device>;
  /** tolerance: PyTorch's float32 one for the reference CPU, 1e-3 across backends */
  readonly tolerance?: { rtol: number; atol: number };
  /** extra text for the summary line (adapter name, submissions) */
  readonly describe?: () => string;
}

/** Registers one Deno test per fixture op on the backend, plus the summary. */
export function conformanceSuite(options: SuiteOptions): void {
  const { device } = options;
  const tolerance = options.tolerance ?? { rtol: 1e-3, atol: 1e-3 };
  const ignored = IGNORED[device] ?? {};
  const { cases } = loadOpCases();
  // The default device too: fixture ops that build a tensor of their own build it on this device.
  let ready: Promise<torch.Device> | undefined;
  const setUp = () => ready ??= options.setup().then((d) => (torch.setDefaultDevice(d), d));
  let ran = 0, passed = 0;
  const started = performance.now();
  for (const [op, group] of Map.groupBy(cases, (c) => c.op)) {
    for (const c of group) {
      if (c.name in ignored) Deno.test({ name: `${c.name} on ${device}: ${ignored[c.name]}`, ignore: true, fn() {} });
    }
    const live = group.filter((c) => !(c.name in ignored));
    if (live.length === 0) continue;
    Deno.test(`${op} matches PyTorch on ${device} (${live.length} cases)`, async () => {
      await setUp();
      const failures: string[] = [];
      for (const c of live) {
        const r = await runCase(c, device, tolerance);
        ran++;
        if (r.ok) passed++;
        else failures.push(`${r.name}: ${r.message}`);
      }
      assert.equal(failures.length, 0, `\n${failures.join("\n")}`);
    });
  }
  Deno.test(`conformance summary on ${device}`, async () => {
    await setUp();
    const skipped = cases.filter((c) => c.name in ignored).length;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const extra = options.describe ? ` (${options.describe()})` : "";
    console.log(
      `conformance ${device}: ${cases.length} cases, ran ${ran}, passed ${passed}, ignored ${skipped} in ${seconds} s${extra}`,
    );
    const unknown = Object.keys(ignored).filter((name) => !cases.some((c) => c.name === name));
    assert.deepEqual(unknown, [], "ignored cases that no fixture has");
    assert.ok(skipped <= 0.05 * cases.length, `${skipped} ignored cases is over 5% of ${cases.length}`);
    assert.equal(ran + skipped, cases.length);
  });
}
