// Wrong arguments fail with PyTorch's messages (the texts torch 1.13 prints),
// plus what Flint adds where its types differ (int32 class indices).

import assert from "node:assert/strict";
import * as torch from "@flint/torch";

const { nn } = torch;
const F = nn.functional;
const int = (v: number[] | number) => torch.tensor(v, { dtype: "int32" });

function throwsWith(fn: () => unknown, text: string | RegExp): void {
  assert.throws(fn, (e: Error) => {
    if (typeof text === "string") assert.equal(e.message, text);
    else assert.match(e.message, text);
    return true;
  });
}

Deno.test("cross-entropy and nll name an out-of-range class, as PyTorch does", () => {
  const x = torch.randn(3, 5);
  throwsWith(() => F.crossEntropy(x, int([0, 7, 1])), "Target 7 is out of bounds.");
  throwsWith(() => F.crossEntropy(x, int([0, -1, 1])), "Target -1 is out of bounds.");
  throwsWith(() => F.nllLoss(x, int([0, 7, 1])), "Target 7 is out of bounds.");
  // An ignored target is not checked.
  assert.ok(Number.isFinite(F.crossEntropy(x, int([0, -100, 1])).itemSync()));
});

Deno.test("class-index losses name mismatched shapes", () => {
  const x = torch.randn(3, 5);
  throwsWith(() => F.crossEntropy(x, int([0, 1])), "Expected input batch_size (3) to match target batch_size (2).");
  throwsWith(
    () => F.crossEntropy(torch.randn(2, 3, 4), torch.zeros([2, 5], { dtype: "int32" })),
    "Expected target size [2, 4], got [2, 5]",
  );
  throwsWith(
    () => F.nllLoss(x, torch.zeros([3, 2], { dtype: "int32" })),
    "0D or 1D target tensor expected, multi-target not supported",
  );
  throwsWith(
    () => F.nllLoss(x, int([0, 1, 2]), { weight: torch.ones(4) }),
    "weight tensor should be defined either for all 5 classes or no classes but got weight tensor of shape: [4]",
  );
  throwsWith(
    () => F.crossEntropy(x, int([0, 1, 2]), { labelSmoothing: 1.5 }),
    "label_smoothing must be between 0.0 and 1.0. Got: 1.5",
  );
  throwsWith(
    () => F.crossEntropy(x, x.softmax(1), { ignoreIndex: 1 }),
    "ignore_index is not supported for floating point target",
  );
});

