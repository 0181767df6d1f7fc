// Training progress on stdout: a cli-progress bar (epoch, loss, accuracy,
// steps per second, time left) when stdout is a terminal, one line per epoch
// when it is a log or a pipe.

// @ts-types="npm:@types/cli-progress@3.11.6"
import cliProgress from "cli-progress";
import process from "node:process";
import type { EpochStats, StepInfo } from "./fit.ts";

/** Receives the training's steps and epochs. */
export interface TrainingProgress {
  /** after every optimizer step */
  step(info: StepInfo): void;
  /** after every epoch */
  epoch(stats: EpochStats): void;
  /** when training ends (or fails) */
  stop(): void;
}

/** Options of {@linkcode trainingProgress}. */
export interface ProgressOptions {
  /** draw a bar (default: when stdout is a terminal) */
  bar?: boolean;
  /** where epoch lines go (default console.log) */
  log?: (line: string) => void;
}

function stdoutIsTerminal(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

function percent(fraction: number): string {
  return `${(100 * fraction).toFixed(1)}%`;
}

/** `1m05s`, `42s` */
function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/**
 * One line summing up an epoch, as the log fallback prints it.
 *
 * @example
 * ```ts
 * import { epochLine } from "./progress.ts";
 *
 * const stats = { epoch: 2, trainLoss: 0.5, trainAccuracy: 0.9, testLoss: 0.4, testAccuracy: 0.95, seconds: 1, steps: 45 };
 * console.log(epochLine(stats, 10, 45, 8));
 * // epoch  2/10  loss 0.5000  acc 90.0%  test loss 0.4000  test acc 95.0%  45.0 steps/s  8s left
 * ```
 */
export function epochLine(stats: EpochStats, epochs: number, stepsPerSecond: number, secondsLeft: number): string {
  const width = String(epochs).length;
  return [
    `epoch ${String(stats.epoch).padStart(width)}/${epochs}`,
    `loss ${stats.trainLoss.toFixed(4)}`,
    `acc ${percent(stats.trainAccuracy)}`,
    `test loss ${stats.testLoss.toFixed(4)}`,
    `test acc ${percent(stats.testAccuracy)}`,
    `${stepsPerSecond.toFixed(1)} steps/s`,
    `${duration(secondsLeft)} left`,
  ].join("  ");
}

/**
 * A progress display for `epochs` epochs of `stepsPerEpoch` steps.
 *
 * @example
 * ```ts
 * import { trainingProgress } from "./progress.ts";
 *
 * const lines: string[] = [];
 * const progress = trainingProgress(1, 1, { bar: false, log: (l) => lines.push(l) });
 * progress.step({ epoch: 1, step: 1, loss: 1, accuracy: 0.5 });
 * progress.epoch({ epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5, seconds: 1, steps: 1 });
 * progress.stop();
 * console.log(lines.length, lines[0].startsWith("epoch 1/1")); // 1 true
 * ```
 */
export function trainingProgress(
  epochs: number,
  stepsPerEpoch: number,
  options: ProgressOptions = {},
): TrainingProgress {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = performance.now();
  let stepsDone = 0;
  const stepsPerSecond = () => stepsDone / Math.max(1e-9, (performance.now() - started) / 1000);
  const secondsLeft = () => (epochs * stepsPerEpoch - stepsDone) / Math.max(1e-9, stepsPerSecond());

  if (!(options.bar ?? stdoutIsTerminal())) {
    return {
      step: (info) => void (stepsDone = info.step),
      epoch: (stats) => log(epochLine(stats, epochs, stepsPerSecond(), secondsLeft())),
      stop: () => {},
    };
  }

  const bar = new cliProgress.SingleBar({
    stream: process.stdout,
    format: "epoch {epoch}/{epochs} {bar} {percentage}% | loss {loss} | acc {acc} | test acc {test} | " +
      "{speed} steps/s | {left} left",
    hideCursor: true,
    clearOnComplete: false,
    barsize: 24,
  }, cliProgress.Presets.shades_classic);
  let test = "-";
  // Before the first step there is no loss, no rate and no estimate yet.
  const payload = (epoch: number, loss?: number, accuracy?: number) => ({
    epoch,
    epochs,
    loss: loss === undefined ? "-" : loss.toFixed(4),
    acc: accuracy === undefined ? "-" : percent(accuracy),
    test,
    speed: stepsDone === 0 ? "-" : stepsPerSecond().toFixed(1),
    left: stepsDone === 0 ? "?" : duration(secondsLeft()),
  });
  bar.start(epochs * stepsPerEpoch, 0, payload(1));
  return {
    step(info) {
      stepsDone = info.step;
      bar.update(info.step, payload(info.epoch, info.loss, info.accuracy));
    },
    epoch(stats) {
      test = percent(stats.testAccuracy);
      bar.update(stepsDone, payload(stats.epoch, stats.trainLoss, stats.trainAccuracy));
    },
    stop: () => bar.stop(),
  };
}
