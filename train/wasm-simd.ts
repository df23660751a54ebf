/**
 * Hand-assembled WebAssembly SIMD loops that run on the tfjs wasm backend's
 * own heap: the module imports the backend's WebAssembly.Memory, so a kernel
 * in train/wasm-kernels.ts passes tensor byte offsets and the loop reads and
 * writes tensors in place, with no copy in or out.
 *
 * Why: the JavaScript loops of those kernels compute in float64, one value at
 * a time (fused Adam over the MNIST VAE's 0.85 M weights took 4.6-7.6 ms a
 * step); the same loop on f32x4 lanes is memory-bound. There is no wasm
 * toolchain among the project's dependencies, so the few functions needed are
 * assembled here from their opcodes (WebAssembly core + SIMD 128 spec numbers).
 *
 * Functions (all offsets in bytes into the backend heap, counts in floats; the
 * loops handle the multiple-of-4 prefix, `simdKernels()` callers the tail):
 *
 * - adam(p, m, v, g, p1, m1, v1, n, lr, b1, c1, b2, c2, eps):
 *   m1 = b1 m + c1 g;  v1 = b2 v + c2 g g;  p1 = p - lr m1 / (sqrt(v1) + eps)
 * - transpose(src, dst, R, C, lds, ldd): dst [C, R] = src [R, C]^T in 4x4
 *   blocks (four row loads, eight lane shuffles, four stores), row strides
 *   lds / ldd (a block of a larger matrix); R and C multiples of 4.
 * - sumRows(src, dst, rows, n): dst [n] += every row of src [rows, n], in
 *   row order (a reduction over leading axes: bias gradients).
 */

// --- a minimal encoder --------------------------------------------------------

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const str = (s: string): number[] => vec([...new TextEncoder().encode(s)].map((b) => [b]));
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Opcodes used below. */
const op = {
  block: [0x02, 0x40], loop: [0x03, 0x40], end: [0x0b], br: (d: number) => [0x0c, ...uleb(d)], brIf: (d: number) => [0x0d, ...uleb(d)],
  get: (i: number) => [0x20, ...uleb(i)], set: (i: number) => [0x21, ...uleb(i)], tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)], i32Add: [0x6a], i32Mul: [0x6c], i32Shl: [0x74], i32GeU: [0x4f],
  // SIMD: prefix 0xfd, then the opcode as a uleb; memarg = align exponent, offset
  load: [0xfd, ...uleb(0x00), 0, 0], store: [0xfd, ...uleb(0x0b), 0, 0],
  splat: [0xfd, ...uleb(0x13)],
  /** i8x16.shuffle picking float lanes (0-3 first operand, 4-7 second) */
  shuffle: (lanes: number[]) => [0xfd, ...uleb(0x0d), ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])], sqrt: [0xfd, ...uleb(0xe3)],
  add: [0xfd, ...uleb(0xe4)], sub: [0xfd, ...uleb(0xe5)], mul: [0xfd, ...uleb(0xe6)], div: [0xfd, ...uleb(0xe7)],
};

interface Func {
  name: string;
  params: number[];
  /** [count, type] groups after the params */
  locals: Array<[number, number]>;
  body: number[][];
}

function assemble(funcs: Func[], shared: boolean): Uint8Array<ArrayBuffer> {
  const types = section(1, vec(funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec([])])));
  // memory import: shared memories must state a maximum (4 GiB, what Emscripten's threaded build declares)
  const limits = shared ? [0x03, ...uleb(0), ...uleb(65536)] : [0x00, ...uleb(0)];
  const imports = section(2, vec([[...str('env'), ...str('memory'), 0x02, ...limits]]));
  const fns = section(3, vec(funcs.map((_, i) => uleb(i))));
  const exports = section(7, vec(funcs.map((f, i) => [...str(f.name), 0x00, ...uleb(i)])));
  const code = section(10, vec(funcs.map((f) => {
    const body = [...vec(f.locals.map(([n, t]) => [...uleb(n), t])), ...f.body.flat(), ...op.end];
    return [...uleb(body.length), ...body];
  })));
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...fns, ...exports, ...code]);
}

