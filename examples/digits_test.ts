// The digits demo (examples/digits), end to end as `deno task demo` runs it,
// with its default 12 epochs (about 15 s on two cores), and its parts.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { loadDigits, parseDigitsCsv, splitDigits, toInputs } from "./digits/data.ts";
import { confusionMatrix } from "./digits/fit.ts";
import { DigitsNet } from "./digits/model.ts";
import { epochLine } from "./digits/progress.ts";
import { DEFAULTS, parseFlags, UsageError } from "./digits/train.ts";

const TRAIN = new URL("./digits/train.ts", import.meta.url).pathname;

async function demo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

Deno.test("the demo trains to 97% or more, draws its charts and saves a smaller pack that scores the same", async () => {
  const out = await Deno.makeTempDir();
  const { code, stdout, stderr } = await demo("--out", out);
  assert.equal(code, 0, `the demo failed:\n${stderr}`);

  // stdout is a pipe here: one line per epoch instead of a bar.
  const epochs = stdout.split("\n").filter((l) => /^epoch +\d+\/12 /.test(l));
  assert.equal(epochs.length, DEFAULTS.epochs);
  assert.match(epochs[11], /loss \d\.\d{4} .*test acc \d+\.\d% .*steps\/s .*0s left$/);

  const metrics = JSON.parse(await Deno.readTextFile(`${out}/metrics.json`));
  assert.equal(metrics.seed, 0);
  assert.equal(metrics.trainImages + metrics.testImages, 1797);
  assert.ok(metrics.testAccuracy >= 0.97, `test accuracy ${metrics.testAccuracy}`);
  assert.ok(
    Math.abs(metrics.packAccuracy - metrics.testAccuracy) <= 0.005,
    `pack ${metrics.packAccuracy} vs float32 ${metrics.testAccuracy}`,
  );
  assert.ok(
    metrics.packBytes < metrics.float32Bytes / 2,
    `pack ${metrics.packBytes} B, float32 ${metrics.float32Bytes} B`,
  );
  assert.ok(metrics.history[11].trainLoss < metrics.history[0].trainLoss / 10, "the loss falls");
  assert.match(stdout, new RegExp(`test accuracy ${(100 * metrics.testAccuracy).toFixed(2)}%`));
  assert.match(stdout, /model\.pack: \d+\.\d KB \(int8, gzip\) vs \d+\.\d KB as float32 safetensors/);

  for (const name of ["curves", "confusion"]) {
    const svg = await Deno.readTextFile(`${out}/${name}.svg`);
    assert.match(svg, /^<svg/);
    assert.ok(stdout.includes(`${out}/${name}.svg`), `the path of ${name}.svg is printed`);
    const png = await Deno.readFile(`${out}/${name}.png`);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(png.length > 10_000, `${name}.png has ${png.length} bytes`);
  }
  const confusionSvg = await Deno.readTextFile(`${out}/confusion.svg`);
  assert.ok(confusionSvg.includes("predicted digit") && confusionSvg.includes("true digit"));

  const pack = await Deno.readFile(`${out}/model.pack`);
  assert.deepEqual([...pack.subarray(0, 2)], [0x1f, 0x8b], "the pack is gzip");
  assert.equal(pack.length, metrics.packBytes);
  const reloaded = new DigitsNet();
  reloaded.loadStateDict(await torch.load(pack));
  assert.equal(reloaded.stateDict()["fc.weight"].dtype, "float32");
  await Deno.remove(out, { recursive: true });
});

Deno.test("the demo prints its usage with --help and exits 2 on a bad flag", async () => {
  const help = await demo("--help");
  assert.equal(help.code, 0);
  for (const flag of ["--device", "--tfjs-backend", "--epochs", "--seed", "--out", "--help"]) {
    assert.ok(help.stdout.includes(flag), `the usage names ${flag}`);
  }
  assert.match(help.stdout, /^Train a small convolutional network/);

  const bad = await demo("--bogus");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: unknown flag --bogus\nRun with --help for the usage\./);
  assert.equal(bad.stdout, "");

  const zero = await demo("--epochs", "0");
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /--epochs must be an integer >= 1, got "0"/);
});

Deno.test("parseFlags() reads both flag forms and names what is wrong", () => {
  assert.deepEqual(parseFlags([]), DEFAULTS);
  assert.deepEqual(
    parseFlags(["--device=tfjs", "--tfjs-backend", "cpu", "--epochs", "3", "--seed=5", "--out", "x/y", "-h"]),
    { device: "tfjs", tfjsBackend: "cpu", epochs: 3, seed: 5, out: "x/y", help: true },
  );
  const cases: [string[], RegExp][] = [
    [["--device", "gpu"], /--device must be cpu, webgpu or tfjs, got "gpu"/],
    [["--epochs"], /--epochs needs a value/],
    [["--epochs", "--seed", "1"], /--epochs needs a value/],
    [["--epochs", "2.5"], /--epochs must be an integer >= 1, got "2.5"/],
    [["--seed", "-1"], /--seed must be an integer >= 0, got "-1"/],
    [["--tfjs-backend=webgl"], /--tfjs-backend must be cpu or wasm, got "webgl"/],
    [["extra"], /unexpected argument "extra"/],
    [["--out="], /--out needs a directory/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseFlags(args), (e) => e instanceof UsageError && message.test(e.message), args.join(" "));
  }
});

