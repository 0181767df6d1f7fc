// PyTorch in the bench race: starts bench/race_torch.py under /usr/bin/python3
// (Debian's python3-torch) and talks to it one JSON line at a time, so its
// samples interleave with Flint's and tfjs's. Matrix products and linear
// layers get an optimised BLAS: OpenBLAS through LD_LIBRARY_PATH when Debian's
// libopenblas0-pthread is installed (OPENBLAS_CORETYPE set to the CPU's real
// kernel), else oneDNN (the script decides, after checking what got loaded).

/** The Python the race runs: Debian's, the one python3-torch installs into. */
export const PYTHON = "/usr/bin/python3";
/** Where Debian's libopenblas0-pthread puts its BLAS. */
export const OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread";

/** What the PyTorch process reports about itself. */
export interface TorchInfo {
  /** torch.__version__ */
  readonly torch: string;
  /** torchvision.__version__, or null when it is not installed */
  readonly torchvision: string | null;
  /** torch.get_num_threads() */
  readonly threads: number;
  /** the BLAS path of matrix products and linear layers, in words */
  readonly blas: string;
  /** true when OpenBLAS got loaded */
  readonly openblas: boolean;
  /** the Python version */
  readonly python: string;
}

/** A case as race_torch.py builds it. */
export type TorchCase =
  | { readonly kind: "matmul"; readonly n: number }
  | { readonly kind: "conv"; readonly batch: number; readonly size: number }
  | { readonly kind: "resnet_forward" | "resnet_train"; readonly batch: number; readonly size: number }
  | { readonly kind: "mlp" };

/**
 * OpenBLAS's kernel for this CPU from the flags in /proc/cpuinfo (OpenBLAS
 * misdetects some CPUs, AMD's with AVX-512 among them, and falls back to a
 * slower kernel unless told).
 *
 * @example
 * ```ts
 * import { openblasCoretype } from "./race_torch.ts";
 *
 * console.log(openblasCoretype("flags : fpu sse2 avx avx2 fma avx512f avx512bw")); // SkylakeX
 * console.log(openblasCoretype("flags : fpu sse2 avx avx2 fma")); // Haswell
 * ```
 */