// --- the functions ----------------------------------------------------------

function adam(): Func {
  // params 0-6 pointers p m v g p1 m1 v1, 7 n, 8-13 lr b1 c1 b2 c2 eps; locals 14 i, 15-20 splats, 21 g, 22 m', 23 v'
  const [P, M, V, G, P1, M1, V1, N] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [I, LR, B1, C1, B2, C2, EPS, GI, MI, VI] = [14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  const at = (base: number) => [...op.get(base), ...op.get(I), ...op.i32Add];
  return {
    name: 'adam',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32],
    locals: [[1, I32], [9, V128]],
    body: [
      ...[LR, B1, C1, B2, C2, EPS].map((l, k) => [...op.get(8 + k), ...op.splat, ...op.set(l)]),
      // n floats -> end byte offset
      op.get(N), op.i32(2), op.i32Shl, op.set(N),
      op.block, op.loop,
      op.get(I), op.get(N), op.i32GeU, op.brIf(1),
      at(G), op.load, op.set(GI),
      at(M1), at(M), op.load, op.get(B1), op.mul, op.get(GI), op.get(C1), op.mul, op.add, op.tee(MI), op.store,
      at(V1), at(V), op.load, op.get(B2), op.mul, op.get(GI), op.get(GI), op.mul, op.get(C2), op.mul, op.add, op.tee(VI), op.store,
      at(P1), at(P), op.load, op.get(LR), op.get(MI), op.mul, op.get(VI), op.sqrt, op.get(EPS), op.add, op.div, op.sub, op.store,
      op.get(I), op.i32(16), op.i32Add, op.set(I),
      op.br(0), op.end, op.end,
    ],
  };
}