Deno.test("a float target of class-index shape says to pass int32 class indices", () => {
  const x = torch.randn(3, 5);
  throwsWith(() => F.crossEntropy(x, torch.tensor([0, 1, 2])), /expected scalar type Long but found Float: .*int32/);
  throwsWith(() => F.nllLoss(x, torch.tensor([0, 1, 2])), /pass|int32/);
  throwsWith(() => new nn.CrossEntropyLoss()(x, torch.tensor([0, 1, 2])), /dtype: "int32"/);
  // A float target of the input's shape is a probability target.
  assert.ok(Number.isFinite(F.crossEntropy(x, x.softmax(1)).itemSync()));
  throwsWith(() => F.crossEntropy(x, torch.rand(3, 4)), /must have the input's shape \[3, 5\], got \[3, 4\]/);
});

Deno.test("regression and binary losses name both shapes", () => {
  const x = torch.randn(3, 5);
  throwsWith(
    () => F.mseLoss(x, torch.randn(3, 4)),
    "The size of tensor a (5) must match the size of tensor b (4) at non-singleton dimension 1",
  );
  throwsWith(
    () => F.binaryCrossEntropy(x.sigmoid(), torch.rand(3, 4)),
    "Using a target size (torch.Size([3, 4])) that is different to the input size (torch.Size([3, 5])) is " +
      "deprecated. Please ensure they have the same size.",
  );
  throwsWith(
    () => F.binaryCrossEntropyWithLogits(x, torch.rand(3, 4)),
    "Target size (torch.Size([3, 4])) must be the same as input size (torch.Size([3, 5]))",
  );
  throwsWith(() => F.binaryCrossEntropy(x, torch.rand(3, 5)), "all elements of input should be between 0 and 1");
  throwsWith(() => F.mseLoss(x, x, { reduction: "avg" as "mean" }), "avg is not a valid value for reduction");
  throwsWith(() => new nn.L1Loss({ reduction: "avg" as "mean" }), "avg is not a valid value for reduction");
  throwsWith(() => F.smoothL1Loss(x, x, { beta: -1 }), "smooth_l1_loss does not support negative values for beta.");
  throwsWith(() => F.huberLoss(x, x, { delta: 0 }), "huber_loss does not support non-positive values for delta.");
});

Deno.test("layers reject wrong inputs with PyTorch's messages", () => {
  throwsWith(() => new nn.Linear(3, 2)(torch.randn(4, 5)), "mat1 and mat2 shapes cannot be multiplied (4x5 and 3x2)");
  throwsWith(
    () => F.linear(torch.randn(2, 3, 5), torch.randn(2, 4)),
    "mat1 and mat2 shapes cannot be multiplied (6x5 and 4x2)",
  );
  throwsWith(
    () => F.linear(torch.randn(5), torch.randn(2, 4)),
    "mat1 and mat2 shapes cannot be multiplied (1x5 and 4x2)",
  );
  throwsWith(
    () => new nn.BatchNorm1d(3)(torch.randn(1, 3)),
    "Expected more than 1 value per channel when training, got input size torch.Size([1, 3])",
  );
  throwsWith(() => new nn.BatchNorm2d(3)(torch.randn(2, 3)), "expected 4D input (got 2D input)");
  throwsWith(() => new nn.BatchNorm1d(3)(torch.randn(2, 3, 4, 5)), "expected 2D or 3D input (got 4D input)");
  throwsWith(() => new nn.BatchNorm2d(3)(torch.randn(2, 4, 5, 5)), "running_mean should contain 4 elements not 3");
  throwsWith(() => F.batchNorm(torch.randn(3, 2), null, null), "running_mean must be defined in evaluation mode");
  throwsWith(
    () => new nn.LayerNorm(4)(torch.randn(2, 3)),
    "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3]",
  );
  throwsWith(() => new nn.Embedding(5, 3)(int([5])), "index out of range in self");
  throwsWith(
    () => new nn.Embedding(5, 3)(torch.tensor([1])),
    /Expected tensor for argument #1 'indices' .*FloatTensor/,
  );
  throwsWith(() => new nn.Embedding(5, 3, { paddingIdx: 5 }), "Padding_idx must be within num_embeddings");
  throwsWith(() => new nn.Embedding(5, 3, { maxNorm: 1 }), /maxNorm is not supported/);
  throwsWith(() => F.embedding(int([1]), torch.randn(5, 3), { maxNorm: 1 }), /max_norm is not supported/);
  throwsWith(() => new nn.Dropout(1.5), "dropout probability has to be between 0 and 1, but got 1.5");
  throwsWith(() => F.dropout(torch.randn(2), -0.1), "dropout probability has to be between 0 and 1, but got -0.1");
  throwsWith(
    () => F.gelu(torch.randn(2), { approximate: "fast" as "tanh" }),
    "approximate argument must be either none or tanh.",
  );
  throwsWith(
    () => F.softmax(torch.randn(3, 5), 2),
    "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
  );
});

Deno.test("Conv2d checks its arguments as PyTorch's _ConvNd does", () => {
  throwsWith(() => new nn.Conv2d(3, 4, 3, { groups: 2 }), "in_channels must be divisible by groups");
  throwsWith(() => new nn.Conv2d(4, 3, 3, { groups: 2 }), "out_channels must be divisible by groups");
  throwsWith(() => new nn.Conv2d(4, 4, 3, { groups: 0 }), "groups must be a positive integer");
  throwsWith(
    () => new nn.Conv2d(3, 4, 3, { padding: "same", stride: 2 }),
    "padding='same' is not supported for strided convolutions",
  );
  throwsWith(
    () => new nn.Conv2d(3, 4, 3, { paddingMode: "foo" as "zeros" }),
    "padding_mode must be one of {'reflect', 'replicate', 'zeros', 'circular'}, but got padding_mode='foo'",
  );
  throwsWith(
    () => new nn.Conv2d(3, 4, 3)(torch.randn(2, 5, 8, 8)),
    "Given groups=1, weight of size [4, 3, 3, 3], expected input[2, 5, 8, 8] to have 3 channels, but got 5 " +
      "channels instead",
  );
});

Deno.test("oneHot and pad check their arguments", () => {
  throwsWith(() => F.oneHot(int([0, 3]), 3), "Class values must be smaller than num_classes.");
  throwsWith(() => F.oneHot(int([-1, 2])), "Class values must be non-negative.");
  throwsWith(() => F.oneHot(torch.tensor([0, 3])), /one_hot is only applicable to index tensor/);
  throwsWith(
    () => F.oneHot(torch.zeros([0], { dtype: "int32" })),
    "Can not infer total number of classes from empty tensor.",
  );
  assert.deepEqual(F.oneHot(torch.zeros([0], { dtype: "int32" }), 3).shape, [0, 3]);
  const x = torch.randn(3, 5);
  throwsWith(() => F.pad(x, [1]), "Padding length must be divisible by 2");
  throwsWith(() => F.pad(x, [1, 1, 1, 1, 1, 1]), "Padding length too large");
  throwsWith(
    () => F.pad(x, [1, 1, 1, 1], { mode: "reflect" }),
    "Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now",
  );
  throwsWith(
    () => F.pad(torch.randn(1, 3, 5), [5, 5], { mode: "reflect" }),
    "Padding size should be less than the corresponding input dimension, but got: padding (5, 5) at dimension 2 of " +
      "input [1, 3, 5]",
  );
  throwsWith(
    () => F.pad(torch.randn(1, 2, 3, 4), [1, 1, 4, 1], { mode: "circular" }),
    "Padding value causes wrapping around more than once.",
  );
  throwsWith(() => F.pad(x.view(1, 3, 5), [1, 1], { mode: "foo" as "reflect" }), "Unrecognised padding mode foo");
  throwsWith(
    () => F.pad(x.view(1, 3, 5), [1, 1], { mode: "reflect", value: 1 }),
    'Padding mode "reflect" doesn\'t take in value argument',
  );
});
