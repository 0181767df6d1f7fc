// Fused kernels on tfjs: softmax, conv2d and its two gradients, max and
// average pooling. Shapes arrive in PyTorch's NCHW/OIHW and tfjs computes in
// NHWC/HWIO, so convolutions transpose in and out; pooling treats each H×W
// plane as an image of one channel, which needs no transpose at all. A kernel
// is offered only where the tfjs backend has what it needs (tfjs-wasm has no
// filter gradient): an absent one is composed by Flint's autograd instead.

import type {
  AvgPoolOptions,
  Conv2dGeometry,
  DType,
  FusedKernels,
  Pool2dGeometry,
  Shape,
  Storage,
  View,
} from "@flint/backend";
import { numel } from "@flint/backend";
import * as tf from "@tensorflow/tfjs-core";
import { clampInt } from "./elementwise.ts";

/** What the fused kernels need from their backend. */
export interface FusedContext {
  /** the tfjs backend they run on */
  readonly tfBackend: string;
  /** runs `fn` in a tidy and keeps its results as new storages of `dtypes` */
  run(dtypes: readonly DType[], fn: () => tf.Tensor[]): Storage[];
  /** a view as a tensor of its shape (inside a tidy) */
  view(v: View): tf.Tensor;
  /** reads one bool flag now; undefined when the device cannot read synchronously */
  readonly readFlag?: (flag: tf.Tensor) => boolean;
}

type Pair = [number, number];

const toNhwc = (x: tf.Tensor): tf.Tensor4D => tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D;
const toNchw = (x: tf.Tensor): tf.Tensor4D => tf.transpose(x, [0, 3, 1, 2]) as tf.Tensor4D;
/** OIHW weights as tfjs's HWIO filters. */
const toHwio = (w: tf.Tensor): tf.Tensor4D => tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D;

/** tfjs's explicit NHWC padding: [[top, bottom], [left, right]] framed by batch and channels. */
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** tfjs's explicit padding from PyTorch's symmetric (height, width) padding. */
function explicitPad(padding: readonly [number, number]): ExplicitPadding {
  return [[0, 0], [padding[0], padding[0]], [padding[1], padding[1]], [0, 0]];
}

/**
 * `t` with `d - 1` zeros between neighbours along `axis`: a kernel dilated by
 * hand, for the tfjs kernels that take no dilation (or not with a stride).
 */
function dilateAxis(t: tf.Tensor, axis: number, d: number): tf.Tensor {
  if (d === 1) return t;
  const k = t.shape[axis];
  const widths = t.shape.map((): [number, number] => [0, 0]);
  widths.splice(axis + 1, 0, [0, d - 1]);
  const spread = tf.pad(tf.expandDims(t, axis + 1), widths);
  const merged = [...t.shape];
  merged[axis] = k * d;
  const size = [...t.shape];
  size[axis] = (k - 1) * d + 1;
  return tf.slice(tf.reshape(spread, merged), t.shape.map(() => 0), size);
}

/** An HWIO filter with its dilation written into it. */
function dilateFilter(f: tf.Tensor4D, dilation: readonly [number, number]): tf.Tensor4D {
  return dilateAxis(dilateAxis(f, 0, dilation[0]), 1, dilation[1]) as tf.Tensor4D;
}

/** Runs `fn` on each group's slice of the channels (last axis) of `a` and `b`, joining the results' channels. */
function perGroup(
  groups: number,
  a: tf.Tensor4D,
  b: tf.Tensor4D,
  fn: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D,
): tf.Tensor4D {
  if (groups === 1) return fn(a, b);
  const as = tf.split(a, groups, 3), bs = tf.split(b, groups, 3);
  return tf.concat(as.map((ai, g) => fn(ai as tf.Tensor4D, bs[g] as tf.Tensor4D)), 3) as tf.Tensor4D;
}

const hasKernel = (name: string, backend: string): boolean => tf.getKernel(name, backend) !== undefined;

