// The part of cli-progress 3.12 that progress.ts uses (the package ships no types).

/** Bar options. */
export interface Options {
  stream?: unknown;
  format?: string;
  hideCursor?: boolean;
  clearOnComplete?: boolean;
}

/** One progress bar. */
export class SingleBar {
  constructor(options: Options, preset?: unknown);
  start(total: number, start: number, payload?: Record<string, string>): void;
  update(value: number, payload?: Record<string, string>): void;
  stop(): void;
}

/** Built-in looks. */
export const Presets: { shades_classic: unknown };

declare const cliProgress: { SingleBar: typeof SingleBar; Presets: typeof Presets };
export default cliProgress;
