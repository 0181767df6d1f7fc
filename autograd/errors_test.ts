// Bad input gets an error that names the values, modelled on PyTorch's.

import assert from "node:assert/strict";
import * as torch from "@flint/torch";

Deno.test("matrix products name both shapes", () => {
  const a = torch.zeros(64, 1000), b = torch.zeros(100, 10);
  assert.throws(() => a.mm(b), {
    name: "RangeError",
    message: "mat1 and mat2 shapes cannot be multiplied (64x1000 and 100x10)",
  });
  assert.throws(() => a.matmul(b), /mat1 and mat2 shapes cannot be multiplied \(64x1000 and 100x10\)/);
  assert.throws(() => torch.zeros(3).mm(b), /self must be a matrix/);
  assert.throws(
    () => torch.zeros(2, 3, 4).bmm(torch.zeros(3, 4, 5)),
    /Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: \[3, 4\]/,
  );
  assert.throws(
    () => torch.zeros(3).dot(torch.zeros(4)),
    /inconsistent tensor size, expected tensor \[3\] and src \[4\]/,
  );
  assert.throws(
    () => torch.zeros(2, 2).mm(torch.zeros(2, 2, { dtype: "float64" })),
    /same dtype, but got: float32 != float64/,
  );
});

Deno.test("broadcasting failures name the sizes and the dim", () => {
  assert.throws(
    () => torch.zeros(2, 3).add(torch.zeros(4)),
    { message: "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1" },
  );
  assert.throws(
    () => torch.zeros(3).expand(2, 4),
    /The expanded size of the tensor \(4\) must match the existing size \(3\)/,
  );
});

Deno.test("bad dims name the valid range", () => {
  assert.throws(() => torch.zeros(2, 3).sum(2), {
    message: "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
  });
  assert.throws(() => torch.zeros(2, 3).transpose(0, -3), /expected to be in range of \[-2, 1\], but got -3/);
  assert.throws(() => torch.zeros(2, 3).softmax(5), /Dimension out of range/);
});

Deno.test("bad shapes name the shape and the size", () => {
  assert.throws(() => torch.zeros(12).view(3, 5), { message: "shape '[3, 5]' is invalid for input of size 12" });
  assert.throws(
    () => torch.zeros(2, 3).t().view(6),
    /view size is not compatible with input tensor's size and stride.*Use \.reshape/,
  );
  assert.throws(() => torch.zeros(-1, 2), /Trying to create tensor with negative dimension -1: \[-1, 2\]/);
  assert.throws(() => torch.tensor([[1, 2], [3]]), /expected sequence of length 2 at dim 1 \(got 1\)/);
  assert.throws(
    () => torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)]),
    /Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for tensor number 1/,
  );
  assert.throws(
    () => torch.stack([torch.zeros(2), torch.zeros(3)]),
    /stack expects each tensor to be equal size, but got \[2\] at entry 0 and \[3\] at entry 1/,
  );
});

Deno.test("dtype misuse is refused with PyTorch's wording", () => {
  assert.throws(
    () => torch.tensor([1, 2], { dtype: "int32" }).mean(),
    /mean\(\): could not infer output dtype.*Got: Int/,
  );
  assert.throws(
    () => torch.tensor([1], { dtype: "int32" }).add_(0.5),
    /result type Float can't be cast to the desired output type Int/,
  );
  assert.throws(
    () => torch.zeros(2, { dtype: "float16" as never }),
    /invalid dtype "float16": expected one of bool, int32, float32, float64/,
  );
  assert.throws(() => torch.where(torch.zeros(2), 1, 0), /where expected condition to be a boolean tensor/);
  assert.throws(() => torch.zeros(2).maskedFill(torch.zeros(2), 1), /masked_fill_ only supports boolean masks/);
  assert.throws(
    () => torch.zeros(2).index(torch.tensor([0.5])),
    /tensors used as indices must be long, int, byte or bool tensors/,
  );
  assert.throws(
    () => torch.tensor([true]).sub(torch.tensor([true])),
    /Subtraction, the `-` operator, with a bool tensor is not supported/,
  );
});

Deno.test("indexing errors name the index, the dim and its size", () => {
  const x = torch.zeros(3, 4);
  assert.throws(() => x.index(5), { message: "index 5 is out of bounds for dimension 0 with size 3" });
  assert.throws(
    () => x.index(":", torch.tensor([4], { dtype: "int32" })),
    /index 4 is out of bounds for dimension 1 with size 4/,
  );
  assert.throws(() => x.index(0, 0, 0), /too many indices for tensor of dimension 2/);
  assert.throws(() => x.index("1:2:0"), /slice step must be positive, got 0/);
  assert.throws(() => x.index("a:b"), /invalid index "a:b"/);
  assert.throws(
    () => x.index(torch.tensor([true, false])),
    /The shape of the mask \[2\] at index 0 does not match the shape of the indexed tensor \[3, 4\] at index 0/,
  );
});

Deno.test("reading a one-element value from a bigger tensor names the count", () => {
  assert.throws(() => torch.zeros(6).itemSync(), { message: "a Tensor with 6 elements cannot be converted to Scalar" });
});

Deno.test("using a tensor after dispose names its shape and dtype", () => {
  const t = torch.ones(2, 3);
  t.dispose();
  assert.throws(
    () => t.add(1),
    /Tensor was disposed: a tensor of shape \[2, 3\] and dtype float32 cannot be used after dispose\(\)/,
  );
  assert.equal(String(t), "tensor(<disposed>, shape=[2, 3], dtype=float32)");
  t.dispose(); // a second dispose is harmless
});

Deno.test("mixing devices is refused, naming both", async () => {
  const { CpuBackend } = await import("@flint/cpu");
  const other = torch.registerBackend(new CpuBackend({ name: "cpu-b" }));
  const a = torch.ones(2), b = torch.ones(2, { device: other });
  assert.throws(() => a.add(b), {
    message: "Expected all tensors to be on the same device, but found at least two devices, cpu and cpu-b!",
  });
  assert.deepEqual(a.add(b.to("cpu")).tolistSync(), [2, 2]);
  // A 0-d CPU tensor joins tensors on any device, as a scalar does (PyTorch's rule).
  const scaled = b.mul(torch.tensor(3));
  assert.equal(scaled.device.type, "cpu-b");
  assert.deepEqual(scaled.tolistSync(), [3, 3]);
  assert.throws(() => b.matmul(torch.ones(2)), /found at least two devices, cpu-b and cpu/);
  assert.throws(() => torch.device("webgpu"), /device "webgpu" is not set up.*await torch.useBackend\("webgpu"\)/);
});

Deno.test("negating a bool tensor is refused with PyTorch's advice", () => {
  assert.throws(() => torch.tensor([true, false]).neg(), {
    name: "TypeError",
    message: "Negation, the `-` operator, on a bool tensor is not supported. " +
      "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.",
  });
});
