// The shared PyTorch conformance suite on one tfjs backend: every fixture
// case, at the cross-backend tolerance, with the cases this backend cannot
// serve listed beside their reason and reported as ignored.
//
// Each tfjs backend runs it from its own test module (conformance_cpu_test.ts,
// conformance_wasm_test.ts) rather than switching `tf.setBackend` mid-suite:
// tfjs keeps one global engine with one active backend, and Deno gives every
// test module a fresh realm, so each suite owns its engine outright — no
// tensor of one backend is moved to the other, and tf.memory() counts one.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { loadOpCases } from "../../tests/conformance/fixtures.ts";
import { runCase } from "../../tests/conformance/run_case.ts";
import { TfjsBackend } from "./backend.ts";

const TOLERANCE = { rtol: 1e-3, atol: 1e-3 };

/** Registers one Deno test per fixture op, running its cases on `tfBackend` through Flint. */
export function conformanceSuite(tfBackend: string, ignored: Readonly<Record<string, string>>): void {
  const device = `tfjs-${tfBackend}`;
  const { cases } = loadOpCases();
  // The default device too: fixture ops that build a tensor of their own (a 0-d `other`) build it on tfjs.
  const ready = TfjsBackend.create({ backend: tfBackend, name: device }).then((b) => {
    torch.setDefaultDevice(torch.registerBackend(b));
  });
  const byOp = Map.groupBy(cases, (c) => c.op);
  let ran = 0, passed = 0;
  for (const [op, group] of byOp) {
    const live = group.filter((c) => !(c.name in ignored));
    for (const c of group) {
      if (c.name in ignored) Deno.test({ name: `${c.name} on ${device}: ${ignored[c.name]}`, ignore: true, fn() {} });
    }
    if (live.length === 0) continue;
    Deno.test(`${op} matches PyTorch on ${device} (${live.length} cases)`, async () => {
      await ready;
      const failures: string[] = [];
      for (const c of live) {
        const r = await runCase(c, device, TOLERANCE);
        ran++;
        if (r.ok) passed++;
        else failures.push(`${r.name}: ${r.message}`);
      }
      assert.equal(failures.length, 0, `\n${failures.join("\n")}`);
    });
  }
  Deno.test(`conformance summary on ${device}`, () => {
    const skipped = cases.filter((c) => c.name in ignored).length;
    console.log(`${device}: ${cases.length} cases, ran ${ran}, passed ${passed}, ignored ${skipped}`);
    const unknown = Object.keys(ignored).filter((name) => !cases.some((c) => c.name === name));
    assert.deepEqual(unknown, [], "ignored cases that no fixture has");
    assert.ok(skipped <= 0.05 * cases.length, `${skipped} ignored cases is over 5% of ${cases.length}`);
    assert.equal(ran + skipped, cases.length);
  });
}
