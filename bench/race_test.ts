// The bench race must not rot: its report functions on known numbers, its
// flags, and one run at tiny sizes end to end (`race.ts --tiny`, about half a
// minute, PyTorch included when /usr/bin/python3 has it).

import assert from "node:assert/strict";
import {
  type CaseResult,
  evaluateTargets,
  formatMs,
  kernelsGain,
  kernelsTable,
  markdownTable,
  type RaceReport,
  raceTable,
  readmeSummary,
  resultsMarkdown,
  speedup,
  spliceReadme,
} from "./race_report.ts";
import { parseOptions, PLANS } from "./race.ts";
import { openblasCoretype, TorchProcess } from "./race_torch.ts";

const timed = (ms: number) => ({ ms, samples: 7 });

const CASES: CaseResult[] = [
  {
    label: "matmul 1024² f32",
    flops: 2 * 1024 ** 3,
    role: "matmul",
    cells: {
      flint: timed(25),
      "tfjs-cpu": timed(2000),
      "tfjs-wasm": timed(60),
      torch: { ...timed(10), variant: "PASSIVE" },
    },
  },
  {
    label: "ResNet18 224² forward, batch 1",
    flops: 0,
    role: "forward",
    cells: { flint: timed(80), "tfjs-cpu": timed(1400), "tfjs-wasm": timed(130), torch: timed(20) },
  },
  {
    label: "ResNet18 224² train step, batch 8",
    flops: 0,
    role: "train",
    cells: {
      flint: timed(1000),
      "tfjs-cpu": { na: "tfjs-cpu skipped: too slow" },
      "tfjs-wasm": { na: "tfjs-wasm cannot train: Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'" },
      torch: timed(400),
    },
  },
  {
    label: "MLP step",
    flops: 0,
    role: "mlp",
    cells: {
      flint: timed(1),
      "tfjs-cpu": timed(50),
      "tfjs-wasm": timed(10),
      torch: { na: "/usr/bin/python3 not found" },
    },
  },
];

const REPORT: RaceReport = {
  machine: {
    date: "2026-01-02T03:04:05.000Z",
    cpu: "AMD EPYC (AVX-512)",
    cores: 2,
    deno: "2.9.6",
    v8: "15.0",
    torch: "1.13.0a0, 2 threads",
    blas: "OpenBLAS (libopenblasp-r0.3.21.so, OPENBLAS_CORETYPE=SkylakeX)",
    tfjs: "4.22.0",
    flint: "wasm kernels, relaxed SIMD, 2 threads",
    loadBefore: [1, 2, 3],
    loadAfter: [1.5, 2, 3],
    mode: "full",
    method: "7 rounds",
  },
  fmaPeak: 100,
  cases: CASES,
  kernels: [{
    label: "serve example",
    typescript: { values: { throughput: 400, "p99 latency": 30, failures: 0 } },
    wasm: { values: { throughput: 600, "p99 latency": 20, failures: 0 } },
    key: "throughput",
    quantities: {
      throughput: { unit: "requests/s", better: "higher" },
      "p99 latency": { unit: "ms", better: "lower" },
      failures: { unit: "", better: null },
    },
  }],
  sections: [{ title: "tfjs overhead", command: "deno run -A bench/tfjs_bench.ts", output: "op  tfjs ms\nadd 0.01" }],
};

Deno.test("formatMs() keeps three significant digits and switches to seconds past ten", () => {
  assert.deepEqual(
    [0.01234, 1.234, 12.34, 123.4, 12_345].map(formatMs),
    ["0.012 ms", "1.23 ms", "12.3 ms", "123 ms", "12.3 s"],
  );
});

Deno.test("speedup() is the other's time over Flint's, and null without both times", () => {
  assert.equal(speedup(timed(10), timed(30)), 3);
  assert.equal(speedup(timed(10), { na: "x" }), null);
  assert.equal(speedup({ na: "x" }, timed(10)), null);
});

