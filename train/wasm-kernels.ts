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
 * - BatchMatMul: a transposed operand is transposed explicitly first (the
 *   SIMD loop of train/wasm-simd.ts), then the plain product runs; where a
 *   cost model says packing the left side is cheaper than packing the right,
 *   the product runs as C^T = B^T A^T (fastMatMul below says why).
 * - Conv2DBackpropFilter (absent from the wasm backend, so conv layers could
 *   not train there): the patches as colsT [K, M], M = N*OH*OW output positions
 *   and K = KH*KW*C patch values, then dW = colsT dy as one plain product.
 * - Conv2DBackpropInput (the gradient of conv2d with respect to its input,
 *   and the forward pass of a transposed conv): the stock kernel is a direct
 *   loop; here cols = dy W^T as one product, then col2im scatters the patches
 *   back (the adjoint of im2col). At stride 1 with symmetric SAME pads (odd
 *   kernels: the multi-scale flow's couplings) it is instead the stock
 *   forward conv of dy with the kernel rotated 180 degrees, channels swapped.
 *
 * - EdgegenAdam (ours, models/nn.ts ADAM_KERNEL): Adam's update of one
 *   parameter and its two moments in one pass over memory (f32x4 lanes,
 *   train/wasm-simd.ts), where the op chain takes a dozen kernels and as many
 *   temporary tensors.
 * - Concat and SplitV (float32): plain loops over rows; tfjs's copy each row
 *   through a new subarray, which dominated the multi-scale flow's channel
 *   splits (6 ms for a [64, 28, 28, 2] split).
 * - Identity and same-dtype Cast: the buffer shared and reference-counted
 *   (the tape clones every tensor it saves for backprop), not copied.
 * - Sum over leading axes (bias gradients): a row pass on f32x4 lanes, where
 *   the stock kernel transposes first.
 *
 * All are checked against the cpu backend in train/tests/wasm-kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAM_KERNEL } from './models/nn';
import { backendMemory, simdKernels } from './wasm-simd';
import { col2im, geometry, im2colT } from './im2col';

type Info = tf.TensorInfo;
type KernelArgs = { inputs: Record<string, Info>; backend: WasmBackend; attrs: Record<string, unknown> };
/** The parts of tfjs-backend-wasm's BackendWasm used here (public methods of its class). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
  disposeData(dataId: unknown): boolean;
  incRef(dataId: unknown): void;
  /** the Emscripten module (its heap is what train/wasm-simd.ts runs on) */
  wasm: unknown;
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
const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * dst[d0 + r*dStride + k] = src[s0 + r*sStride + k] for r < rows, k < n. One top-level function
 * for Concat and SplitV, so V8 optimises it early: inlined in each kernel (with a destructuring
 * per row) it ran at interpreter speed, 0.4 ms to split [128, 64] in two.
 */
function copyRows(src: Float32Array, s0: number, sStride: number, dst: Float32Array, d0: number, dStride: number, rows: number, n: number): void {
  if (n >= 256) {
    for (let r = 0; r < rows; r++) dst.set(src.subarray(s0 + r * sStride, s0 + r * sStride + n), d0 + r * dStride);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const a = s0 + r * sStride;
    const b = d0 + r * dStride;
    for (let k = 0; k < n; k++) dst[b + k] = src[a + k];
  }
}

