// Fixture op keys for the neural-network ops (conv, pooling, ...), kept apart
// from the core table so they can grow on their own.

import * as torch from "@flint/torch";
import type { OpImpl } from "./op_table.ts";

type Pair = number | [number, number];
type NullablePair = number | [number | null, number | null];

const pair = (v: unknown): Pair | undefined => v as Pair | undefined;

const maxPoolOptions = (kw: Record<string, unknown>): torch.MaxPool2dOptions => ({
  kernelSize: pair(kw.kernelSize)!,
  stride: pair(kw.stride),
  padding: pair(kw.padding),
  dilation: pair(kw.dilation),
  ceilMode: kw.ceilMode as boolean | undefined,
});

/** Fixture key → Flint call, for tests/fixtures/nn_ops.json. */
export const NN_OPS: Record<string, OpImpl> = {
  conv2d: (ts, kw) =>
    torch.conv2d(ts[0], ts[1], ts[2] ?? null, {
      stride: pair(kw.stride),
      padding: kw.padding as Pair | "same" | "valid" | undefined,
      dilation: pair(kw.dilation),
      groups: kw.groups as number | undefined,
    }),
  maxPool2d: (ts, kw) => torch.maxPool2d(ts[0], maxPoolOptions(kw)),
  maxPool2dWithIndices: (ts, kw) => [...torch.maxPool2dWithIndices(ts[0], maxPoolOptions(kw))],
  avgPool2d: (ts, kw) =>
    torch.avgPool2d(ts[0], {
      kernelSize: pair(kw.kernelSize)!,
      stride: pair(kw.stride),
      padding: pair(kw.padding),
      ceilMode: kw.ceilMode as boolean | undefined,
      countIncludePad: kw.countIncludePad as boolean | undefined,
      divisorOverride: kw.divisorOverride as number | undefined,
    }),
  adaptiveAvgPool2d: (ts, kw) => torch.adaptiveAvgPool2d(ts[0], kw.outputSize as NullablePair),
  adaptiveMaxPool2d: (ts, kw) => [...torch.adaptiveMaxPool2d(ts[0], kw.outputSize as NullablePair)],
};