Deno.test("loadDigits() reads the embedded 1,797 digits with every class present", async () => {
  const digits = await loadDigits();
  assert.equal(digits.length, 1797);
  assert.equal(digits.images.length, 1797 * 64);
  const counts = new Array(10).fill(0);
  for (const label of digits.labels) counts[label]++;
  // sklearn.datasets.load_digits(): np.bincount(target)
  assert.deepEqual(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
  assert.deepEqual([...digits.images.subarray(0, 8)], [0, 0, 5, 13, 9, 1, 0, 0]);
  assert.equal(Math.max(...digits.images), 16);
});

Deno.test("parseDigitsCsv() names the line and value that are wrong", () => {
  const row = Array(64).fill(1).join(",");
  assert.throws(
    () => parseDigitsCsv(`${row},3\n1,2\n`),
    /digits line 2: expected 65 values \(64 pixels, a label\), got 2/,
  );
  assert.throws(
    () => parseDigitsCsv(`${row},10\n`),
    /digits line 1, value 65: expected an integer in 0\.\.9, got "10"/,
  );
  assert.throws(() => parseDigitsCsv(`17,${row.slice(2)},3\n`), /value 1: expected an integer in 0\.\.16, got "17"/);
});

Deno.test("splitDigits() splits as PyTorch's random_split with a seeded generator", async () => {
  const digits = await loadDigits();
  const { train, test, testIndices } = splitDigits(digits, { seed: 0 });
  assert.equal(train.length, 1438);
  assert.equal(test.length, 359);
  // random_split(range(1797), [0.8, 0.2], generator=torch.Generator().manual_seed(0))[1].indices[:8]
  assert.deepEqual(testIndices.slice(0, 8), [909, 1253, 225, 895, 1261, 1295, 1459, 403]);
  // ... and with manual_seed(3)
  assert.deepEqual(splitDigits(digits, { seed: 3 }).testIndices.slice(0, 5), [973, 1020, 544, 862, 1418]);
  const [x, y] = test.tensors;
  assert.deepEqual(x.shape, [359, 1, 8, 8]);
  assert.equal(y.dtype, "int32");
  assert.equal(y.index(0).itemSync(), digits.labels[909]);
  assert.deepEqual(
    Array.from(x.index(0).reshape(64).dataSync()),
    Array.from(digits.images.subarray(909 * 64, 910 * 64), (v) => v / 16),
  );
});

Deno.test("DigitsNet has PyTorch's state-dict keys and 9,850 parameters", () => {
  torch.manualSeed(0);
  const model = new DigitsNet();
  // The same modules in PyTorch: list(net.state_dict().keys())
  const bn = (
    p: string,
  ) => [`${p}.weight`, `${p}.bias`, `${p}.running_mean`, `${p}.running_var`, `${p}.num_batches_tracked`];
  assert.deepEqual(Object.keys(model.stateDict()), [
    "stem.0.weight",
    ...bn("stem.1"),
    "block.conv1.weight",
    ...bn("block.bn1"),
    "block.conv2.weight",
    ...bn("block.bn2"),
    "head.0.weight",
    ...bn("head.1"),
    "fc.weight",
    "fc.bias",
  ]);
  assert.equal(model.parameters().reduce((n, p) => n + p.numel(), 0), 9850);
  const logits = model.eval()(toInputs(new Float32Array(128)));
  assert.deepEqual(logits.shape, [2, 10]);
});

Deno.test("confusionMatrix() counts truth by row and prediction by column", () => {
  const m = confusionMatrix(Int32Array.of(0, 0, 2, 1), Int32Array.of(0, 2, 2, 1), 3);
  assert.deepEqual(m, [[1, 0, 1], [0, 1, 0], [0, 0, 1]]);
});

Deno.test("epochLine() sums an epoch up with the time left", () => {
  const stats = {
    epoch: 3,
    trainLoss: 0.12345,
    trainAccuracy: 0.975,
    testLoss: 0.2,
    testAccuracy: 0.99,
    seconds: 1,
    steps: 45,
  };
  assert.equal(
    epochLine(stats, 12, 52.04, 75.4),
    "epoch  3/12  loss 0.1235  acc 97.5%  test loss 0.2000  test acc 99.0%  52.0 steps/s  1m15s left",
  );
});
