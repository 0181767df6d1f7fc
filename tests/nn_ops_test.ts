// conv2d and pooling beyond the shared parity suite: the same PyTorch fixtures
// on a CPU backend with its fused kernels removed (the composed path every new
// backend starts on), gradcheck there too, which path runs when, and PyTorch's
// node names and error messages.

import assert from "node:assert/strict";
import type { FusedKernels } from "@flint/backend";
import { CpuBackend } from "@flint/cpu";
import * as torch from "@flint/torch";
import { applyTransform, leafOf, loadFixture, type OpFixtures } from "./conformance/fixtures.ts";
import { OPS } from "./conformance/op_table.ts";
import { runCase } from "./conformance/run_case.ts";

const COMPOSED = "cpu-composed";
const composed = torch.registerBackend(new CpuBackend({ name: COMPOSED }));
const fusedTable = composed.backend.fused as Record<string, unknown>;
for (const key of Object.keys(fusedTable)) delete fusedTable[key];

const fixtures = loadFixture<OpFixtures>("nn_ops.json");
const byOp = Map.groupBy(fixtures.cases, (c) => c.op);
const TOLERANCE = { rtol: 1.3e-6, atol: 1e-5 };

Deno.test("the composed backend really has no fused kernels", () => {
  assert.deepEqual(Object.keys(composed.backend.fused), []);
  assert.ok(torch.device("cpu").backend.fused.conv2d !== undefined);
});

for (const [op, cases] of byOp) {
  Deno.test(`${op} matches PyTorch without fused kernels (${cases.length} cases)`, async () => {
    const failures: string[] = [];
    for (const c of cases) {
      const r = await runCase(c, COMPOSED, TOLERANCE);
      if (!r.ok) failures.push(`${r.name}: ${r.message}`);
    }
    assert.equal(failures.length, 0, `\n${failures.join("\n")}`);
  });

  Deno.test(`${op} gradients pass gradcheck without fused kernels`, () => {
    const checked = cases.filter((c) => c.gradcheck);
    const failures: string[] = [];
    // gradcheck makes its perturbed inputs (and gradgradcheck its upstream
    // gradients) on the default device.
    torch.setDefaultDevice(COMPOSED);
    checked.forEach((c, i) => {
      const leaves = c.inputs.map((spec) => leafOf(spec, COMPOSED, "float64"));
      const diff = leaves.filter((t, k) => c.inputs[k].requires_grad && t.dtype === "float64");
      const fn = (...xs: torch.Tensor[]) => {
        let k = 0;
        const inputs = leaves.map((leaf, j) =>
          applyTransform(c.inputs[j].requires_grad ? xs[k++] : leaf, c.inputs[j].transform)
        );
        const out = OPS[c.op](inputs, c.kwargs);
        return (Array.isArray(out) ? out : [out]).filter((o) => o.dtype === "float64");
      };
      try {
        torch.autograd.gradcheck(fn, diff);
        if (i === 0) torch.autograd.gradgradcheck(fn, diff);
      } catch (error) {
        failures.push(`${c.name}: ${(error as Error).message.split("\n")[0]}`);
      }
    });
    torch.setDefaultDevice("cpu");
    assert.ok(checked.length > 0);
    assert.deepEqual(failures, []);
  });
}

/** A CPU backend whose fused kernels count their calls. */
function countingDevice(name: string): { device: torch.Device; calls: Map<string, number> } {
  const backend = new CpuBackend({ name });
  const calls = new Map<string, number>();
  const table = backend.fused as Record<string, (...args: unknown[]) => unknown>;
  for (const [key, kernel] of Object.entries(table)) {
    table[key] = (...args: unknown[]) => {
      calls.set(key, (calls.get(key) ?? 0) + 1);
      return kernel(...args);
    };
  }
  return { device: torch.registerBackend(backend), calls };
}

Deno.test("conv2d and its gradients run the backend's fused kernels when it has them", () => {
  const { device, calls } = countingDevice("cpu-counted-conv");
  const x = torch.randn([2, 3, 6, 6], { device, requiresGrad: true });
  const w = torch.randn([4, 3, 3, 3], { device, requiresGrad: true });
  torch.conv2d(x, w, null, { padding: 1 }).sum().backward();
  assert.deepEqual(
    Object.fromEntries(calls),
    { conv2d: 1, conv2dBackwardInput: 1, conv2dBackwardWeight: 1 } satisfies Partial<
      Record<keyof FusedKernels, number>
    >,
  );
});

