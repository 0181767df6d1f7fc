// The tutorials one after another: what `deno task tutorials` runs.
//
//   deno run -A examples/run_tutorials.ts [--device cpu]

const tutorials = [
  "tutorial_000_gradient_descent.ts",
  "tutorial_001_mlp.ts",
  "tutorial_002_autograd.ts",
  "tutorial_003_finetune.ts",
  "tutorial_004_linear_regression.ts",
];
for (const file of tutorials) {
  console.log(`\n=== ${file} ===`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(file, import.meta.url).pathname, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) Deno.exit(code);
}
