// Image decoding against Pillow (tests/fixtures/resnet, written by
// make_resnet_fixtures.py). PNG: the same bytes as Pillow's
// `Image.open(f).convert("RGB")` for every colour type. JPEG: libjpeg in
// WebAssembly gives the bytes of Pillow's libjpeg-turbo (accurate IDCT,
// fancy chroma upsampling), so decodes and Resize(256) + CenterCrop(224)
// crops are compared by hash; CMYK, which goes through jpeg-js, within a level.

import assert from "node:assert/strict";
import { decodeImage, openImage, transforms } from "./mod.ts";
import { exists, type ImageRecord, RESNET_FIXTURES, resnetFixture, sampleIndex, sha256Hex } from "./_resnet_fixture.ts";

const fx = await resnetFixture();

/** HWC bytes as CHW, the layout of torchvision's tensor. */
function chw(img: ReturnType<typeof decodeImage>): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = img.data[i * 3 + c];
  return out;
}

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
  const crop = chw(transforms.centerCrop(transforms.resize(img, 256), 224));
  let cropMax = 0, cropSum = 0;
  rec.crop.samples.forEach((v, i) => {
    const d = Math.abs(crop[sampleIndex(crop.length, i)] - v);
    cropMax = Math.max(cropMax, d);
    cropSum += d;
  });
  const n = 224 * 224;
  const means = [0, 1, 2].map((c) => crop.subarray(c * n, (c + 1) * n).reduce((s, v) => s + v, 0) / n);
  const meanShift = Math.max(...means.map((m, c) => Math.abs(m - rec.crop.mean[c])));
  return {
    decodedEqual: sha256Hex(img.data) === rec.decoded.sha256,
    cropEqual: sha256Hex(crop) === rec.crop.sha256,
    decodedMax,
    cropMax,
    cropMeanAbs: cropSum / rec.crop.samples.length,
    meanShift,
  };
}

const jpegs = fx.images.filter((r) => r.file.endsWith(".jpg"));
const record = (name: string) => fx.images.find((r) => r.file === `images/${name}`)!;
const fixture = (name: string) => Deno.readFile(new URL(`images/${name}`, RESNET_FIXTURES));

Deno.test("PNGs decode to Pillow's bytes: RGB, gray, palette, RGBA, 1-bit, 16-bit RGB and 16-bit gray", async () => {
  const pngs = fx.images.filter((r) => r.file.endsWith(".png"));
  assert.deepEqual(new Set(pngs.map((r) => r.mode)), new Set(["RGB", "L", "P", "RGBA", "1", "I"]));
  for (const rec of pngs) {
    const img = await openImage(new URL(rec.file, RESNET_FIXTURES));
    assert.deepEqual([img.width, img.height], rec.size, rec.file);
    assert.equal(sha256Hex(img.data), rec.decoded.sha256, `${rec.file} (${rec.mode}) decodes differently from Pillow`);
  }
});

Deno.test("JPEGs decode to libjpeg-turbo's bytes and crop to torchvision's: 4:2:0, 4:2:2, 4:4:4, gray, progressive, tiny", async () => {
  const names = [
    "photo_500x375_q90.jpg",
    "photo_259x181_q85_422.jpg",
    "photo_333x517_q75_444.jpg",
    "gray_300x257.jpg",
    "progressive_400x300.jpg",
    "tiny_5x3.jpg",
  ];
  for (const name of names) {
    const rec = record(name);
    const img = decodeImage(await fixture(name));
    assert.deepEqual([img.width, img.height], rec.size, name);
    const d = distance(img, rec);
    assert.ok(d.decodedEqual && d.cropEqual, `${name}: ${JSON.stringify(d)}`);
    assert.equal(transforms.resize(img, 256).width, rec.resized[0], name);
  }
});

Deno.test("a JPEG with damaged entropy-coded data decodes, as in Pillow (libjpeg's warning is no error)", async () => {
  // Up to the damage the bytes are Pillow's; past it, each libjpeg version resynchronises in its own way.
  const rec = record("corrupt_data_240x180.jpg") as ImageRecord & { intact_rows: number };
  const img = decodeImage(await fixture("corrupt_data_240x180.jpg"));
  assert.deepEqual([img.width, img.height], [240, 180]);
  const intact = rec.decoded.samples.filter(([i]) => i < rec.intact_rows * 240);
  assert.ok(intact.length > 50);
  for (const [i, r, g, b] of intact) {
    assert.deepEqual([...img.data.subarray(i * 3, i * 3 + 3)], [r, g, b], `pixel ${i}`);
  }
});