Deno.test("pooling runs fused kernels, and adaptive pooling does when its windows tile the input", () => {
  const { device, calls } = countingDevice("cpu-counted-pool");
  const x = torch.randn([1, 2, 6, 6], { device, requiresGrad: true });
  torch.maxPool2d(x, { kernelSize: 2 }).sum().backward();
  torch.avgPool2d(x, { kernelSize: 3, padding: 1 }).sum().backward();
  torch.adaptiveAvgPool2d(x, 3).sum().backward(); // even windows: a plain average pooling
  torch.adaptiveAvgPool2d(x, 4).sum().backward(); // uneven windows: composed
  torch.adaptiveMaxPool2d(x, 4).values.sum().backward(); // composed forward, fused scatter backward
  assert.deepEqual(Object.fromEntries(calls), {
    maxPool2d: 1,
    maxPool2dBackward: 2,
    avgPool2d: 2,
    avgPool2dBackward: 2,
  });
});

Deno.test("fused and composed conv2d agree on a 16-channel 3x3 layer", async () => {
  torch.manualSeed(0);
  const x = torch.randn([1, 16, 12, 12]);
  const w = torch.randn([16, 16, 3, 3]);
  const fused = torch.conv2d(x, w, null, { padding: 1 });
  const viaGather = torch.conv2d(x.to(COMPOSED), w.to(COMPOSED), null, { padding: 1 });
  const a = await fused.data(), b = await viaGather.data();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst < 1e-5, `largest difference ${worst}`);
});

Deno.test("eval batch norm without a gradient runs the fused channelAffine, equal to the composition", async () => {
  const ts = torch.registerBackend(new CpuBackend({ name: "cpu-ts-affine", kernels: "typescript" }));
  for (const shape of [[2, 3, 5, 7], [1, 8, 3, 3], [4, 6], [2, 5, 40]]) {
    const channels = shape[1];
    const x = torch.randn(shape), mean = torch.randn([channels]), variance = torch.rand([channels]).add(0.5);
    const weight = torch.randn([channels]), bias = torch.randn([channels]);
    const on = (device: torch.DeviceLike) =>
      torch.noGrad(() =>
        torch.nn.functional.batchNorm(x.to(device), mean.to(device), variance.to(device), {
          weight: weight.to(device),
          bias: bias.to(device),
          eps: 1e-3,
        })
      );
    const fused = on("cpu"), composed = on(COMPOSED), typescript = on(ts);
    assert.equal(fused.gradFn, null);
    assert.deepEqual(fused.shape, shape);
    assert.deepEqual(await fused.data(), await composed.data(), `wasm kernel vs composition, ${shape}`);
    assert.deepEqual(await typescript.data(), await composed.data(), `TypeScript kernel vs composition, ${shape}`);
  }
  // With a gradient wanted, the composition runs and records PyTorch's node.
  const x = torch.randn([2, 3, 4, 4], { requiresGrad: true });
  const y = torch.nn.functional.batchNorm(x, torch.zeros([3]), torch.ones([3]));
  assert.equal(y.gradFn?.name, "NativeBatchNormBackward0");
});

Deno.test("a Linear layer is one fused addmm, equal to matmul then add on every CPU path", async () => {
  const ts = torch.registerBackend(new CpuBackend({ name: "cpu-ts-addmm", kernels: "typescript" }));
  // Below and above the size where the WebAssembly kernel takes over; a bias row, a full bias, a transposed weight.
  for (const [n, k, m] of [[3, 4, 5], [64, 100, 30]]) {
    const x = torch.randn([n, k]), w = torch.randn([m, k]);
    for (const bias of [torch.randn([m]), torch.randn([n, m])]) {
      for (const [device, path] of [["cpu", "wasm kernel"], [ts, "TypeScript kernel"], [COMPOSED, "no fused kernel"]]) {
        const [b, a, t] = [bias, x, w].map((v) => v.to(device as torch.DeviceLike));
        const composition = await a.matmul(t.t()).add(b).data();
        assert.deepEqual(await torch.addmm(b, a, t.t()).data(), composition, `${path}, ${n}x${k}x${m}`);
      }
    }
  }
  const layer = new torch.nn.Linear(4, 3);
  const y = layer(torch.randn([2, 4]));
  assert.equal(y.gradFn?.name, "AddmmBackward0");
  // The node's inputs are the bias, the input (no gradient wanted) and the weight's transpose, as in PyTorch.
  assert.deepEqual(y.gradFn?.nextFunctions.map((f) => f?.name ?? null), ["AccumulateGrad", null, "TBackward0"]);
  assert.equal(layer(torch.randn([5, 2, 4])).gradFn?.name, "ViewBackward0");
});

