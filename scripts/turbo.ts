// Runs turbo (pinned, from npm) over the workspace's packages with this Deno
// first on PATH, so package scripts that call `deno` use the same binary even
// on a machine where Deno came from `npx deno`. For `test`, it also adds up
// the per-package counts and prints one total.
//
//   deno run -A scripts/turbo.ts run test [turbo flags]

const TURBO = "npm:turbo@2.11.9";

const denoDir = Deno.execPath().replace(/[/\\][^/\\]+$/, "");
const env = {
  PATH: `${denoDir}${Deno.build.os === "windows" ? ";" : ":"}${Deno.env.get("PATH") ?? ""}`,
  TURBO_TELEMETRY_DISABLED: "1",
  DO_NOT_TRACK: "1",
  NO_COLOR: Deno.env.get("NO_COLOR") ?? "",
};

const command = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", TURBO, ...Deno.args, "--output-logs=full", "--log-order=grouped"],
  env,
  stdout: "piped",
  stderr: "inherit",
});
const child = command.spawn();

// deno-lint-ignore no-control-regex -- ANSI colour codes are control characters
const ANSI = /\x1b\[[0-9;]*m/g;
const stripAnsi = (s: string) => s.replace(ANSI, "");

// Stream turbo's output through while counting "N passed | M failed" lines.
let passed = 0, failed = 0, ignored = 0, suites = 0;
const decoder = new TextDecoder();
let pending = "";
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  pending += decoder.decode(chunk, { stream: true });
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) {
    // deno test's summary line: "ok | 12 passed | 0 failed | 1 ignored (3s)"
    const m = /(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \| (\d+) ignored)?/.exec(
      stripAnsi(line),
    );
    if (m) {
      suites++;
      passed += Number(m[1]);
      failed += Number(m[3]);
      ignored += Number(m[4] ?? 0);
    }
  }
}
const status = await child.status;
if (Deno.args.includes("test") && suites > 0) {
  console.log(`\nall packages: ${passed} tests passed, ${failed} failed, ${ignored} ignored (${suites} test runs)`);
}
Deno.exit(status.code);