// ---- convolution ----

function conv2dKernel(ctx: FusedContext): FusedKernels["conv2d"] {
  return (x: View, w: View, geometry: Conv2dGeometry, outShape: Shape): Storage => {
    const { stride, dilation, groups } = geometry;
    const [c, cg] = [x.shape[1], w.shape[1]];
    return ctx.run([x.dtype], () => {
      if (numel(outShape) === 0) return [tf.zeros(outShape as number[])];
      // tfjs convolves float32 only; integers go through it exactly (below 2^24) and are rounded back.
      const input = toNhwc(tf.cast(ctx.view(x), "float32"));
      let filter = toHwio(tf.cast(ctx.view(w), "float32"));
      // tfjs takes a stride or a dilation, not both: past that, the dilation goes into the filter.
      let rate = dilation as Pair;
      if (stride.some((s) => s > 1) && dilation.some((d) => d > 1)) {
        filter = dilateFilter(filter, dilation);
        rate = [1, 1];
      }
      const pad = explicitPad(geometry.padding);
      let out: tf.Tensor4D;
      if (groups > 1 && groups === c && cg === 1) {
        // Depthwise: output channel o = c·m + j reads input channel c, so [.., 1, O] → [.., C, m].
        const [kh, kw, , o] = filter.shape;
        const depthwise = tf.reshape(filter, [kh, kw, c, o / c]) as tf.Tensor4D;
        out = tf.depthwiseConv2d(input, depthwise, stride as Pair, pad, "NHWC", rate);
      } else {
        out = perGroup(groups, input, filter, (xi, fi) => tf.conv2d(xi, fi, stride as Pair, pad, "NHWC", rate));
      }
      return [x.dtype === "int32" ? tf.round(toNchw(out)) : toNchw(out)];
    })[0];
  };
}

function conv2dBackwardInputKernel(ctx: FusedContext): FusedKernels["conv2dBackwardInput"] {
  const depthwiseKernel = hasKernel("DepthwiseConv2dNativeBackpropInput", ctx.tfBackend);
  return (gradOut: View, w: View, geometry: Conv2dGeometry, inputShape: Shape): Storage => {
    const { stride, dilation, groups } = geometry;
    const [n, c, h, wd] = inputShape;
    return ctx.run([gradOut.dtype], () => {
      if (numel(inputShape) === 0 || numel(gradOut.shape) === 0) return [tf.zeros(inputShape as number[])];
      const dy = toNhwc(ctx.view(gradOut));
      const filter = toHwio(ctx.view(w));
      const pad = explicitPad(geometry.padding);
      let dx: tf.Tensor4D;
      // Neither conv2dTranspose nor tfjs-cpu's depthwise input gradient applies a dilation: it is
      // written into the filter.
      const dilated = dilateFilter(filter, dilation);
      if (groups > 1 && groups === c && filter.shape[2] === 1 && depthwiseKernel) {
        const [eh, ew, , o] = dilated.shape;
        dx = tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", {
          dy,
          filter: tf.reshape(dilated, [eh, ew, c, o / c]),
        }, { strides: stride, pad, dilations: [1, 1], inputShape: [n, h, wd, c] }) as tf.Tensor4D;
      } else {
        // Each group's filter [kH, kW, C/groups, O/groups] is the transpose's [h, w, outDepth, inDepth].
        dx = perGroup(
          groups,
          dy,
          dilated,
          (dyg, fg) => tf.conv2dTranspose(dyg, fg, [n, h, wd, c / groups], stride as Pair, pad),
        );
      }
      return [toNchw(dx)];
    })[0];
  };
}