Deno.test("ReLU's gradient is one fused threshold_backward, equal to the composition and to PyTorch at NaN and -0", async () => {
  const ts = torch.registerBackend(new CpuBackend({ name: "cpu-ts-threshold", kernels: "typescript" }));
  // PyTorch: relu(x) = [nan, 0, 0, -0, 2]; its gradient under 3s is [3, 0, 0, 0, 3] (NaN passes, -0 <= 0 does not).
  const special = [NaN, -1, 0, -0, 2];
  for (const device of ["cpu", ts, COMPOSED] as torch.DeviceLike[]) {
    for (const values of [special, Array.from({ length: 300 }, (_, i) => special[i % 5] * (i + 1))]) {
      const x = torch.tensor(values, { device, requiresGrad: true });
      const [g] = torch.autograd.grad([torch.relu(x)], [x], [torch.full([values.length], 3, { device })], {
        createGraph: true,
      });
      const expected = values.map((v) => (v <= 0 ? 0 : 3));
      assert.deepEqual(Array.from(await g!.data()), expected, `${String(device)}, ${values.length} values`);
      if (device !== COMPOSED) assert.equal(g!.gradFn?.name, "ThresholdBackwardBackward0");
    }
  }
});

Deno.test("conv2d takes PyTorch's positional stride, padding, dilation and groups as a port passes them", async () => {
  const x = torch.randn([1, 4, 11, 11]), w = torch.randn([6, 2, 3, 3]);
  const positional = torch.nn.functional.conv2d(x, w, null, [2, 1], [1, 0], 2, 2);
  const named = torch.nn.functional.conv2d(x, w, null, { stride: [2, 1], padding: [1, 0], dilation: 2, groups: 2 });
  assert.deepEqual(positional.shape, [1, 6, 5, 7]);
  assert.deepEqual(await positional.data(), await named.data());
  assert.deepEqual(torch.conv2d(x, torch.randn([2, 4, 7, 7]), null, 2, 3).shape, [1, 2, 6, 6]);
  // A stride of the wrong type is PyTorch's TypeError, not a silent stride of 1.
  const asAny = torch.nn.functional.conv2d as (...args: unknown[]) => torch.Tensor;
  assert.throws(() => asAny(x, w, null, "2"), /conv2d\(\): argument 'stride' must be tuple of ints, not str/);
  assert.throws(() => asAny(x, w, null, 1, true), /argument 'padding' must be tuple of ints, not bool/);
});

Deno.test("conv2d and pooling report PyTorch's node names, also for second derivatives", () => {
  const x = torch.randn([1, 2, 5, 5], { requiresGrad: true });
  const w = torch.randn([3, 2, 3, 3], { requiresGrad: true });
  const y = torch.conv2d(x, w, torch.zeros([3], { requiresGrad: true }));
  assert.equal(y.gradFn?.name, "ConvolutionBackward0");
  const [gx, gw] = torch.autograd.grad([y.sum()], [x, w], undefined, { createGraph: true });
  assert.equal(gx!.gradFn?.name, "ConvolutionBackwardBackward0");
  assert.equal(gw!.gradFn?.name, "ConvolutionBackwardBackward0");
  assert.equal(torch.conv2d(x.index(0), w).gradFn?.name, "SqueezeBackward1");

  const names = (out: torch.Tensor) => {
    const [g] = torch.autograd.grad([out.sum()], [x], undefined, { createGraph: true });
    return [out.gradFn?.name, g!.gradFn?.name];
  };
  assert.deepEqual(names(torch.maxPool2d(x, { kernelSize: 2 })), [
    "MaxPool2DWithIndicesBackward0",
    "MaxPool2DWithIndicesBackwardBackward0",
  ]);
  assert.deepEqual(names(torch.avgPool2d(x, { kernelSize: 2 })), ["AvgPool2DBackward0", "AvgPool2DBackwardBackward0"]);
  assert.deepEqual(names(torch.adaptiveAvgPool2d(x, 3)), [
    "AdaptiveAvgPool2DBackward0",
    "AdaptiveAvgPool2DBackwardBackward0",
  ]);
  assert.deepEqual(names(torch.adaptiveMaxPool2d(x, 3).values), [
    "AdaptiveMaxPool2DBackward0",
    "AdaptiveMaxPool2DBackwardBackward0",
  ]);
  assert.equal(torch.adaptiveAvgPool2d(x, 1).gradFn?.name, "MeanBackward1");
  assert.equal(torch.maxPool2d(x.index(0), { kernelSize: 2 }).gradFn?.name, "MaxPool2DWithIndicesBackward0");
});

