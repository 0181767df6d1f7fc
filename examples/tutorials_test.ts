// The seed tutorials, run as users run them (`deno run`), print what the same
// code prints in PyTorch (tests/fixtures/tutorials.json, written by
// tests/fixtures/make_tutorial_fixtures.py).

import assert from "node:assert/strict";
import { compareLines } from "./_compare_lines.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../tests/fixtures/tutorials.json", import.meta.url)),
) as { tutorials: Record<string, string[]> };

async function run(script: string, ...args: string[]): Promise<string[]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `${script} failed:\n${err}`);
  return new TextDecoder().decode(stdout).trimEnd().split("\n");
}

Deno.test("tutorial 000 converges to w = 2.000 and f(5) = 10.000, as in PyTorch", async () => {
  const lines = await run("./tutorial_000_gradient_descent.ts");
  assert.equal(compareLines(lines, fixture.tutorials["000"]), null);
  assert.equal(lines.at(-1), "Autograd -- prediction after training: f(5) = 10.000");
});

Deno.test("tutorial 001 trains the MLP six ways, its losses falling as PyTorch's do", async () => {
  const lines = await run("./tutorial_001_mlp.ts");
  // float32 gradient descent compounds rounding over 500 steps (PyTorch's own
  // results move as much between BLAS libraries): 3% relative; the float64
  // NumPy-style run must agree to 1e-4.
  assert.equal(compareLines(lines.slice(0, 5), fixture.tutorials["001"].slice(0, 5)), null);
  assert.equal(compareLines(lines, fixture.tutorials["001"], { relative: 0.03 }), null);
  for (const form of ["numpy-style", "tensors", "autograd", "sequential", "adam", "module"]) {
    const losses = lines.filter((l) => l.startsWith(`${form} `)).map((l) => Number(l.split(" ")[2]));
    assert.equal(losses.length, 5, form);
    assert.ok(losses.every((v, i) => i === 0 || v < losses[i - 1]), `${form} losses fall: ${losses}`);
  }
});

Deno.test("tutorial 002 prints PyTorch's tensors and grad_fns", async () => {
  const lines = await run("./tutorial_002_autograd.ts");
  assert.equal(compareLines(lines, fixture.tutorials["002"]), null);
});

Deno.test("tutorial 004 fits Y = 2X + noise and draws the fit", async () => {
  const out = await Deno.makeTempDir();
  const lines = await run("./tutorial_004_linear_regression.ts", "--out", out);
  const written = lines.pop()!;
  assert.equal(compareLines(lines, fixture.tutorials["004"]), null);
  assert.match(written, /wrote .*tutorial_004_fit\.svg and .*tutorial_004_fit\.png/);
  const svg = await Deno.readTextFile(`${out}/tutorial_004_fit.svg`);
  assert.match(svg, /^<svg/);
  assert.ok(svg.includes("fitted w = 2.148"), "the chart title names the fitted weight");
  const png = await Deno.readFile(`${out}/tutorial_004_fit.png`);
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.ok(png.length > 10_000);
  await Deno.remove(out, { recursive: true });
});

// The same scripts on the other backends print the same numbers (to float32
// tolerance); tensors there print with their device, as PyTorch's do.
const withoutDevice = (lines: string[]) => lines.map((l) => l.replace(/, device='[^']*'/g, ""));
const OTHER_DEVICES: [string, string[]][] = [
  ["tfjs-wasm", ["--device", "tfjs", "--tfjs-backend", "wasm"]],
  ["tfjs-cpu", ["--device", "tfjs", "--tfjs-backend", "cpu"]],
  ["webgpu", ["--device", "webgpu"]],
];
for (const [label, args] of OTHER_DEVICES) {
  Deno.test(`tutorials 000, 002 and 004 print the same results on ${label}`, async () => {
    for (
      const [script, key] of [
        ["./tutorial_000_gradient_descent.ts", "000"],
        ["./tutorial_002_autograd.ts", "002"],
      ] as const
    ) {
      const lines = withoutDevice(await run(script, ...args));
      assert.equal(compareLines(lines, fixture.tutorials[key]), null, `${script} on ${label}`);
    }
    const out = await Deno.makeTempDir();
    const lines = withoutDevice(await run("./tutorial_004_linear_regression.ts", ...args, "--out", out));
    lines.pop();
    assert.equal(compareLines(lines, fixture.tutorials["004"]), null, `tutorial 004 on ${label}`);
    await Deno.remove(out, { recursive: true });
  });
  Deno.test(`tutorial 001 trains to PyTorch's losses on ${label}`, async () => {
    const lines = withoutDevice(await run("./tutorial_001_mlp.ts", ...args));
    assert.equal(compareLines(lines, fixture.tutorials["001"], { relative: 0.03 }), null, `tutorial 001 on ${label}`);
  });
}

Deno.test("compareLines tells a changed number from float32 noise", () => {
  assert.equal(compareLines(["w = 2.000, loss = 0.01966080"], ["w = 2.000, loss = 0.01966083"]), null);
  assert.match(compareLines(["w = 2.003"], ["w = 2.000"]) ?? "", /2.003 where PyTorch printed 2.000/);
  assert.notEqual(compareLines(["w = 2.000"], ["v = 2.000"]), null);
});