export function openblasCoretype(cpuinfo: string): string {
  const flags = new Set((cpuinfo.match(/^flags\s*:(.*)$/m)?.[1] ?? "").trim().split(/\s+/));
  if (flags.has("avx512f")) return "SkylakeX";
  if (flags.has("avx2")) return "Haswell";
  if (flags.has("avx")) return "Sandybridge";
  return "Nehalem";
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The running PyTorch process; `start()` it, `close()` it when done. */
export class TorchProcess {
  #info: TorchInfo | undefined;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;
  #queue: Promise<unknown> = Promise.resolve();

  /** OMP_WAIT_POLICY in the process ("default": unset, GOMP's spin-then-sleep) */
  readonly waitPolicy: string;

  private constructor(child: Deno.ChildProcess, lines: AsyncIterator<string>, waitPolicy: string) {
    this.waitPolicy = waitPolicy;
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines;
  }

  /** the process id */
  get pid(): number {
    return this.#child.pid;
  }

  /** Versions, threads and the BLAS path, as the process reported them at start-up. */
  get info(): TorchInfo {
    return this.#info!;
  }

  /**
   * Starts PyTorch, or resolves with the reason it cannot run here (no
   * /usr/bin/python3, or no torch in it).
   */
  static async start(
    options: { threads: number; waitPolicy?: "PASSIVE"; python?: string },
  ): Promise<TorchProcess | { unavailable: string }> {
    const python = options.python ?? PYTHON;
    if (!(await exists(python))) return { unavailable: `${python} not found` };
    const env: Record<string, string> = { RACE_TORCH_THREADS: String(options.threads), PYTHONUNBUFFERED: "1" };
    if (options.waitPolicy) env.OMP_WAIT_POLICY = options.waitPolicy;
    if (await exists(`${OPENBLAS_DIR}/libblas.so.3`)) {
      const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
      env.LD_LIBRARY_PATH = [OPENBLAS_DIR, Deno.env.get("LD_LIBRARY_PATH")].filter(Boolean).join(":");
      env.OPENBLAS_CORETYPE = openblasCoretype(cpuinfo);
      env.OPENBLAS_NUM_THREADS = String(options.threads);
    }
    const script = new URL("./race_torch.py", import.meta.url).pathname;
    const child = new Deno.Command(python, {
      args: [script],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines())[Symbol.asyncIterator]();
    const stderr = new Response(child.stderr).text();
    const process = new TorchProcess(child, lines, options.waitPolicy ?? Deno.env.get("OMP_WAIT_POLICY") ?? "default");
    try {
      process.#info = await process.#ask({ cmd: "info" }) as unknown as TorchInfo;
      return process;
    } catch (error) {
      try {
        child.kill();
      } catch { /* already exited */ }
      await child.status;
      const text = (await stderr).trim().split("\n").at(-1) ?? "";
      return { unavailable: `${python} cannot run the PyTorch side: ${text || message(error)}` };
    }
  }

  /** Sends one request and resolves with its answer (requests queue: one at a time). */
  #ask(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const next = this.#queue.then(async () => {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
      const { value, done } = await this.#lines.next();
      if (done) throw new Error("the PyTorch process exited");
      const answer = JSON.parse(value) as Record<string, unknown>;
      if (typeof answer.error === "string") throw new Error(answer.error);
      return answer;
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Builds case `id` in the PyTorch process. */
  async setup(id: string, spec: TorchCase): Promise<void> {
    await this.#ask({ cmd: "setup", id, case: spec });
  }

  /** Runs case `id` for at least `minMs` (at least once) and resolves with the time per run in ms. */
  async sample(id: string, minMs: number): Promise<number> {
    return (await this.#ask({ cmd: "sample", id, minMs })).ms as number;
  }

  /** Frees case `id`. */
  async drop(id: string): Promise<void> {
    await this.#ask({ cmd: "drop", id });
  }

  /**
   * Resolves once the process has stopped using the CPU: after a sample its
   * BLAS threads spin for up to ~0.1 s (OpenBLAS's thread timeout), and a
   * contender timed meanwhile would share its cores with them. Reads the
   * threads' CPU time from /proc; where there is none, waits `fallbackMs`.
   */
  async settle(fallbackMs = 150, limitMs = 2000): Promise<void> {
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    let before = cpuNanos(this.pid);
    if (before === undefined) return await sleep(fallbackMs);
    for (const t0 = performance.now(); performance.now() - t0 < limitMs;) {
      await sleep(10);
      const now = cpuNanos(this.pid);
      if (now === undefined || now - before < IDLE_NS_PER_10MS) return;
      before = now;
    }
  }

  /** Ends the process. */
  async close(): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify({ cmd: "quit" }) + "\n"));
      await this.#writer.close();
    } catch { /* already gone */ }
    await this.#child.status;
  }
}

/** CPU time over 10 ms below which a process counts as idle (5%: its Python thread polling stdin is not work). */
const IDLE_NS_PER_10MS = 0.5e6;

/** The CPU time all of a process's threads have used, in ns, from /proc (Linux), or undefined. */
function cpuNanos(pid: number): number | undefined {
  try {
    let total = 0;
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      total += Number(Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`).split(" ")[0]);
    }
    return total;
  } catch {
    return undefined;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function splitLines(): TransformStream<string, string> {
  let pending = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) if (line.trim() !== "") controller.enqueue(line);
    },
    flush(controller) {
      if (pending.trim() !== "") controller.enqueue(pending);
    },
  });
}

/**
 * The race's PyTorch processes: one with OpenMP's default wait policy and one
 * with OMP_WAIT_POLICY=PASSIVE (unless the environment sets a policy, which
 * is then the only one), or why PyTorch cannot run here.
 */
export async function startTorch(threads: number): Promise<TorchProcess[] | { unavailable: string }> {
  const policies = Deno.env.get("OMP_WAIT_POLICY") ? [undefined] : [undefined, "PASSIVE" as const];
  const started = await Promise.all(policies.map((waitPolicy) => TorchProcess.start({ threads, waitPolicy })));
  const ok = started.filter((p): p is TorchProcess => p instanceof TorchProcess);
  if (ok.length === started.length) return ok;
  for (const p of ok) await p.close();
  return started.find((p) => !(p instanceof TorchProcess)) as { unavailable: string };
}