Deno.test("raceTable() prints times, GFLOP/s, ratios and numbered reasons for n/a", () => {
  const table = raceTable(CASES);
  const matmul = table.split("\n").find((l) => l.startsWith("| matmul"))!;
  // 2·1024³ flops in 25 ms = 85.9 GFLOP/s; tfjs-wasm's 60 ms is 2.40× Flint's 25 ms; PyTorch's 10 ms 0.40×.
  assert.match(matmul, /25\.0 ms · 85\.9 GFLOP\/s/);
  assert.match(matmul, /10\.0 ms \(PASSIVE\) · 214\.7 GFLOP\/s/);
  assert.match(matmul, /\| +80× \| +2\.40× \| +0\.40× \|$/);
  assert.match(table, /^- \[1\] tfjs-cpu skipped: too slow$/m);
  assert.match(table, /^- \[2\] tfjs-wasm cannot train: Kernel 'Conv2DBackpropFilter'/m);
  assert.match(table, /^- \[3\] \/usr\/bin\/python3 not found$/m);
  assert.equal(table.split("\n").filter((l) => l.startsWith("|")).length, 2 + CASES.length);
});

Deno.test("evaluateTargets() judges each of the issue's targets on the run's ratios", () => {
  const verdicts = Object.fromEntries(evaluateTargets(REPORT).map((t) => [t.target, [t.measured, t.met]]));
  assert.deepEqual(verdicts, {
    "matmul 1024² f32: ≥ 2× tfjs-wasm's GFLOP/s": ["2.40×", true],
    // 85.9 GFLOP/s of a 100 GFLOP/s peak
    "matmul 1024² f32: ≥ 60% of the WebAssembly FMA peak (100.0 GFLOP/s)": ["86%", true],
    "ResNet18 224² forward, batch 1: ≥ 2× faster than tfjs-wasm": ["1.63×", false],
    "ResNet18 224² forward, batch 1: ≤ 3× PyTorch's time": ["4.00× PyTorch's time", false],
    "ResNet18 224² train step, batch 8: ≤ 3× PyTorch's time": ["2.50× PyTorch's time", true],
    "MLP step: no slower than PyTorch with an optimised BLAS": ["—", null],
    "serve example: faster with the WebAssembly kernels than with the TypeScript ones": ["1.50× (throughput)", true],
  });
});

Deno.test("kernelsGain() and kernelsTable() compare the TypeScript and WebAssembly kernels", () => {
  assert.equal(kernelsGain(REPORT.kernels[0]), 1.5);
  assert.equal(kernelsGain({ ...REPORT.kernels[0], wasm: { na: "crashed" } }), null);
  const table = kernelsTable(REPORT.kernels);
  assert.match(table, /throughput +\| +400 requests\/s \| +600 requests\/s \| +1\.50× \|/);
  assert.match(table, /p99 latency +\| +30\.0 ms \| +20\.0 ms \| +1\.50× \|/);
  assert.match(table, /failures +\| +0 \| +0 \| +\|/);
});

Deno.test("markdownTable() pads columns and right-aligns the numeric ones", () => {
  assert.equal(
    markdownTable([["a", "bb"], ["ccc", "1"]], ["l", "r"]),
    "| a   |  bb |\n| --- | --: |\n| ccc |   1 |",
  );
});

Deno.test("resultsMarkdown() and readmeSummary() carry the machine, the tables and the sections", () => {
  const md = resultsMarkdown(REPORT);
  for (
    const part of [
      "- CPU: AMD EPYC (AVX-512), 2 cores",
      "OPENBLAS_CORETYPE=SkylakeX",
      "- load average (1 / 5 / 15 min): before 1.00 / 2.00 / 3.00, after 1.50 / 2.00 / 3.00",
      "100.0 GFLOP/s",
      "## Targets (issue 6)",
      "## tfjs overhead",
      "```text\nop  tfjs ms\nadd 0.01\n```",
    ]
  ) assert.ok(md.includes(part), part);
  const summary = readmeSummary(REPORT);
  assert.match(summary, /Targets met: 4 of 7/);
  assert.match(summary, /PyTorch 1.13.0a0 with OpenBLAS for matmul\/linear/);
  assert.match(
    summary,
    /\| ResNet18 224² forward, batch 1 +\| +80\.0 ms \| +130 ms \| +20\.0 ms \| +1\.63× \| +0\.25× \|/,
  );
  assert.ok(!summary.includes("(PASSIVE)"));
});

