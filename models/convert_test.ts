// The converter: packs that are smaller, whose logits differ from float32 by
// exactly what the report says, and whose float16 rounding is torch's
// (`.half()`), checked against the logits torchvision computed from
// float16-rounded weights (tests/fixtures/resnet/resnet.json).

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { convertWeights, formatConvertReport, parseConvertArgs } from "./convert.ts";
import { load, type ResNet, resnet18, save } from "./mod.ts";
import { maxAbsDiff, RESNET_FIXTURES, resnetFixture } from "./_resnet_fixture.ts";

const fx = await resnetFixture();
const dir = await Deno.makeTempDir();
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
torch.manualSeed(0);
const seed0 = resnet18();
const pth = `${dir}/resnet18.pth`;
await save(seed0.stateDict(), pth);

function modelFrom(sd: Record<string, torch.Tensor>): ResNet {
  const m = resnet18();
  m.loadStateDict(sd);
  return m.eval();
}

Deno.test("an int8 pack is under a quarter of the .pth and moves the logits by exactly what the report says", async () => {
  const out = `${dir}/int8.pack`;
  const report = await convertWeights(pth, out, { size: 64 });
  assert.equal(report.model, "resnet18");
  assert.deepEqual([report.quantization, report.compression], ["int8", "gzip"]);
  assert.equal(report.inputBytes, (await Deno.stat(pth)).size);
  assert.ok(report.outputBytes < report.inputBytes / 4, `${report.outputBytes} of ${report.inputBytes}`);
  torch.manualSeed(0);
  const x = torch.rand(1, 3, 64, 64);
  const before = torch.noGrad(() => seed0.eval()(x)).dataSync();
  const packed = modelFrom(await load(out));
  const after = torch.noGrad(() => packed(x)).dataSync();
  assert.equal(maxAbsDiff(before, after), report.maxLogitDiff);
  // Per-channel int8 on random kaiming weights: about 1% of the logits' span.
  const span = report.logitRange![1] - report.logitRange![0];
  assert.ok(report.maxLogitDiff! > 0 && report.maxLogitDiff! < 0.02 * span, `${report.maxLogitDiff} of ${span}`);
  assert.ok(report.maxWeightDiff > 0 && report.maxWeightDiff < 5e-3, `${report.maxWeightDiff}`);
  assert.match(
    formatConvertReport(pth, out, report),
    /resnet18: largest logit difference from float32 0\.0\d+ on torch\.rand\(1, 3, 64, 64\)/,
  );
});

Deno.test("deno task convert --float16 --deflate writes a pack whose logits are torch's float16-rounded ones", async () => {
  const out = `${dir}/f16.pack`;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./convert.ts", import.meta.url).pathname,
      pth,
      out,
      "--float16",
      "--deflate",
      "--size",
      "64",
    ],
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  assert.match(lines[0], /\(46\.8\d MB\) -> .*f16\.pack \(float16 \+ deflate, 2\d\.\d\d MB, 4\d\.\d% of the input\)$/);
  const reported = Number(/largest logit difference from float32 ([\d.e-]+)/.exec(lines[1])![1]);
  assert.ok(reported > 0 && reported < 2e-3, lines[1]);
  const bytes = await Deno.readFile(out);
  assert.equal(bytes[0], 0x78, "zlib-wrapped deflate");
  // The same weights rounded by torch's .half(): torchvision's logits on the fixture's input.
  torch.manualSeed(fx.eval.input.seed);
  const x = torch.rand(fx.eval.input.shape);
  const packed = modelFrom(await load(bytes));
  const logits = torch.noGrad(() => packed(x)).dataSync();
  const diff = maxAbsDiff(logits, fx.eval.float16_logits.flat());
  assert.ok(diff <= 1e-4, `largest difference from torch's float16 logits ${diff}`);
});

Deno.test("a state dict that is not a ResNet gets the largest weight difference only", async () => {
  const out = `${dir}/small.pack`;
  const report = await convertWeights(new URL("small_fp16.pth", RESNET_FIXTURES), out, { quantization: "float16" });
  assert.equal(report.model, null);
  assert.equal(report.maxLogitDiff, null);
  // float16 values through a float16 pack come back unchanged.
  assert.equal(report.maxWeightDiff, 0);
  assert.match(formatConvertReport("small_fp16.pth", out, report), /not a ResNet state dict Flint can build/);
});

Deno.test("the command line takes the flags of the issue and refuses others by name", () => {
  assert.deepEqual(parseConvertArgs(["a.pth", "b.pack", "--float16", "--gzip", "--model", "resnet50"]), {
    input: "a.pth",
    output: "b.pack",
    options: { quantization: "float16", compression: "gzip", model: "resnet50" },
  });
  assert.throws(() => parseConvertArgs(["a.pth"]), /usage: deno task convert/);
  assert.throws(
    () => parseConvertArgs(["a", "b", "--model", "vgg16"]),
    /--model must be resnet18, resnet34 or resnet50, got vgg16/,
  );
  assert.throws(() => parseConvertArgs(["a", "b", "--bf16"]), /unknown option --bf16/);
});