Deno.test("conv2d throws PyTorch's errors", () => {
  const x = torch.zeros([2, 4, 8, 8]);
  const cases: [() => unknown, string][] = [
    [
      () => torch.conv2d(x, torch.zeros([8, 3, 3, 3])),
      "Given groups=1, weight of size [8, 3, 3, 3], expected input[2, 4, 8, 8] to have 3 channels, but got 4 " +
      "channels instead",
    ],
    [
      () => torch.conv2d(torch.zeros([4, 8, 8]), torch.zeros([8, 3, 3, 3])),
      "Given groups=1, weight of size [8, 3, 3, 3], expected input[1, 4, 8, 8] to have 3 channels, but got 4 " +
      "channels instead",
    ],
    [
      () => torch.conv2d(torch.zeros([2, 6, 8, 8]), torch.zeros([7, 3, 3, 3]), null, { groups: 2 }),
      "Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of size [[7, 3, 3, 3]] " +
      "instead",
    ],
    [
      () => torch.conv2d(torch.zeros([8, 8]), torch.zeros([8, 3, 3, 3])),
      "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [8, 8]",
    ],
    [
      () => torch.conv2d(torch.zeros([1, 3, 2, 2]), torch.zeros([8, 3, 3, 3])),
      "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be greater than " +
      "actual input size",
    ],
    [
      () => torch.conv2d(x, torch.zeros([3, 4, 3, 3]), null, { stride: 2, padding: "same" }),
      "padding='same' is not supported for strided convolutions",
    ],
    [
      () => torch.conv2d(x, torch.zeros([3, 4, 3, 3]), torch.zeros([7])),
      "Given weight of size [3, 4, 3, 3], expected bias to be 1-dimensional with 3 elements, but got bias of size " +
      "[7] instead",
    ],
    [() => torch.conv2d(x, torch.zeros([3, 4, 3, 3]), null, { padding: -1 }), "negative padding is not supported"],
    [() => torch.conv2d(x, torch.zeros([3, 4, 3, 3]), null, { stride: 0 }), "non-positive stride is not supported"],
    [() => torch.conv2d(x, torch.zeros([3, 4, 3, 3]), null, { groups: 0 }), "non-positive groups is not supported"],
    [
      () => torch.conv2d(x, torch.zeros([3, 4, 3, 3], { dtype: "float64" })),
      "Input type (torch.FloatTensor) and weight type (torch.DoubleTensor) should be the same",
    ],
  ];
  for (const [fn, message] of cases) assert.throws(fn, { message });
});

Deno.test("pooling throws PyTorch's errors", () => {
  const x = torch.zeros([2, 4, 8, 8]);
  const cases: [() => unknown, string][] = [
    [
      () => torch.maxPool2d(x, { kernelSize: 3, padding: 2 }),
      "pad should be at most half of kernel size, but got pad=2 and kernel_size=3",
    ],
    [
      () => torch.maxPool2d(torch.zeros([1, 3, 2, 2]), { kernelSize: 3 }),
      "Given input size: (3x2x2). Calculated output size: (3x0x0). Output size is too small",
    ],
    [
      () => torch.avgPool2d(torch.zeros([0, 3, 2, 5]), { kernelSize: 3 }),
      "Given input size: (3x2x5). Calculated output size: (3x0x1). Output size is too small",
    ],
    [() => torch.maxPool2d(x, { kernelSize: 0 }), "stride should not be zero"],
    [
      () => torch.maxPool2d(x, { kernelSize: 0, stride: 1 }),
      "kernel size should be greater than zero, but got kH: 0 kW: 0",
    ],
    [
      () => torch.maxPool2d(torch.zeros([1, 0, 4, 4]), { kernelSize: 2 }),
      "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:[1, 0, 4, 4]",
    ],
    [() => torch.avgPool2d(x, { kernelSize: 2, divisorOverride: 0 }), "divisor must be not zero"],
    [
      () => torch.adaptiveAvgPool2d(torch.zeros([1, 2, 0, 3]), 2),
      "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, but input has sizes " +
      "[1, 2, 0, 3] with dimension 2 being empty",
    ],
    [
      () => torch.adaptiveMaxPool2d(torch.zeros([2, 3]), 2),
      "adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: [2, 3]",
    ],
    [
      () => torch.maxPool2d(torch.zeros([1, 1, 4, 4], { dtype: "int32" }), { kernelSize: 2 }),
      `"max_pool2d" not implemented for 'Int'`,
    ],
  ];
  for (const [fn, message] of cases) assert.throws(fn, { message });
});

Deno.test("conv2d with padding 'same' and an even kernel pads one more on the bottom and right", () => {
  const x = torch.arange(9, { dtype: "float32" }).reshape([1, 1, 3, 3]);
  const y = torch.conv2d(x, torch.ones([1, 1, 2, 2]), null, { padding: "same" });
  assert.deepEqual(y.tolistSync(), [[[[8, 12, 7], [20, 24, 13], [13, 15, 8]]]]);
});

Deno.test("max pooling reports the first in-bounds position of an all -inf window", () => {
  const x = torch.full([1, 1, 2, 2], -Infinity);
  for (const device of ["cpu", COMPOSED]) {
    const { indices } = torch.maxPool2dWithIndices(x.to(device), { kernelSize: 2, stride: 1, padding: 1 });
    assert.deepEqual(indices.tolistSync(), [[[[0, 0, 1], [0, 0, 1], [2, 2, 3]]]]);
  }
});