function conv2dBackwardWeightKernel(ctx: FusedContext): FusedKernels["conv2dBackwardWeight"] {
  const depthwiseKernel = hasKernel("DepthwiseConv2dNativeBackpropFilter", ctx.tfBackend);
  return (x: View, gradOut: View, geometry: Conv2dGeometry, weightShape: Shape): Storage => {
    const { stride, dilation, groups } = geometry;
    const [o, cg, kh, kw] = weightShape;
    const c = x.shape[1];
    return ctx.run([x.dtype], () => {
      if (numel(weightShape) === 0 || numel(gradOut.shape) === 0) return [tf.zeros(weightShape as number[])];
      const input = toNhwc(ctx.view(x));
      const dy = toNhwc(ctx.view(gradOut));
      const pad = explicitPad(geometry.padding);
      // The gradient of the dilated filter (the kernels take no dilation), whose taps between the
      // real ones are then dropped.
      const [eh, ew] = [(kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1];
      const undilate = (full: tf.Tensor4D): tf.Tensor4D =>
        eh === kh && ew === kw
          ? full
          : tf.stridedSlice(full, [0, 0, 0, 0], full.shape, [dilation[0], dilation[1], 1, 1]) as tf.Tensor4D;
      let dw: tf.Tensor4D;
      if (groups > 1 && groups === c && cg === 1 && depthwiseKernel) {
        const depthwise = tf.engine().runKernel("DepthwiseConv2dNativeBackpropFilter", { x: input, dy }, {
          strides: stride,
          pad,
          dilations: [1, 1],
          filterShape: [eh, ew, c, o / c],
        }) as tf.Tensor4D;
        dw = tf.reshape(undilate(depthwise), [kh, kw, 1, o]) as tf.Tensor4D;
      } else {
        dw = perGroup(groups, input, dy, (xg, dyg) =>
          undilate(
            tf.engine().runKernel("Conv2DBackpropFilter", { x: xg, dy: dyg }, {
              strides: stride,
              pad,
              dataFormat: "NHWC",
              filterShape: [eh, ew, cg, o / groups],
            }) as tf.Tensor4D,
          ));
      }
      return [tf.transpose(dw, [3, 2, 0, 1])];
    })[0];
  };
}

// ---- pooling ----

/** Planes, height and width of an [N, C, H, W] (or [C, H, W]) pooling input. */
function planesOf(shape: Shape): [number, number, number] {
  const r = shape.length;
  return [numel(shape.slice(0, r - 2)), shape[r - 2], shape[r - 1]];
}

/** The window taps of every output position of one plane, in row-major window order. */
interface WindowTaps {
  /** taps per window */
  readonly k: number;
  /** [outH·outW·k] input positions y·W + x; taps in the padding point at H·W (a -inf sentinel) */
  readonly taps: Int32Array;
  /** [outH·outW] each window's first in-bounds position, which an all -inf window reports */
  readonly first: Int32Array;
}

/** The taps of each window, with PyTorch's windows: dilation, padding and ceil mode included. */
function windowTaps(g: Pool2dGeometry, h: number, w: number): WindowTaps {
  const [kh, kw] = g.kernel, [sh, sw] = g.stride, [ph, pw] = g.padding, [dh, dw] = g.dilation;
  const [oh, ow] = g.outSize;
  const k = kh * kw;
  const taps = new Int32Array(oh * ow * k), first = new Int32Array(oh * ow);
  for (let y = 0, o = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++, o++) {
      let y0 = y * sh - ph, x0 = x * sw - pw;
      for (let i = 0, t = o * k; i < kh; i++) {
        for (let j = 0; j < kw; j++, t++) {
          const [iy, ix] = [y0 + i * dh, x0 + j * dw];
          taps[t] = iy >= 0 && iy < h && ix >= 0 && ix < w ? iy * w + ix : h * w;
        }
      }
      while (y0 < 0) y0 += dh;
      while (x0 < 0) x0 += dw;
      first[o] = y0 * w + x0;
    }
  }
  return { k, taps, first };
}

