// Download progress on stderr: a cli-progress bar when stderr is a terminal,
// a few plain lines (every quarter, or every 16 MiB without a total) when it
// is a log, nothing when asked for quiet.

// @ts-types="./_cli_progress.d.ts"
import cliProgress from "cli-progress";
import process from "node:process";

/** Called as bytes arrive: how many so far, and the total when known. */
export type DownloadProgress = (bytesDownloaded: number, totalBytes: number | undefined) => void;

/** Receives the running byte count of one download. */
export interface ProgressReporter {
  /** `received` bytes so far */
  update(received: number): void;
  /** the download completed */
  finish(): void;
  /** the download failed */
  abort(): void;
}

function isTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** A reporter drawing on stderr when `show`, and calling `callback` either way. */
export function progressReporter(
  show: boolean,
  total: number | undefined,
  callback?: DownloadProgress,
): ProgressReporter {
  let draw: ProgressReporter = { update() {}, finish() {}, abort() {} };
  if (show && isTerminal()) {
    const bar = new cliProgress.SingleBar({
      stream: process.stderr,
      format: total === undefined
        ? "{value_mib} downloaded"
        : "{bar} {percentage}% | {value_mib} / {total_mib} | {eta}s",
      hideCursor: true,
      clearOnComplete: false,
    }, cliProgress.Presets.shades_classic);
    bar.start(total ?? 0, 0, { value_mib: mib(0), total_mib: total === undefined ? "?" : mib(total) });
    draw = {
      update: (n) => bar.update(n, { value_mib: mib(n) }),
      finish: () => bar.stop(),
      abort: () => bar.stop(),
    };
  } else if (show) {
    let next = 0;
    const step = total === undefined || total === 0 ? 16 * 1024 ** 2 : total / 4;
    const line = (n: number) => {
      const pct = total ? ` (${Math.floor((100 * n) / total)}%)` : "";
      console.error(`downloaded ${mib(n)}${total === undefined ? "" : ` of ${mib(total)}`}${pct}`);
    };
    draw = {
      update: (n) => {
        if (n >= next && (total === undefined || n < total)) {
          if (n > 0) line(n);
          while (next <= n) next += step;
        }
      },
      finish: () => {},
      abort: () => {},
    };
  }
  return {
    update(n) {
      draw.update(n);
      callback?.(n, total);
    },
    finish: () => draw.finish(),
    abort: () => draw.abort(),
  };
}
