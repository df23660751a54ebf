/**
 * Training kernels for tfjs's wasm backend, registered over (or beside) the
 * stock ones so that every product a training step makes runs on XNNPACK's
 * plain matrix product, the one fast kernel the backend has.
 *
 * Why kernels and not `tf.customGrad` in the models: the slow paths are in the
 * backend, not in our layers. tfjs differentiates `matMul` into two products
 * with `transposeA` / `transposeB`, and the wasm backend runs those on a naive
 * loop (measured 0.5 and 1.1 GFLOP/s against 18-28 for the plain product).
 * Replacing the kernel fixes every dense layer, every model and every future
 * op that transposes, with no change to model code, and only on the backend
 * that needs it; tfjs-node, webgpu and cpu keep their own kernels.
 *
 * - BatchMatMul: a transposed operand is transposed explicitly first (a cheap
 *   memory pass), then the plain product runs.
 * - Conv2DBackpropFilter (absent from the wasm backend, so conv layers could
 *   not train there): im2col into [M, K] rows, M = N*OH*OW output positions
 *   and K = KH*KW*C patch values, then dW^T = dy^T cols as one plain product.
 * - Conv2DBackpropInput (the gradient of conv2d with respect to its input,
 *   and the forward pass of a transposed conv): the stock kernel is a direct
 *   loop; here cols = dy W^T as one product, then col2im scatters the patches
 *   back (the adjoint of im2col).
 *
 * All three are checked against the cpu backend in train/tests/wasm-kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;
type KernelArgs = { inputs: Record<string, Info>; backend: WasmBackend; attrs: Record<string, unknown> };
/** The parts of tfjs-backend-wasm's BackendWasm used here (public methods of its class). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
  disposeData(dataId: unknown): boolean;
}
type KernelFn = (args: KernelArgs) => Info;

const BACKEND = 'wasm';

function kernel(name: string): KernelFn {
  const k = tf.getKernel(name, BACKEND);
  if (!k) throw new Error(`tfjs wasm backend has no ${name} kernel`);
  return k.kernelFunc as unknown as KernelFn;
}

/** Swaps the last two axes. */
function flipLast(transpose: KernelFn, backend: WasmBackend, x: Info): Info {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return transpose({ inputs: { x }, backend, attrs: { perm } });
}

const view = (t: Info, shape: number[]): Info => ({ dataId: t.dataId, shape, dtype: t.dtype });

interface ConvGeometry {
  N: number; H: number; W: number; C: number;
  OH: number; OW: number; CO: number;
  KH: number; KW: number; SH: number; SW: number;
  top: number; left: number;
}

function geometry(xShape: number[], filterShape: number[], attrs: Record<string, unknown>): ConvGeometry {
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

/** cols[m, (i*KW + j)*C + c] = x[n, oh*SH - top + i, ow*SW - left + j, c], 0 outside the image. */
function im2col(x: Float32Array, cols: Float32Array, g: ConvGeometry): void {
  const { N, H, W, C, OH, OW, KH, KW, SH, SW, top, left } = g;
  const K = KH * KW * C;
  let m = 0;
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++, m++) {
        let o = m * K;
        for (let i = 0; i < KH; i++) {
          const ih = oh * SH - top + i;
          for (let j = 0; j < KW; j++, o += C) {
            const iw = ow * SW - left + j;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) cols.fill(0, o, o + C);
            else if (C === 1) cols[o] = x[(n * H + ih) * W + iw];
            else cols.set(x.subarray(((n * H + ih) * W + iw) * C, ((n * H + ih) * W + iw + 1) * C), o);
          }
        }
      }
    }
  }
}

/** The adjoint of im2col: dx[n, ih, iw, c] += cols[m, (i*KW + j)*C + c]. */
function col2im(cols: Float32Array, dx: Float32Array, g: ConvGeometry): void {
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

let installed = false;

/**
 * Registers the kernels above on the wasm backend. Call after
 * `tf.setBackend('wasm')` has resolved (the stock kernels' setup has run);
 * calling again is a no-op.
 */
export function installWasmTrainingKernels(): void {
  if (installed) return;
  const matMul = kernel('BatchMatMul');
  const transpose = kernel('Transpose');

  const fastMatMul: KernelFn = (args) => {
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return matMul(args);
    const { backend } = args;
    const a = transposeA ? flipLast(transpose, backend, args.inputs.a) : args.inputs.a;
    const b = transposeB ? flipLast(transpose, backend, args.inputs.b) : args.inputs.b;
    const out = matMul({ inputs: { a, b }, backend, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    if (transposeA) backend.disposeData(a.dataId);
    if (transposeB) backend.disposeData(b.dataId);
    return out;
  };

  const backpropFilter: KernelFn = ({ inputs: { x, dy }, backend, attrs }) => {
    const filterShape = attrs.filterShape as number[];
    const g = geometry(x.shape, filterShape, attrs);
    const M = g.N * g.OH * g.OW;
    const K = g.KH * g.KW * g.C;
    const cols = backend.makeOutput([1, M, K], 'float32');
    // heap views only after the allocation: growing wasm memory detaches them
    im2col(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(cols), g);
    const dyT = transpose({ inputs: { x: view(dy, [1, M, g.CO]) }, backend, attrs: { perm: [0, 2, 1] } });
    const wT = matMul({ inputs: { a: dyT, b: cols }, backend, attrs: { transposeA: false, transposeB: false } });
    const w = transpose({ inputs: { x: wT }, backend, attrs: { perm: [0, 2, 1] } });
    for (const t of [cols, dyT, wT]) backend.disposeData(t.dataId);
    return view(w, filterShape);
  };

  const backpropInput: KernelFn = ({ inputs: { dy, filter }, backend, attrs }) => {
    const inputShape = attrs.inputShape as number[];
    const g = geometry(inputShape, filter.shape, attrs);
    const M = g.N * g.OH * g.OW;
    const K = g.KH * g.KW * g.C;
    // cols [M, K] = dy [M, CO] x W^T, W viewed as [K, CO]
    const wT = transpose({ inputs: { x: view(filter, [1, K, g.CO]) }, backend, attrs: { perm: [0, 2, 1] } });
    const cols = matMul({ inputs: { a: view(dy, [1, M, g.CO]), b: wT }, backend, attrs: { transposeA: false, transposeB: false } });
    const dx = backend.makeOutput(inputShape, 'float32');
    col2im(backend.typedArrayFromHeap(view(cols, [M * K])), backend.typedArrayFromHeap(dx), g);
    for (const t of [wT, cols]) backend.disposeData(t.dataId);
    return dx;
  };

  const register = (kernelName: string, kernelFunc: KernelFn) => {
    if (tf.getKernel(kernelName, BACKEND)) tf.unregisterKernel(kernelName, BACKEND);
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  };
  register('BatchMatMul', fastMatMul);
  register('Conv2DBackpropFilter', backpropFilter);
  register('Conv2DBackpropInput', backpropInput);
  installed = true;
}
