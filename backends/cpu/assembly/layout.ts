// The conv record: the geometry of one conv2d image, written by the host as
// 16 i32 (64 bytes) and read by the im2col packers. Offsets are in bytes and
// must match CONV_RECORD in ../_wasm_kernels.ts.

// @ts-ignore: decorator
@inline export const CONV_X: u32 = 0; // byte address of the image's first channel
// @ts-ignore: decorator
@inline export const CONV_C: u32 = 4; // channels
// @ts-ignore: decorator
@inline export const CONV_H: u32 = 8;
// @ts-ignore: decorator
@inline export const CONV_W: u32 = 12;
// @ts-ignore: decorator
@inline export const CONV_KH: u32 = 16;
// @ts-ignore: decorator
@inline export const CONV_KW: u32 = 20;
// @ts-ignore: decorator
@inline export const CONV_OH: u32 = 24;
// @ts-ignore: decorator
@inline export const CONV_OW: u32 = 28;
// @ts-ignore: decorator
@inline export const CONV_SH: u32 = 32;
// @ts-ignore: decorator
@inline export const CONV_SW: u32 = 36;
// @ts-ignore: decorator
@inline export const CONV_PH: u32 = 40;
// @ts-ignore: decorator
@inline export const CONV_PW: u32 = 44;
// @ts-ignore: decorator
@inline export const CONV_DH: u32 = 48;
// @ts-ignore: decorator
@inline export const CONV_DW: u32 = 52;
