// Fine-tuning ResNet18 (tutorial 003): one training step with the backbone
// frozen (`requiresGrad_(false)`, a new 10-class fc) against the whole
// network trained, at batch 8. Freezing saves the tape: no activations are
// kept for the backbone's backward, and that backward does not run.
//
//   deno run -A --v8-flags=--expose-gc bench/finetune_bench.ts [--size 64|224] [--batch 8] [--repeat 3]
//     prints time per phase and memory (torch.memory(): live storages and bytes after the forward,
//     which is when the tape holds most, and after the backward)
//   deno bench -A bench/finetune_bench.ts
//     times the two steps with Deno's runner (64x64)

import * as torch from "@flint/torch";
import { type ResNet, resnet18 } from "@flint/models";

const { nn, optim } = torch;

interface Setup {
  model: ResNet;
  optimizer: torch.optim.SGD;
  inputs: torch.Tensor;
  targets: torch.Tensor;
}

function setup(frozen: boolean, batch: number, size: number): Setup {
  torch.manualSeed(0);
  const model = resnet18();
  if (frozen) model.requiresGrad_(false);
  model.fc = new nn.Linear(512, 10);
  const optimizer = new optim.SGD(model.parameters(), { lr: 1e-2, momentum: 0.9 });
  return { model, optimizer, inputs: torch.rand(batch, 3, size, size), targets: torch.randint(0, 10, [batch]) };
}

const criterion = new nn.CrossEntropyLoss();

function step({ model, optimizer, inputs, targets }: Setup): void {
  torch.scope(() => {
    optimizer.zeroGrad();
    criterion(model(inputs), targets).backward();
    optimizer.step();
  });
}

// ---- deno bench ----

for (const frozen of [true, false]) {
  let s: Setup | undefined;
  Deno.bench({
    name: `resnet18 training step, batch 8, 64x64, ${frozen ? "frozen backbone + new fc" : "all layers"}`,
    group: "finetune",
    baseline: frozen,
    n: 3,
    warmup: 1,
    fn: () => step(s ??= setup(frozen, 8, 64)),
  });
}

// ---- deno run: time per phase and memory ----

/** Lets the garbage collector return what is unreachable, so torch.memory() counts only live storages. */
async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 2; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Measured {
  forwardMs: number;
  backwardMs: number;
  stepMs: number;
  tapeStorages: number;
  tapeBytes: number;
  afterBackwardBytes: number;
  gradBytes: number;
}

async function measure(frozen: boolean, batch: number, size: number, repeat: number): Promise<Measured> {
  const s = setup(frozen, batch, size);
  step(s); // warm-up; creates the momentum buffers
  const times = { forward: [] as number[], backward: [] as number[], step: [] as number[] };
  let tapeStorages = 0, tapeBytes = 0, afterBackwardBytes = 0;
  for (let r = 0; r < repeat; r++) {
    s.optimizer.zeroGrad();
    await settle();
    const base = torch.memory().cpu;
    let t = performance.now();
    let loss: torch.Tensor | null = criterion(s.model(s.inputs), s.targets);
    times.forward.push(performance.now() - t);
    await settle();
    const afterForward = torch.memory().cpu;
    tapeStorages = afterForward.storages - base.storages;
    tapeBytes = afterForward.bytes - base.bytes;
    t = performance.now();
    loss.backward();
    times.backward.push(performance.now() - t);
    loss = null;
    await settle();
    afterBackwardBytes = torch.memory().cpu.bytes - base.bytes;
    t = performance.now();
    s.optimizer.step();
    times.step.push(performance.now() - t);
  }
  const gradBytes = s.model.parameters().reduce((n, p) => n + (p.grad === null ? 0 : p.grad.numel() * 4), 0);
  return {
    forwardMs: median(times.forward),
    backwardMs: median(times.backward),
    stepMs: median(times.step),
    tapeStorages,
    tapeBytes,
    afterBackwardBytes,
    gradBytes,
  };
}

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

if (import.meta.main) {
  const size = arg("--size", 64), batch = arg("--batch", 8), repeat = arg("--repeat", 3);
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    console.error("note: run with --v8-flags=--expose-gc for exact memory counts (garbage may be counted otherwise)");
  }
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  console.log(`resnet18 training step, batch ${batch}, ${size}x${size}, median of ${repeat} (CPU backend)`);
  const rows: [string, Measured][] = [];
  for (const frozen of [true, false]) {
    rows.push([frozen ? "frozen + new fc" : "all layers", await measure(frozen, batch, size, repeat)]);
  }
  console.log("| | forward | backward | step | tape after forward | after backward | gradients |");
  console.log("|---|---|---|---|---|---|---|");
  for (const [name, m] of rows) {
    console.log(
      `| ${name} | ${m.forwardMs.toFixed(0)} ms | ${m.backwardMs.toFixed(0)} ms | ${m.stepMs.toFixed(1)} ms | ` +
        `${m.tapeStorages} storages, ${mb(m.tapeBytes)} | ${mb(m.afterBackwardBytes)} | ${mb(m.gradBytes)} |`,
    );
  }
  const [f, u] = [rows[0][1], rows[1][1]];
  const total = (m: Measured) => m.forwardMs + m.backwardMs + m.stepMs;
  console.log(
    `frozen: ${(total(u) / total(f)).toFixed(1)}x faster per step, ` +
      `${(u.tapeBytes / Math.max(f.tapeBytes, 1)).toFixed(0)}x less memory held by the tape`,
  );
}
