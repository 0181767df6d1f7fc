// Image decoding against Pillow (tests/fixtures/resnet, written by
// make_resnet_fixtures.py). PNG: the same bytes as Pillow's
// `Image.open(f).convert("RGB")` for every colour type. JPEG: jpeg-js is not
// libjpeg-turbo (it repeats chroma samples where libjpeg-turbo interpolates
// them, and truncates its YCbCr→RGB where libjpeg-turbo rounds), so these
// tests pin the measured difference rather than equality.

import assert from "node:assert/strict";
import { decodeImage, openImage, transforms } from "./mod.ts";
import { exists, type ImageRecord, RESNET_FIXTURES, resnetFixture, sampleIndex, sha256Hex } from "./_resnet_fixture.ts";

const fx = await resnetFixture();

/** How far Flint's decode and crop are from Pillow's, over the fixture's sampled pixels. */
function distance(img: ReturnType<typeof decodeImage>, rec: ImageRecord) {
  let decodedMax = 0;
  for (const [i, r, g, b] of rec.decoded.samples) {
    const p = i * 3;
    decodedMax = Math.max(
      decodedMax,
      Math.abs(img.data[p] - r),
      Math.abs(img.data[p + 1] - g),
      Math.abs(img.data[p + 2] - b),
    );
  }
  const crop = transforms.centerCrop(transforms.resize(img, 256), 224);
  const n = 224 * 224;
  const chw = (k: number) => crop.data[(k % n) * 3 + Math.floor(k / n)];
  let cropMax = 0, cropSum = 0;
  rec.crop.samples.forEach((v, i) => {
    const d = Math.abs(chw(sampleIndex(3 * n, i)) - v);
    cropMax = Math.max(cropMax, d);
    cropSum += d;
  });
  const means = [0, 1, 2].map((c) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += crop.data[i * 3 + c];
    return s / n;
  });
  const meanShift = Math.max(...means.map((m, c) => Math.abs(m - rec.crop.mean[c])));
  return { decodedMax, cropMax, cropMeanAbs: cropSum / rec.crop.samples.length, meanShift };
}

Deno.test("PNGs decode to Pillow's bytes: RGB, gray, palette, RGBA, 1-bit, 16-bit RGB and 16-bit gray", async () => {
  const pngs = fx.images.filter((r) => r.file.endsWith(".png"));
  assert.deepEqual(new Set(pngs.map((r) => r.mode)), new Set(["RGB", "L", "P", "RGBA", "1", "I"]));
  for (const rec of pngs) {
    const img = await openImage(new URL(rec.file, RESNET_FIXTURES));
    assert.deepEqual([img.width, img.height], rec.size, rec.file);
    assert.equal(sha256Hex(img.data), rec.decoded.sha256, `${rec.file} (${rec.mode}) decodes differently from Pillow`);
  }
});

Deno.test("JPEGs without chroma subsampling decode within 4 levels of libjpeg-turbo, 2 after the crop", async () => {
  for (const name of ["images/photo_333x517_q75_444.jpg", "images/gray_300x257.jpg"]) {
    const rec = fx.images.find((r) => r.file === name)!;
    const d = distance(decodeImage(await Deno.readFile(new URL(name, RESNET_FIXTURES))), rec);
    assert.ok(d.decodedMax <= 4 && d.cropMax <= 2 && d.meanShift <= 0.5, `${name}: ${JSON.stringify(d)}`);
  }
});

Deno.test("4:2:0 JPEGs differ from libjpeg-turbo at sharp colour edges, not on average", async () => {
  // The synthetic cards' one-pixel red stripes and checkerboards are the worst case for repeated chroma:
  // up to ~100 levels at edges, yet every channel's mean moves by less than a level.
  for (const name of ["images/photo_500x375_q90.jpg", "images/progressive_400x300.jpg"]) {
    const rec = fx.images.find((r) => r.file === name)!;
    const d = distance(decodeImage(await Deno.readFile(new URL(name, RESNET_FIXTURES))), rec);
    assert.ok(d.meanShift <= 1 && d.cropMeanAbs <= 6, `${name}: ${JSON.stringify(d)}`);
    assert.ok(d.cropMax > 2, "the difference is real: if this fails, the decoder now interpolates chroma");
  }
});

const reference = Deno.env.get("FLINT_RESNET18_REFERENCE") ??
  new URL("../../shared/reference/resnet18", import.meta.url).pathname;
Deno.test({
  name: "the reference photos preprocess within a level on average of torchvision's (libjpeg-turbo)",
  ignore: fx.photos.length === 0 || !(await exists(reference)),
  fn: async () => {
    for (const rec of fx.photos) {
      const img = await openImage(`${reference}/${rec.file}`);
      assert.deepEqual([img.width, img.height], rec.size);
      const d = distance(img, rec);
      console.log(rec.file, JSON.stringify(d));
      assert.ok(d.meanShift <= 1 && d.cropMeanAbs <= 1.5 && d.cropMax <= 32, `${rec.file}: ${JSON.stringify(d)}`);
    }
  },
});

Deno.test("decodeImage() names what it expected when the bytes are neither JPEG nor PNG", () => {
  assert.throws(
    () => decodeImage(new TextEncoder().encode("GIF89a")),
    /expected a JPEG \(ff d8 ff\) or PNG .* got 47 49 46 38 39 61/,
  );
});

Deno.test("decodeImage() refuses a PNG larger than maxPixels before inflating it", async () => {
  const bytes = await Deno.readFile(new URL("images/card_1200x300.png", RESNET_FIXTURES));
  assert.throws(
    () => decodeImage(bytes, { maxPixels: 1000 }),
    /PNG of 1200x300 pixels exceeds the limit of 1000 pixels/,
  );
});
