// Decompression that stops at a cap: input is fed to fflate in small chunks
// and output is counted as it appears, so a bomb (a few KiB expanding to
// GiBs) is refused after at most one chunk's worth of expansion.

import { Inflate } from "fflate";
import { type WeightsErrorLocation, WeightsFormatError } from "./errors.ts";

/** Most that one push may expand past the expected end; pushes of a few KiB keep fflate fast. */
export const MAX_SLACK = 8 * 1024 ** 2;

/**
 * How many compressed bytes to push so that the output cannot pass `room`
 * by more than `slack` (DEFLATE's best case is about 1032:1). Callers pass
 * what is left of their byte budget, capped at {@linkcode MAX_SLACK}, so a
 * bomb's overshoot stays under the cap too.
 */
export function pushSize(room: number, slack: number): number {
  const s = Math.max(0, Math.min(MAX_SLACK, slack));
  return Math.max(64, Math.min(64 * 1024, Math.floor((room + s) / 1040)));
}

/**
 * Inflates raw DEFLATE data that must expand to exactly `size` bytes, into one
 * buffer of that size: more output is a bomb or a lie and is refused at once.
 */
export function inflateExact(
  compressed: Uint8Array,
  size: number,
  where: WeightsErrorLocation,
  slack: number,
): Uint8Array {
  const out = new Uint8Array(size);
  let produced = 0;
  let overflow = false;
  const inflate = new Inflate((chunk) => {
    if (produced + chunk.length > size) {
      overflow = true;
      throw new WeightsFormatError(
        "limit",
        `deflate data expands past its declared size of ${size} bytes (a zip bomb or a corrupt entry); ` +
          `stopped after ${produced + chunk.length} bytes`,
        where,
      );
    }
    out.set(chunk, produced);
    produced += chunk.length;
  });
  try {
    let at = 0;
    do {
      const n = pushSize(size - produced, slack);
      const end = Math.min(compressed.length, at + n);
      inflate.push(compressed.subarray(at, end), end === compressed.length);
      at = end;
    } while (at < compressed.length);
  } catch (e) {
    if (overflow || e instanceof WeightsFormatError) throw e;
    throw new WeightsFormatError("corrupt", `invalid deflate data: ${(e as Error).message}`, where, { cause: e });
  }
  if (produced !== size) {
    throw new WeightsFormatError(
      "truncated",
      `deflate data expands to ${produced} bytes, not its declared ${size}`,
      where,
    );
  }
  return out;
}