Deno.test("spliceReadme() replaces only the bench section, and refuses a README without its markers", () => {
  const readme = "intro\n<!-- bench:start -->\nold table\n<!-- bench:end -->\nafter\n";
  assert.equal(spliceReadme(readme, "new\n"), "intro\n<!-- bench:start -->\n\nnew\n\n<!-- bench:end -->\nafter\n");
  assert.throws(() => spliceReadme("no markers", "x"), /expected <!-- bench:start --> before <!-- bench:end -->/);
});

Deno.test("parseOptions() reads the flags; only a full run of every section writes the README", () => {
  const full = parseOptions([]);
  assert.equal(full.plan, PLANS.full);
  assert.equal(full.complete, true);
  assert.equal(full.threads, 2);
  const quick = parseOptions(["--quick", "--only", "race,digits", "--threads=1", "--out", "/tmp/x", "--no-torch"]);
  assert.deepEqual([quick.plan.mode, [...quick.only], quick.threads, quick.out, quick.torch, quick.complete], [
    "quick",
    ["race", "digits"],
    1,
    "/tmp/x",
    false,
    false,
  ]);
  assert.equal(parseOptions(["--tiny", "--quick"]).plan.mode, "tiny");
  assert.throws(() => parseOptions(["--only=race,gpu"]), /unknown section "gpu"/);
  assert.throws(() => parseOptions(["--fast"]), /unknown flag --fast/);
  const mlpOnly = parseOptions(["--cases=mlp,matmul"]);
  assert.deepEqual([...mlpOnly.cases], ["mlp", "matmul"]);
  assert.equal(mlpOnly.complete, false, "a run of some cases never writes bench/RESULTS.md");
  assert.equal(full.cases.size, 5);
  assert.throws(() => parseOptions(["--cases=mlp,resnet"]), /unknown case "resnet"/);
});

Deno.test("openblasCoretype() picks OpenBLAS's kernel from the CPU flags", () => {
  assert.equal(openblasCoretype("flags\t\t: fpu avx avx2 avx512f"), "SkylakeX");
  assert.equal(openblasCoretype("flags\t\t: fpu avx avx2"), "Haswell");
  assert.equal(openblasCoretype("flags\t\t: fpu avx"), "Sandybridge");
  assert.equal(openblasCoretype(""), "Nehalem");
});

Deno.test("TorchProcess.start() says why PyTorch cannot run instead of failing", async () => {
  assert.deepEqual(await TorchProcess.start({ threads: 1, python: "/nonexistent/python3" }), {
    unavailable: "/nonexistent/python3 not found",
  });
  const broken = await TorchProcess.start({ threads: 1, python: "/bin/false" });
  assert.ok("unavailable" in broken && broken.unavailable.startsWith("/bin/false cannot run the PyTorch side"));
});

Deno.test("race.ts --tiny runs every contender end to end and writes RESULTS.md", async () => {
  const out = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./race.ts", import.meta.url).pathname, "--tiny", "--only=race", "--out", out],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr).slice(-2000));
    const md = await Deno.readTextFile(`${out}/RESULTS.md`);
    for (
      const row of ["matmul 128² f32", "conv 3x3 64→64, 14², batch 2", "ResNet18 32² forward, batch 1", "MLP step"]
    ) {
      assert.ok(md.includes(row), row);
    }
    // Flint, tfjs-cpu and tfjs-wasm always run; PyTorch runs or says why not.
    const forward = md.split("\n").find((l) => l.startsWith("| ResNet18 32² forward, batch 1"))!;
    assert.equal(forward.split("|").slice(2, 5).filter((c) => / ms/.test(c)).length, 3, forward);
    assert.match(md, /tfjs-wasm cannot train: Kernel 'Conv2DBackpropFilter' not registered/);
    assert.match(md, /## Targets \(issue 6\)/);
    assert.match(text, /wrote .*RESULTS\.md/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