/**
 * Max pooling as one gather of every window's taps and a reduction over
 * them, with PyTorch's CPU rules: the first largest tap wins, a window
 * holding NaN is NaN at its last NaN, and an all -inf window reports its
 * first in-bounds position. Any dilation, padding or ceil mode; every tfjs
 * backend (tfjs-wasm's MaxPoolWithArgmax starts windows at FLT_MIN, not -inf,
 * and tfjs-cpu's is ten times slower than this).
 */
function maxPoolPlanes(
  planes: tf.Tensor2D,
  g: Pool2dGeometry,
  h: number,
  w: number,
  hasNaN: (t: tf.Tensor) => boolean,
): [tf.Tensor, tf.Tensor] {
  const p = planes.shape[0];
  const windows = g.outSize[0] * g.outSize[1];
  const { k, taps, first } = windowTaps(g, h, w);
  const withSentinel = tf.concat([planes, tf.fill([p, 1], -Infinity)], 1);
  const tapTable = tf.tensor1d(taps, "int32");
  const values = tf.reshape(tf.gather(withSentinel, tapTable, 1), [p, windows, k]);
  // tfjs's max reduction propagates NaN; its argMax keeps the first largest tap.
  const best = tf.max(values, 2);
  const windowStart = tf.range(0, windows * k, k, "int32");
  const tapOf = (kIndex: tf.Tensor) => tf.gather(tapTable, tf.add(kIndex, windowStart));
  let at = tf.where(
    tf.equal(best, -Infinity),
    tf.broadcastTo(tf.tensor2d(first, [1, windows], "int32"), [p, windows]),
    tapOf(tf.argMax(values, 2)),
  );
  const nan = tf.isNaN(best);
  if (hasNaN(nan)) {
    // The last NaN tap: the largest (tap index + 1) among NaN taps.
    const nanTaps = tf.where(tf.isNaN(values), tf.range(1, k + 1, 1, "int32"), tf.zeros([1], "int32"));
    const lastNan = tf.maximum(tf.sub(tf.max(nanTaps, 2), tf.scalar(1, "int32")), tf.scalar(0, "int32"));
    at = tf.where(nan, tapOf(lastNan), at);
  }
  return [best, at];
}

function maxPool2dKernel(ctx: FusedContext): FusedKernels["maxPool2d"] {
  return (x: View, geometry: Pool2dGeometry): { values: Storage; indices: Storage } => {
    const [p, h, w] = planesOf(x.shape);
    const outShape = [...x.shape.slice(0, -2), ...geometry.outSize];
    const [values, indices] = ctx.run([x.dtype, "int32"], () => {
      if (numel(outShape) === 0 || h * w === 0) return [tf.zeros(outShape), tf.zeros(outShape, "int32")];
      const planes = tf.reshape(tf.cast(ctx.view(x), "float32"), [p, h * w]) as tf.Tensor2D;
      return maxPoolPlanes(planes, geometry, h, w, (nan) => ctx.readFlag?.(tf.any(nan)) ?? true);
    });
    return { values, indices };
  };
}

function maxPool2dBackwardKernel(ctx: FusedContext): FusedKernels["maxPool2dBackward"] {
  return (gradOut: View, indices: View, inputShape: Shape): Storage => {
    const [p, h, w] = planesOf(inputShape);
    const outPlane = numel(gradOut.shape) / Math.max(p, 1);
    return ctx.run([gradOut.dtype], () => {
      if (numel(inputShape) === 0 || numel(gradOut.shape) === 0) return [tf.zeros(inputShape as number[])];
      const plane = tf.reshape(clampInt(ctx.view(indices), 0, h * w - 1), [p, outPlane]);
      const base = tf.reshape(tf.range(0, p * h * w, h * w, "int32"), [p, 1]);
      const at = tf.reshape(tf.add(plane, base), [-1, 1]);
      // scatterND adds up repeated positions: overlapping windows that share a max.
      return [tf.scatterND(at, tf.reshape(ctx.view(gradOut), [-1]), [p * h * w])];
    })[0];
  };
}