/** dst[k] = sum over r < rows of src[r*n + k]: a reduction over leading axes, row by row in memory order. */
function sumRows(src: Float32Array, dst: Float32Array, rows: number, n: number): void {
  dst.fill(0);
  for (let r = 0; r < rows; r++) {
    const a = r * n;
    for (let k = 0; k < n; k++) dst[k] += src[a + k];
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
  const conv2d = kernel('Conv2D');

  /** x with its last two axes swapped: the SIMD 4x4-block loop where the sizes allow, else tfjs's kernel. */
  const swapLast = (backend: WasmBackend, x: Info): Info => {
    const r = x.shape.length;
    const [R, C] = [x.shape[r - 2], x.shape[r - 1]];
    const memory = backendMemory(backend.wasm);
    const simd = memory && simdKernels(memory);
    if (!simd || R % 4 || C % 4 || !R || !C || x.dtype !== 'float32') return flipLast(transpose, backend, x);
    const out = backend.makeOutput([...x.shape.slice(0, r - 2), C, R], 'float32');
    const [src, dst] = [backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out)];
    // 4-6x tfjs's Transpose kernel: 0.09-0.29 ms for [784,512] / [512,784], 0.56-1.2 ms stock
    for (let o = 0; o < src.length; o += R * C) simd.transpose(src.byteOffset + 4 * o, dst.byteOffset + 4 * o, R, C, C, R);
    return out;
  };

  // b operands XNNPACK has packed (and cached under b's id) for a direct product: reused weights
  // (evaluation, inference) stay direct, where the next product needs no packing at all
  const packed = new WeakSet<object>();
  // the choice between C = A B and C^T = B^T A^T (below), in units of one value transposed: packing a
  // value for XNNPACK (and the slower product over a larger packed operand) costs about 4. Fitted on
  // the 784 MLPs' 22 product shapes with cold operands (min of 5 runs each): it picks the faster
  // orientation wherever they differ by more than 7% (128x784x128 runs 6% faster swapped and stays
  // direct); products whose packed operand is under 2^12
  // values are left alone
  const PACK = 4;
  const SWAP_MIN = 1 << 12;
  // EDGEGEN_MATMUL_SWAP=off: every product direct (for A/B timings)
  const swapMode = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.EDGEGEN_MATMUL_SWAP ?? 'auto';

  const fastMatMul: KernelFn = (args) => {
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const { backend } = args;
    const [a0, b0] = [args.inputs.a, args.inputs.b];
    const [ra, rb] = [a0.shape.length, b0.shape.length];
    const [M, K] = transposeA ? [a0.shape[ra - 1], a0.shape[ra - 2]] : [a0.shape[ra - 2], a0.shape[ra - 1]];
    const N = transposeB ? b0.shape[rb - 2] : b0.shape[rb - 1];
    const single = size(a0.shape.slice(0, -2)) === 1 && size(b0.shape.slice(0, -2)) === 1;
    const direct = PACK * K * N + (transposeA ? M * K : 0) + (transposeB ? K * N : 0);
    const swapped = PACK * K * M + M * N + (transposeA ? 0 : M * K) + (transposeB ? 0 : K * N);
    if (single && swapMode !== 'off' && swapped < direct && M >= 8 && K * N >= SWAP_MIN && !packed.has(b0.dataId as object) && a0.dtype === 'float32') {
      // C = A B computed as C^T = B^T A^T: XNNPACK packs its right operand on every new one
      // (weights change every step), and packs into panels it then streams once per row block;
      // packing the [K, M] side instead of [K, N] when M < N is cheaper, and the product itself
      // ran faster with the smaller packed operand (128x784x512: 8.0 -> 4.0 ms with a fresh b).
      // Chosen by the cost model above: the forward products and the input gradients of the
      // VAE's wide layers swap, the weight gradients (K = 128, a large output to transpose) do not.
      // Transposes run on the SIMD 4x4 loop (train/wasm-simd.ts): 0.1-0.3 ms for a cached [784,512],
      // ~0.6 ms for a cold one inside a training step.
      const bT = transposeB ? view(b0, [1, N, K]) : swapLast(backend, view(b0, [1, K, N]));
      const aT = transposeA ? view(a0, [1, K, M]) : swapLast(backend, view(a0, [1, M, K]));
      const cT = matMul({ inputs: { a: bT, b: aT }, backend, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
      const c = swapLast(backend, cT);
      for (const [t, made] of [[bT, !transposeB], [aT, !transposeA], [cT, true]] as const) if (made) backend.disposeData(t.dataId);
      const batch = tf.backend_util.assertAndGetBroadcastShape(a0.shape.slice(0, -2), b0.shape.slice(0, -2));
      return view(c, [...batch, M, N]);
    }
    if (!transposeA && !transposeB) {
      packed.add(b0.dataId as object);
      return matMul(args);
    }
    const a = transposeA ? swapLast(backend, a0) : a0;
    const b = transposeB ? swapLast(backend, b0) : b0;
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
    const colsT = backend.makeOutput([1, K, M], 'float32');
    // heap views only after the allocation: growing wasm memory detaches them
    im2colT(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(colsT), g);
    // dW [K, CO] = colsT [K, M] dy [M, CO]: the product's packed operand is dy, the small one
    // (packing a fresh [M, K] cols as the right operand on every call cost 5x the product itself)
    const w = matMul({ inputs: { a: colsT, b: view(dy, [1, M, g.CO]) }, backend, attrs: { transposeA: false, transposeB: false } });
    backend.disposeData(colsT.dataId);
    return view(w, filterShape);
  };

  const backpropInput: KernelFn = ({ inputs: { dy, filter }, backend, attrs }) => {
    const inputShape = attrs.inputShape as number[];
    const g = geometry(inputShape, filter.shape, attrs);
    if (g.SH === 1 && g.SW === 1 && g.OH === g.H && g.OW === g.W && 2 * g.top === g.KH - 1 && 2 * g.left === g.KW - 1) {
      // stride 1 with symmetric SAME pads: dx is the forward conv of dy with the kernel
      // rotated 180 degrees and its channels swapped, on the fast conv kernel
      const f = backend.makeOutput([g.KH, g.KW, g.CO, g.C], 'float32');
      const [src, dst] = [backend.typedArrayFromHeap(filter), backend.typedArrayFromHeap(f)];
      for (let i = 0; i < g.KH; i++) for (let j = 0; j < g.KW; j++) for (let c = 0; c < g.C; c++) for (let o = 0; o < g.CO; o++) {
        dst[(((g.KH - 1 - i) * g.KW + (g.KW - 1 - j)) * g.CO + o) * g.C + c] = src[((i * g.KW + j) * g.C + c) * g.CO + o];
      }
      const dx = conv2d({ inputs: { x: dy, filter: f }, backend, attrs: { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] } });
      backend.disposeData(f.dataId);
      return dx;
    }
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

  const adam = ({ inputs: { p, m, v, g }, backend, attrs }: KernelArgs): Info[] => {
    const { lr, beta1, beta2, eps } = attrs as { lr: number; beta1: number; beta2: number; eps: number };
    const outs = [p, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
    // heap views only after the allocations: growing wasm memory detaches them
    const [P, M, V, G] = [p, m, v, g].map((t) => backend.typedArrayFromHeap(t));
    const [P1, M1, V1] = outs.map((t) => backend.typedArrayFromHeap(t));
    let from = 0;
    const memory = backendMemory(backend.wasm);
    const simd = memory && simdKernels(memory);
    if (simd) {
      // f32x4 lanes over the multiple-of-4 prefix (train/wasm-simd.ts), the tail below
      from = P.length - (P.length % 4);
      simd.adam(P.byteOffset, M.byteOffset, V.byteOffset, G.byteOffset, P1.byteOffset, M1.byteOffset, V1.byteOffset, from, lr, beta1, 1 - beta1, beta2, 1 - beta2, eps);
    }
    for (let i = from; i < P.length; i++) {
      const gi = G[i];
      const mi = beta1 * M[i] + (1 - beta1) * gi;
      const vi = beta2 * V[i] + (1 - beta2) * gi * gi;
      M1[i] = mi;
      V1[i] = vi;
      P1[i] = P[i] - (lr * mi) / (Math.sqrt(vi) + eps);
    }
    return outs;
  };

  // Concat / SplitV: tfjs copies each row with a subarray, one object per row: 6 ms for a
  // [64, 28, 28, 2] split along channels. Plain loops over [outer, inner] rows instead.
  const stockConcat = kernel('Concat');
  const stockSplit = kernel('SplitV');
  const rowsOf = (shape: number[], axis: number) => [size(shape.slice(0, axis)), size(shape.slice(axis))];

  const concat: KernelFn = (args) => {
    const { inputs, backend, attrs } = args;
    const xs = Object.values(inputs).filter((t) => size(t.shape) > 0);
    if (xs.length < 2 || xs[0].dtype !== 'float32') return stockConcat(args);
    const axis = tf.util.parseAxisParam(attrs.axis as number, xs[0].shape)[0];
    const outShape = tf.backend_util.computeOutShape(xs.map((t) => t.shape), axis);
    const out = backend.makeOutput(outShape, 'float32');
    const [outer, width] = rowsOf(outShape, axis);
    const dst = backend.typedArrayFromHeap(out);
    let col = 0;
    for (const x of xs) {
      const inner = rowsOf(x.shape, axis)[1];
      const src = backend.typedArrayFromHeap(x);
      copyRows(src, 0, inner, dst, col, width, outer, inner);
      col += inner;
    }
    return out;
  };

  const splitV: KernelFn = (args) => {
    const { inputs: { x }, backend, attrs } = args;
    if (x.dtype !== 'float32') return stockSplit(args);
    const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits as number[] | number, axis);
    const outs = sizes.map((n) => backend.makeOutput(x.shape.map((d, i) => (i === axis ? n : d)), 'float32'));
    // heap views only after the allocations: growing wasm memory detaches them
    const src = backend.typedArrayFromHeap(x);
    const [outer, width] = rowsOf(x.shape, axis);
    let col = 0;
    for (const o of outs) {
      const inner = rowsOf(o.shape, axis)[1];
      const dst = backend.typedArrayFromHeap(o);
      copyRows(src, col, width, dst, 0, inner, outer, inner);
      col += inner;
    }
    return outs as unknown as Info;
  };

  // Identity (every tensor the tape saves for the backward pass goes through engine.clone, 90 a
  // VAE step) and Cast to the same dtype (gradients cast dy to float32): the stock kernels copy
  // the buffer; tensors are immutable, so share it and count the reference, as Reshape does.
  const stockIdentity = kernel('Identity');
  const stockCast = kernel('Cast');
  const share = (backend: WasmBackend, x: Info): Info => {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
  const identity: KernelFn = (args) => (args.inputs.x.dtype === 'string' ? stockIdentity(args) : share(args.backend, args.inputs.x));
  const cast: KernelFn = (args) => {
    const { x } = args.inputs;
    return x.dtype === args.attrs.dtype && x.dtype !== 'string' ? share(args.backend, x) : stockCast(args);
  };

  // Sum over leading axes (every bias gradient: dy summed over the batch): the stock kernel
  // reduces innermost axes only, so it first transposes the input with its slow Transpose
  // (0.2-0.6 ms for the VAE's [128, 784] gradients); here a pass over the rows in memory order,
  // on f32x4 lanes where the row length allows (train/wasm-simd.ts).
  const stockSum = kernel('Sum');
  const sum: KernelFn = (args) => {
    const { inputs: { x }, backend, attrs } = args;
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((p, q) => p - q);
    const lead = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
    if (!lead || x.dtype !== 'float32') return stockSum(args);
    const rest = x.shape.slice(axes.length);
    const out = backend.makeOutput(attrs.keepDims ? [...axes.map(() => 1), ...rest] : rest, 'float32');
    const [src, dst] = [backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out)];
    const [rows, n] = [size(x.shape.slice(0, axes.length)), size(rest)];
    const memory = backendMemory(backend.wasm);
    const simd = memory && simdKernels(memory);
    if (simd && n % 4 === 0) {
      dst.fill(0);
      simd.sumRows(src.byteOffset, dst.byteOffset, rows, n);
    } else sumRows(src, dst, rows, n);
    return out;
  };

  const register = (kernelName: string, kernelFunc: KernelFn | ((a: KernelArgs) => Info[])) => {
    if (tf.getKernel(kernelName, BACKEND)) tf.unregisterKernel(kernelName, BACKEND);
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  };
  register('BatchMatMul', fastMatMul);
  register('Conv2DBackpropFilter', backpropFilter);
  register('Conv2DBackpropInput', backpropInput);
  register(ADAM_KERNEL, adam);
  register('Concat', concat);
  register('SplitV', splitV);
  register('Identity', identity);
  register('Cast', cast);
  register('Sum', sum);
  installed = true;
}
