// CPU op timings with Deno's bench runner: `deno bench -A bench/ops_bench.ts`. The racing of
// Flint against tfjs and PyTorch is `deno task bench` (bench/race.ts, added with the
// WebAssembly kernels); this file tracks the plain-TypeScript path.

import * as torch from "@flint/torch";

torch.manualSeed(0);
const sizes = [128, 256, 512];
const mats = new Map(sizes.map((n) => [n, [torch.randn(n, n), torch.randn(n, n)] as const]));

for (const n of sizes) {
  const [a, b] = mats.get(n)!;
  Deno.bench(`matmul ${n}x${n} (${((2 * n ** 3) / 1e9).toFixed(3)} GFLOP)`, { group: "matmul" }, () => {
    a.matmul(b).dispose();
  });
}

const x = torch.randn(1000, 1000);
const y = torch.randn(1000);
Deno.bench("add 1000x1000 + broadcast row", { group: "elementwise" }, () => void x.add(y).dispose());
Deno.bench("exp 1000x1000", { group: "elementwise" }, () => void x.exp().dispose());
Deno.bench("sum over dim 0 of 1000x1000", { group: "reduce" }, () => void x.sum(0).dispose());
Deno.bench("sum over dim 1 of 1000x1000", { group: "reduce" }, () => void x.sum(1).dispose());
Deno.bench("transpose().contiguous() 1000x1000", { group: "layout" }, () => void x.t().contiguous().dispose());

// Tutorial 001's MLP, one step of manual SGD with autograd (64×1000→100→10).
const input = torch.randn(64, 1000);
const target = torch.randn(64, 10);
const w1 = torch.randn(1000, 100, { requiresGrad: true });
const w2 = torch.randn(100, 10, { requiresGrad: true });
Deno.bench("MLP 64x1000→100→10 forward + backward + update", { group: "training" }, () => {
  torch.scope(() => {
    const loss = input.mm(w1).clamp({ min: 0 }).mm(w2).sub(target).pow(2).sum();
    loss.backward();
    torch.noGrad(() => {
      w1.sub_(w1.grad!.mul(1e-6));
      w2.sub_(w2.grad!.mul(1e-6));
    });
    w1.grad!.zero_();
    w2.grad!.zero_();
  });
});
