/**
 * The conv arithmetic behind train/wasm-kernels.ts's conv gradients, on plain
 * float32 arrays: the geometry of an NHWC conv, im2col (transposed) and its
 * adjoint col2im. Kept apart from the kernel registrations so each reads alone.
 */
import * as tf from '@tensorflow/tfjs';

export interface ConvGeometry {
  N: number; H: number; W: number; C: number;
  OH: number; OW: number; CO: number;
  KH: number; KW: number; SH: number; SW: number;
  top: number; left: number;
}

export function geometry(xShape: number[], filterShape: number[], attrs: Record<string, unknown>): ConvGeometry {
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') throw new Error('wasm conv training kernels support NHWC only');
  const dil = attrs.dilations as number | number[] | undefined;
  if (dil !== undefined && (Array.isArray(dil) ? dil.some((d) => d !== 1) : dil !== 1)) throw new Error('wasm conv training kernels support dilation 1 only');
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides as number | [number, number], 1, attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined, false, 'channelsLast');
  return {
    N: info.batchSize, H: info.inHeight, W: info.inWidth, C: info.inChannels,
    OH: info.outHeight, OW: info.outWidth, CO: info.outChannels,
    KH: info.filterHeight, KW: info.filterWidth, SH: info.strideHeight, SW: info.strideWidth,
    top: info.padInfo.top, left: info.padInfo.left,
  };
}

/**
 * The patches transposed: colsT[(i*KW + j)*C + c, m] = x[n, oh*SH - top + i, ow*SW - left + j, c]
 * for output position m = (n, oh, ow), 0 outside the image. Each (i, j) pass reads x
 * in order and writes C rows in order.
 */
export function im2colT(x: Float32Array, colsT: Float32Array, g: ConvGeometry): void {
  const { N, H, W, C, OH, OW, KH, KW, SH, SW, top, left } = g;
  const M = N * OH * OW;
  for (let i = 0; i < KH; i++) {
    for (let j = 0; j < KW; j++) {
      const row0 = (i * KW + j) * C * M;
      let m = 0;
      for (let n = 0; n < N; n++) {
        for (let oh = 0; oh < OH; oh++) {
          const ih = oh * SH - top + i;
          for (let ow = 0; ow < OW; ow++, m++) {
            const iw = ow * SW - left + j;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
              for (let c = 0; c < C; c++) colsT[row0 + c * M + m] = 0;
            } else {
              const s = ((n * H + ih) * W + iw) * C;
              for (let c = 0; c < C; c++) colsT[row0 + c * M + m] = x[s + c];
            }
          }
        }
      }
    }
  }
}

/** The adjoint of im2col: dx[n, ih, iw, c] += cols[m, (i*KW + j)*C + c]. */
export function col2im(cols: Float32Array, dx: Float32Array, g: ConvGeometry): void {
  const { N, H, W, C, OH, OW, KH, KW, SH, SW, top, left } = g;
  const K = KH * KW * C;
  dx.fill(0);
  let m = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++, m++) {
        let o = m * K;
        for (let i = 0; i < KH; i++) {
          const ih = oh * SH - top + i;
          for (let j = 0; j < KW; j++, o += C) {
            const iw = ow * SW - left + j;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const d = ((n * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) dx[d + c] += cols[o + c];
          }
        }
      }
    }
  }
}