/** Per output position: its window's in-bounds element count and PyTorch's divisor (0 for an empty window). */
function avgWindows(g: Pool2dGeometry, h: number, w: number, options: AvgPoolOptions): {
  inside: Float32Array;
  divisor: Float32Array;
} {
  const [kh, kw] = g.kernel, [sh, sw] = g.stride, [ph, pw] = g.padding;
  const [oh, ow] = g.outSize;
  const inside = new Float32Array(oh * ow), divisor = new Float32Array(oh * ow);
  for (let y = 0, i = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++, i++) {
      let y0 = y * sh - ph, x0 = x * sw - pw;
      let y1 = Math.min(y0 + kh, h + ph), x1 = Math.min(x0 + kw, w + pw);
      const poolSize = (y1 - y0) * (x1 - x0);
      y0 = Math.max(y0, 0), x0 = Math.max(x0, 0);
      y1 = Math.min(y1, h), x1 = Math.min(x1, w);
      if (y0 >= y1 || x0 >= x1) continue;
      inside[i] = (y1 - y0) * (x1 - x0);
      divisor[i] = options.divisorOverride ?? (options.countIncludePad ? poolSize : inside[i]);
    }
  }
  return { inside, divisor };
}

/** The explicit padding that makes tfjs's windows PyTorch's, for [P, H, W, 1] planes (after `cropForWindows`). */
function poolPadding(g: Pool2dGeometry, h: number, w: number): ExplicitPadding {
  const [ph, pw] = g.padding;
  const eh = (g.outSize[0] - 1) * g.stride[0] + g.kernel[0], ew = (g.outSize[1] - 1) * g.stride[1] + g.kernel[1];
  return [[0, 0], [ph, Math.max(eh - h - ph, 0)], [pw, Math.max(ew - w - pw, 0)], [0, 0]];
}

/** Planes cut to the rows and columns windows reach (ceil mode can leave a tail no window covers). */
function cropForWindows(planes: tf.Tensor4D, g: Pool2dGeometry): tf.Tensor4D {
  const [, h, w] = planes.shape;
  const eh = (g.outSize[0] - 1) * g.stride[0] + g.kernel[0] - g.padding[0];
  const ew = (g.outSize[1] - 1) * g.stride[1] + g.kernel[1] - g.padding[1];
  if (eh >= h && ew >= w) return planes;
  return tf.slice(planes, [0, 0, 0, 0], [-1, Math.min(h, eh), Math.min(w, ew), 1]);
}

function avgPool2dKernel(ctx: FusedContext): FusedKernels["avgPool2d"] {
  return (x: View, geometry: Pool2dGeometry, options: AvgPoolOptions): Storage => {
    const [p, h, w] = planesOf(x.shape);
    const [oh, ow] = geometry.outSize;
    const outShape = [...x.shape.slice(0, -2), oh, ow];
    return ctx.run([x.dtype], () => {
      if (numel(outShape) === 0 || h * w === 0) return [tf.zeros(outShape)];
      const planes = cropForWindows(tf.reshape(tf.cast(ctx.view(x), "float32"), [p, h, w, 1]) as tf.Tensor4D, geometry);
      const [, ch, cw] = planes.shape;
      const mean = tf.avgPool(planes, geometry.kernel as Pair, geometry.stride as Pair, poolPadding(geometry, ch, cw));
      // tfjs divides by the in-bounds count; PyTorch by its divisor.
      const { inside, divisor } = avgWindows(geometry, h, w, options);
      const factors = inside.map((n, i) => (divisor[i] === 0 ? 0 : n / divisor[i]));
      return [tf.mul(mean, tf.tensor4d(factors, [1, oh, ow, 1]))];
    })[0];
  };
}

