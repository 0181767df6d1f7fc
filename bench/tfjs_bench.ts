// Flint on tfjs against tfjs used directly: the overhead of going through
// Flint's tensors, views and autograd bookkeeping to the same tfjs kernels.
// Matmul 256/512/1024, a ResNet-sized conv2d (3×3, 64→64, 56×56, batch 1)
// and a small add (the fixed cost per op), on tfjs-cpu and tfjs-wasm, warmed
// up, as medians and ratios (absolute times drift on shared machines; ratios
// of interleaved runs much less). One run: `deno run -A bench/tfjs_bench.ts [--quick]`
// (also a section of `deno task bench`, bench/race.ts); --quick leaves out matmul 1024.

import * as torch from "@flint/torch";
import { TfjsBackend } from "@flint/tfjs";
import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import { getThreadsCount, setWasmPaths } from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { createRequire } from "node:module";

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b), mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/**
 * Medians of `direct` and `flint`, in milliseconds, after two warm-up calls
 * each. The two alternate run by run, so that drift on a shared machine
 * slows both alike and their ratio stays meaningful.
 */
function medianPairMs(direct: () => void, flint: () => void, budgetMs = 4000): [number, number] {
  for (let i = 0; i < 2; i++) direct(), flint();
  const [a, b]: number[][] = [[], []];
  const start = performance.now();
  while (a.length < 5 || (a.length < 25 && performance.now() - start < budgetMs)) {
    let t = performance.now();
    direct();
    a.push(performance.now() - t);
    t = performance.now();
    flint();
    b.push(performance.now() - t);
  }
  return [median(a), median(b)];
}

interface Row {
  readonly op: string;
  readonly backend: string;
  readonly tfjsMs: number;
  readonly flintMs: number;
}

/** Times each workload on tfjs directly and through Flint on `tfBackend`. */
async function race(tfBackend: string): Promise<Row[]> {
  const device = torch.registerBackend(await TfjsBackend.create({ backend: tfBackend, name: `tfjs-${tfBackend}` }));
  const rows: Row[] = [];
  const row = (op: string, direct: () => void, flint: () => void) => {
    const [tfjsMs, flintMs] = medianPairMs(direct, flint);
    rows.push({ op, backend: tfBackend, tfjsMs, flintMs });
  };

  torch.manualSeed(0);
  // A small op shows the fixed cost per op (autograd bookkeeping, the tidy, the view).
  const [sa, sb] = [tf.randomNormal([1000]), tf.randomNormal([1000])];
  const [ga, gb] = [torch.randn(1000).to(device), torch.randn(1000).to(device)];
  row("add 1000", () => tf.add(sa, sb).dispose(), () => ga.add(gb).dispose());
  tf.dispose([sa, sb]);
  ga.dispose(), gb.dispose();
  for (const n of Deno.args.includes("--quick") ? [256, 512] : [256, 512, 1024]) {
    const [ta, tb] = [tf.randomNormal([n, n]), tf.randomNormal([n, n])];
    const [fa, fb] = [torch.randn(n, n).to(device), torch.randn(n, n).to(device)];
    row(`matmul ${n}`, () => tf.matMul(ta, tb).dispose(), () => fa.matmul(fb).dispose());
    tf.dispose([ta, tb]);
    fa.dispose(), fb.dispose();
  }

  // tfjs's own layout is NHWC; Flint's is PyTorch's NCHW, so its call includes the transposes.
  const [tx, tw] = [tf.randomNormal([1, 56, 56, 64]) as tf.Tensor4D, tf.randomNormal([3, 3, 64, 64]) as tf.Tensor4D];
  const [fx, fw] = [torch.randn(1, 64, 56, 56).to(device), torch.randn(64, 64, 3, 3).to(device)];
  row(
    "conv2d 3x3 64→64 56x56",
    () => tf.conv2d(tx, tw, 1, "same").dispose(),
    () => torch.nn.functional.conv2d(fx, fw, null, { padding: 1 }).dispose(),
  );
  tf.dispose([tx, tw]);
  fx.dispose(), fw.dispose();
  return rows;
}

// Top-level, not under import.meta.main: `deno bench` (which loads this file) runs it too.
const wasmFile = createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm");
setWasmPaths(wasmFile.slice(0, wasmFile.lastIndexOf("/") + 1));
const rows = [...(await race("cpu")), ...(await race("wasm"))];
console.log(`tfjs 4.22.0; tfjs-wasm threads: ${getThreadsCount()}`);
console.log("op                       backend   tfjs ms   Flint ms   Flint/tfjs");
for (const r of rows) {
  const cells = [r.tfjsMs.toFixed(2).padStart(7), r.flintMs.toFixed(2).padStart(11), (r.flintMs / r.tfjsMs).toFixed(2)];
  console.log(`${r.op.padEnd(25)}${r.backend.padEnd(10)}${cells[0]}${cells[1]}${cells[2].padStart(13)}`);
}
