// The entry of Flint's CPU kernels: every export here is a kernel the host
// calls (../_wasm_kernels.ts). `deno task build:wasm` compiles this tree with
// AssemblyScript into ../wasm/kernels_relaxed.wasm and ../wasm/kernels_simd.wasm.

export { gemmScratchBytes, packBPanels, packedBBytes, sgemm, sgemmConv, sgemmPacked } from "./gemm";
export { col2im, im2col } from "./conv";
export { winogradGradOutput, winogradInput, winogradOutput, winogradWeightGrad, winogradWeights } from "./winograd";
export { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward } from "./pool";
export {
  binaryRow,
  binaryRows,
  channelAffine,
  copyRow,
  fill32,
  scalarBinaryRow,
  thresholdBackwardRow,
  transpose,
  unaryRow,
  whereRow,
} from "./elementwise";
export { combineRow, demoteRow, fillF64, foldRow } from "./reduce";
export { adamStep, sgdStep } from "./optim";
export { fmaPeak } from "./peak";
