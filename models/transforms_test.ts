// Preprocessing against torchvision + Pillow (tests/fixtures/resnet, written
// by make_resnet_fixtures.py): on PNGs, which both sides decode to the same
// bytes, Resize(256) + CenterCrop(224) must give Pillow's bytes exactly and
// the normalized tensor torchvision's float32 values; small cases check the
// rules (sizes, rounding, padding) against what torchvision printed.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";
import { decodeImage, ResNet18_Weights, type RgbImage, transforms } from "./mod.ts";
import { type ImageRecord, RESNET_FIXTURES, resnetFixture, sampleIndex, sha256Hex } from "./_resnet_fixture.ts";

const fx = await resnetFixture();

/** HWC bytes as CHW, the layout of `pil_to_tensor`. */
function chw(img: RgbImage): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = img.data[i * 3 + c];
  return out;
}

function gray(width: number, height: number, f: (x: number, y: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.fill(f(x, y), (y * width + x) * 3, (y * width + x) * 3 + 3);
  }
  return { width, height, data };
}

const pngs = fx.images.filter((r: ImageRecord) => r.file.endsWith(".png"));

Deno.test("Resize(256) + CenterCrop(224) give Pillow's bytes exactly on every PNG (up, down, odd, extreme)", async () => {
  assert.equal(pngs.length, 12);
  for (const rec of pngs) {
    const img = decodeImage(await Deno.readFile(new URL(rec.file, RESNET_FIXTURES)));
    const resized = transforms.resize(img, 256);
    assert.deepEqual([resized.width, resized.height], rec.resized, `${rec.file} resized size`);
    const crop = chw(transforms.centerCrop(resized, 224));
    assert.equal(sha256Hex(crop), rec.crop.sha256, `${rec.file}: crop differs from torchvision's`);
  }
});

Deno.test("weights.transforms() gives torchvision's normalized float32 tensor on PNGs", async () => {
  const preprocess = ResNet18_Weights.DEFAULT.transforms();
  for (const rec of pngs.slice(0, 4)) {
    const x = preprocess(decodeImage(await Deno.readFile(new URL(rec.file, RESNET_FIXTURES))));
    assert.deepEqual(x.shape, [3, 224, 224]);
    assert.equal(x.dtype, "float32");
    const data = x.dataSync();
    const got = rec.normalized.samples.map((_, i) => data[sampleIndex(data.length, i)]);
    assert.deepEqual(got, rec.normalized.samples.map(Math.fround), rec.file);
    const means = [0, 1, 2].map((c) => x.index(c).double().mean().itemSync());
    means.forEach((m, c) => assert.ok(Math.abs(m - rec.normalized.mean[c]) < 1e-6, `${rec.file} channel ${c}`));
  }
});

Deno.test("resize() sets the shorter side and truncates the longer as torchvision", () => {
  const img = gray(300, 200, (x, y) => (x + y) % 256);
  assert.deepEqual([transforms.resize(img, 256).width, transforms.resize(img, 256).height], [384, 256]);
  const tall = gray(7, 10, () => 9);
  const r = transforms.resize(tall, 3);
  assert.deepEqual([r.width, r.height], [3, 4]); // int(3 * 10 / 7) = 4
  assert.ok(r.data.every((v) => v === 9), "a flat image stays flat");
  assert.deepEqual(transforms.resize(tall, [2, 5]).height, 2);
  assert.deepEqual([
    transforms.resize(img, 100, { maxSize: 120 }).width,
    transforms.resize(img, 100, { maxSize: 120 }).height,
  ], [
    120,
    80,
  ]);
  assert.throws(() => transforms.resize(img, 100, { maxSize: 100 }), /max_size = 100 must be strictly greater/);
  assert.throws(() => transforms.resize({ width: 2, height: 2, data: new Uint8Array(3) }, 1), /needs 12 bytes, got 3/);
});

Deno.test("centerCrop() rounds halves to even and pads small images with black, as torchvision", () => {
  const img = gray(5, 4, (x, y) => y * 5 + x);
  assert.deepEqual([...transforms.centerCrop(img, [1, 2]).data].filter((_, i) => i % 3 === 0), [12, 13]);
  const small = gray(2, 2, (x, y) => 10 * (y * 2 + x) + 10);
  const padded = transforms.centerCrop(small, [4, 5]);
  const rows = Array.from({ length: 4 }, (_, y) => Array.from({ length: 5 }, (_, x) => padded.data[(y * 5 + x) * 3]));
  assert.deepEqual(rows, [[0, 0, 0, 0, 0], [0, 10, 20, 0, 0], [0, 30, 40, 0, 0], [0, 0, 0, 0, 0]]);
});

Deno.test("a 2x downscale averages with Pillow's antialiasing filter", () => {
  // Pillow gives [86, 100, 100, 114]: the filter spans 2 input pixels per side, renormalized at the edges.
  const img = gray(8, 1, (x) => (x % 2 === 0 ? 0 : 200));
  const r = transforms.resize(img, [1, 4]);
  assert.deepEqual([...r.data].filter((_, i) => i % 3 === 0), [86, 100, 100, 114]);
});

Deno.test("toTensor() and normalize() are torchvision's, in float32", () => {
  const t = transforms.toTensor({ width: 2, height: 1, data: new Uint8Array([0, 128, 255, 1, 2, 3]) });
  assert.deepEqual(t.shape, [3, 1, 2]);
  assert.deepEqual([...t.dataSync()], [0, 1, 128, 2, 255, 3].map((v) => Math.fround(v / 255)));
  const n = transforms.normalize(torch.ones(3, 1, 1), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
  assert.deepEqual([...n.dataSync()], [
    Math.fround(Math.fround(1 - Math.fround(0.485)) / Math.fround(0.229)),
    Math.fround(Math.fround(1 - Math.fround(0.456)) / Math.fround(0.224)),
    Math.fround(Math.fround(1 - Math.fround(0.406)) / Math.fround(0.225)),
  ]);
  assert.throws(() => transforms.normalize(torch.ones(3, 1, 1), [0, 0, 0], [1, 0, 1]), /std evaluated to zero/);
});

Deno.test("ImageClassification prints as torchvision's preset", () => {
  assert.equal(
    String(ResNet18_Weights.DEFAULT.transforms()),
    "ImageClassification(\n    crop_size=[224]\n    resize_size=[256]\n    mean=[0.485, 0.456, 0.406]\n" +
      "    std=[0.229, 0.224, 0.225]\n    interpolation=InterpolationMode.BILINEAR\n)",
  );
});
