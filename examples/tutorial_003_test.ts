// Tutorial 003 run as users run it, offline: with weights Flint wrote
// (resnet18 after manualSeed(42), standing in for the pretrained file) it
// prints what PyTorch prints for the same weights and steps
// (tests/fixtures/resnet/resnet.json, from make_resnet_fixtures.py); with an
// unreachable URL it says so and still runs every step.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { resnet18, save } from "@flint/models";
import { compareLines } from "./_compare_lines.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../tests/fixtures/resnet/resnet.json", import.meta.url)),
) as { tutorial003: { weights_seed: number; image: string; lines: string[] } };
const expected = fixture.tutorial003;
const script = new URL("./tutorial_003_finetune.ts", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string> = {}): Promise<{ lines: string[]; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `tutorial_003_finetune.ts failed:\n${err}`);
  return { lines: new TextDecoder().decode(stdout).trimEnd().split("\n"), err };
}

Deno.test("tutorial 003 with local weights prints PyTorch's top-5, loss, gradients, step and fine-tuning", async () => {
  const dir = await Deno.makeTempDir();
  try {
    torch.manualSeed(expected.weights_seed);
    const weights = `${dir}/resnet18_seed${expected.weights_seed}.pth`;
    await save(resnet18().stateDict(), weights);
    const image = new URL(`../tests/fixtures/resnet/${expected.image}`, import.meta.url).pathname;
    const { lines, err } = await run(["--weights", weights, "--image", image]);
    assert.equal(err.trim(), `weights: ${weights}`);
    assert.equal(compareLines(lines, expected.lines), null);
    assert.equal(lines.at(-1), "backbone grads: 0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tutorial 003 explains an unreachable download and goes on with random weights", async () => {
  const home = await Deno.makeTempDir();
  try {
    const url = "http://127.0.0.1:9/resnet18-f37072fd.pth";
    const { lines, err } = await run(["--weights", url], { FLINT_HOME: home });
    assert.match(err, /could not load the pretrained weights from http:\/\/127\.0\.0\.1:9\/resnet18-f37072fd\.pth/);
    assert.ok(err.includes(`download ${url} to ${home}/hub/checkpoints/resnet18-f37072fd.pth`), err);
    assert.match(err, /Continuing with randomly initialised weights/);
    // Every step still ran: the same lines as with weights, minus the top-5 (no --image).
    assert.deepEqual(lines.map((l) => l.split(":")[0]), expected.lines.slice(6).map((l) => l.split(":")[0]));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