function transpose(): Func {
  // params 0 src, 1 dst, 2 R, 3 C (floats, both multiples of 4), 4 src row stride, 5 dst row stride (floats);
  // locals 6 r, 7 c, 8 rowB, 9 colB, 10 sp, 11 dp, 12-15 rows, 16-19 pairs
  const [SRC, DST, R, C, LDS, LDD, r, c, ROWB, COLB, SP, DP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const [V0, V1, V2, V3, T0, T1, T2, T3] = [12, 13, 14, 15, 16, 17, 18, 19];
  const rowAt = (base: number, stride: number, k: number) => (k === 0 ? op.get(base) : [...op.get(base), ...op.get(stride), ...op.i32(k), ...op.i32Mul, ...op.i32Add]);
  return {
    name: 'transpose',
    params: [I32, I32, I32, I32, I32, I32],
    locals: [[6, I32], [8, V128]],
    body: [
      op.get(LDS), op.i32(2), op.i32Shl, op.set(ROWB),
      op.get(LDD), op.i32(2), op.i32Shl, op.set(COLB),
      op.block, op.loop,
      op.get(r), op.get(R), op.i32GeU, op.brIf(1),
      op.i32(0), op.set(c),
      op.block, op.loop,
      op.get(c), op.get(C), op.i32GeU, op.brIf(1),
      // sp = src + r*rowB + 4c: four rows of 4 floats
      op.get(SRC), op.get(r), op.get(ROWB), op.i32Mul, op.i32Add, op.get(c), op.i32(2), op.i32Shl, op.i32Add, op.set(SP),
      ...[V0, V1, V2, V3].map((v, k) => [...rowAt(SP, ROWB, k), ...op.load, ...op.set(v)]),
      op.get(V0), op.get(V1), op.shuffle([0, 4, 1, 5]), op.set(T0),
      op.get(V0), op.get(V1), op.shuffle([2, 6, 3, 7]), op.set(T1),
      op.get(V2), op.get(V3), op.shuffle([0, 4, 1, 5]), op.set(T2),
      op.get(V2), op.get(V3), op.shuffle([2, 6, 3, 7]), op.set(T3),
      // dp = dst + c*colB + 4r: the block's columns become rows
      op.get(DST), op.get(c), op.get(COLB), op.i32Mul, op.i32Add, op.get(r), op.i32(2), op.i32Shl, op.i32Add, op.set(DP),
      rowAt(DP, COLB, 0), op.get(T0), op.get(T2), op.shuffle([0, 1, 4, 5]), op.store,
      rowAt(DP, COLB, 1), op.get(T0), op.get(T2), op.shuffle([2, 3, 6, 7]), op.store,
      rowAt(DP, COLB, 2), op.get(T1), op.get(T3), op.shuffle([0, 1, 4, 5]), op.store,
      rowAt(DP, COLB, 3), op.get(T1), op.get(T3), op.shuffle([2, 3, 6, 7]), op.store,
      op.get(c), op.i32(4), op.i32Add, op.set(c),
      op.br(0), op.end, op.end,
      op.get(r), op.i32(4), op.i32Add, op.set(r),
      op.br(0), op.end, op.end,
    ],
  };
}

function sumRows(): Func {
  // params 0 src, 1 dst, 2 rows, 3 n (floats, a multiple of 4); locals 4 r, 5 k (bytes), 6 row bytes, 7 row pointer
  const [SRC, DST, ROWS, N, r, k, NB, SP] = [0, 1, 2, 3, 4, 5, 6, 7];
  return {
    name: 'sumRows',
    params: [I32, I32, I32, I32],
    locals: [[4, I32]],
    body: [
      op.get(N), op.i32(2), op.i32Shl, op.set(NB),
      op.get(SRC), op.set(SP),
      op.block, op.loop,
      op.get(r), op.get(ROWS), op.i32GeU, op.brIf(1),
      op.i32(0), op.set(k),
      op.block, op.loop,
      op.get(k), op.get(NB), op.i32GeU, op.brIf(1),
      op.get(DST), op.get(k), op.i32Add,
      op.get(DST), op.get(k), op.i32Add, op.load, op.get(SP), op.get(k), op.i32Add, op.load, op.add, op.store,
      op.get(k), op.i32(16), op.i32Add, op.set(k),
      op.br(0), op.end, op.end,
      op.get(SP), op.get(NB), op.i32Add, op.set(SP),
      op.get(r), op.i32(1), op.i32Add, op.set(r),
      op.br(0), op.end, op.end,
    ],
  };
}

export interface SimdKernels {
  /** dst [n] += the rows of src [rows, n] (dst zeroed by the caller for a sum); n a multiple of 4 */
  sumRows(src: number, dst: number, rows: number, n: number): void;
  /** dst [C, R] = src [R, C] transposed, rows `lds` / `ldd` floats apart; R and C multiples of 4 */
  transpose(src: number, dst: number, R: number, C: number, lds: number, ldd: number): void;
  adam(p: number, m: number, v: number, g: number, p1: number, m1: number, v1: number, n: number, lr: number, b1: number, c1: number, b2: number, c2: number, eps: number): void;
}

const FUNCS = [adam, transpose, sumRows];
const cache = new WeakMap<WebAssembly.Memory, SimdKernels | null>();

/**
 * The functions above bound to `memory` (the tfjs wasm backend's heap), or
 * null where this runtime cannot compile WebAssembly SIMD (callers then run
 * their JavaScript loops).
 */
export function simdKernels(memory: WebAssembly.Memory): SimdKernels | null {
  if (cache.has(memory)) return cache.get(memory)!;
  let k: SimdKernels | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const mod = new WebAssembly.Module(assemble(FUNCS.map((f) => f()), shared));
    k = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as SimdKernels;
  } catch {
    k = null;
  }
  cache.set(memory, k);
  return k;
}

/** The backend's WebAssembly.Memory: exported by the single-threaded build, imported (and kept on the module) by the threaded one. */
export function backendMemory(wasm: unknown): WebAssembly.Memory | undefined {
  const w = wasm as { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  const m = w.asm?.memory ?? w.wasmMemory;
  return m instanceof WebAssembly.Memory ? m : undefined;
}

/** For tests: the assembled bytes are a valid module in both memory modes. */
export function assembleForTest(shared: boolean): Uint8Array<ArrayBuffer> {
  return assemble(FUNCS.map((f) => f()), shared);
}