function avgPool2dBackwardKernel(ctx: FusedContext): FusedKernels["avgPool2dBackward"] {
  return (gradOut: View, geometry: Pool2dGeometry, options: AvgPoolOptions, inputShape: Shape): Storage => {
    const [p, h, w] = planesOf(inputShape);
    const [oh, ow] = geometry.outSize;
    const [kh, kw] = geometry.kernel, [ph, pw] = geometry.padding;
    return ctx.run([gradOut.dtype], () => {
      if (numel(inputShape) === 0 || numel(gradOut.shape) === 0) return [tf.zeros(inputShape as number[])];
      // Each output's gradient over its divisor is the share every element of its window gets.
      const { divisor } = avgWindows(geometry, h, w, options);
      const factors = divisor.map((d) => (d === 0 ? 0 : 1 / d));
      const g = tf.reshape(ctx.view(gradOut), [p, oh, ow, 1]);
      const share = tf.mul(g, tf.tensor4d(factors, [1, oh, ow, 1])) as tf.Tensor4D;
      // Spreading each share over its window is a transposed convolution with a filter of ones,
      // computed in the padded frame that ends where the last window does.
      const eh = (oh - 1) * geometry.stride[0] + kh, ew = (ow - 1) * geometry.stride[1] + kw;
      const spread = tf.conv2dTranspose(
        share,
        tf.ones([kh, kw, 1, 1]),
        [p, eh, ew, 1],
        geometry.stride as Pair,
        "valid",
      );
      const [rows, cols] = [Math.min(h, eh - ph), Math.min(w, ew - pw)];
      const inner = tf.slice(spread, [0, ph, pw, 0], [p, rows, cols, 1]);
      return [rows < h || cols < w ? tf.pad(inner, [[0, 0], [0, h - rows], [0, w - cols], [0, 0]]) : inner];
    })[0];
  };
}

// ---- softmax ----

function softmaxKernel(ctx: FusedContext): FusedKernels["softmax"] {
  return (x: View, axis: number, log: boolean): Storage =>
    ctx.run([x.dtype], () => {
      const t = ctx.view(x);
      if (t.size === 0) return [t];
      // Shifting by the max keeps exp finite; a +inf or NaN max gives NaN rows, as in PyTorch.
      const shifted = tf.sub(t, tf.max(t, axis, true));
      if (log) return [tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), axis, true)))];
      const e = tf.exp(shifted);
      return [tf.div(e, tf.sum(e, axis, true))];
    })[0];
}

function softmaxBackwardKernel(ctx: FusedContext): FusedKernels["softmaxBackward"] {
  return (gradOut: View, out: View, axis: number, log: boolean): Storage =>
    ctx.run([gradOut.dtype], () => {
      const g = ctx.view(gradOut), y = ctx.view(out);
      if (g.size === 0) return [g];
      if (log) return [tf.sub(g, tf.mul(tf.exp(y), tf.sum(g, axis, true)))];
      return [tf.mul(y, tf.sub(g, tf.sum(tf.mul(g, y), axis, true)))];
    })[0];
}

/**
 * The fused kernels a tfjs backend offers. `conv2dBackwardWeight` needs
 * tfjs's Conv2DBackpropFilter kernel, which tfjs-wasm lacks: there it is
 * left out and autograd composes the gradient from required ops.
 */
export function fusedKernels(ctx: FusedContext): Partial<FusedKernels> {
  const kernels: Partial<FusedKernels> = {
    softmax: softmaxKernel(ctx),
    softmaxBackward: softmaxBackwardKernel(ctx),
    conv2d: conv2dKernel(ctx),
    conv2dBackwardInput: conv2dBackwardInputKernel(ctx),
    maxPool2d: maxPool2dKernel(ctx),
    maxPool2dBackward: maxPool2dBackwardKernel(ctx),
    avgPool2d: avgPool2dKernel(ctx),
    avgPool2dBackward: avgPool2dBackwardKernel(ctx),
  };
  if (hasKernel("Conv2DBackpropFilter", ctx.tfBackend)) kernels.conv2dBackwardWeight = conv2dBackwardWeightKernel(ctx);
  return kernels;
}