Deno.test("EXIF orientation is not applied, as Image.open does not", async () => {
  const img = decodeImage(await fixture("exif_orientation6_96x64.jpg"));
  assert.deepEqual([img.width, img.height], [96, 64]);
  assert.equal(sha256Hex(img.data), record("exif_orientation6_96x64.jpg").decoded.sha256);
});

Deno.test("CMYK JPEGs (jpeg-js, libjpeg has no CMYK→RGB) are within a level of Pillow's convert('RGB')", async () => {
  const rec = record("cmyk_123x77.jpg");
  assert.equal(rec.mode, "CMYK");
  const d = distance(decodeImage(await fixture("cmyk_123x77.jpg")), rec);
  assert.ok(d.decodedMax <= 1 && d.cropMax <= 1 && d.meanShift <= 0.1, JSON.stringify(d));
});

Deno.test("every intact JPEG fixture is within a level of torchvision after resize and crop", async () => {
  assert.equal(jpegs.length, 9);
  for (const rec of jpegs.filter((r) => !r.file.includes("corrupt"))) {
    const d = distance(decodeImage(await Deno.readFile(new URL(rec.file, RESNET_FIXTURES))), rec);
    assert.ok(d.cropMax <= 1, `${rec.file}: ${JSON.stringify(d)}`);
  }
});

const reference = Deno.env.get("FLINT_RESNET18_REFERENCE") ??
  new URL("../../shared/reference/resnet18", import.meta.url).pathname;
Deno.test({
  name: "the reference photos decode to Pillow's bytes and preprocess to torchvision's crop exactly",
  ignore: fx.photos.length === 0 || !(await exists(reference)),
  fn: async () => {
    for (const rec of fx.photos) {
      const img = await openImage(`${reference}/${rec.file}`);
      assert.deepEqual([img.width, img.height], rec.size);
      const d = distance(img, rec);
      assert.ok(d.decodedEqual && d.cropEqual, `${rec.file}: ${JSON.stringify(d)}`);
    }
  },
});

Deno.test("decodeImage() names what it expected when the bytes are neither JPEG nor PNG", () => {
  assert.throws(
    () => decodeImage(new TextEncoder().encode("GIF89a")),
    /expected a JPEG \(ff d8 ff\) or PNG .* got 47 49 46 38 39 61/,
  );
});

Deno.test("decodeImage() refuses a PNG or a JPEG larger than maxPixels before decoding it", async () => {
  const jpeg = await fixture("photo_500x375_q90.jpg");
  assert.throws(
    () => decodeImage(Deno.readFileSync(new URL("images/card_1200x300.png", RESNET_FIXTURES)), { maxPixels: 1000 }),
    /PNG of 1200x300 pixels exceeds the limit of 1000 pixels/,
  );
  assert.throws(
    () => decodeImage(jpeg, { maxPixels: 1000 }),
    /JPEG of 500x375 pixels exceeds the limit of 1000 pixels/,
  );
});

Deno.test("a truncated JPEG is an error, as in Pillow (libjpeg alone would pad it with gray)", async () => {
  const bytes = await fixture("photo_500x375_q90.jpg");
  assert.throws(() => decodeImage(bytes.subarray(0, bytes.length >> 1)), /image file is truncated/);
});

Deno.test("libjpeg's errors carry its message and leave the decoder usable", async () => {
  const noImage = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x02, 0xff, 0xd9]);
  // Each failure exits the WebAssembly module mid-call; a kept instance would leak its stack until it broke.
  for (let i = 0; i < 300; i++) assert.throws(() => decodeImage(noImage), /cannot decode JPEG: .*contains no image/);
  const rec = record("photo_500x375_q90.jpg");
  assert.equal(sha256Hex(decodeImage(await fixture("photo_500x375_q90.jpg")).data), rec.decoded.sha256);
});

Deno.test("arithmetic-coded JPEGs are refused by name", () => {
  // SOI, then an SOF9 frame header: 8-bit, 16x16, 1 component.
  const sof9 = new Uint8Array([
    0xff,
    0xd8,
    0xff,
    0xc9,
    0x00,
    0x0b,
    0x08,
    0x00,
    0x10,
    0x00,
    0x10,
    0x01,
    0x01,
    0x11,
    0x00,
  ]);
  assert.throws(() => decodeImage(sof9), /arithmetic-coded JPEGs \(SOF9\) are not supported/);
});
