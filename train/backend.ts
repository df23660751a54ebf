/**
 * Picks the tfjs backend training runs on: the best one this host has, or the
 * one `--backend` names.
 *
 * Order of preference: tfjs-node-gpu (CUDA), tfjs-node (native CPU), webgpu
 * (Dawn through the npm `webgpu` package), wasm, cpu. The native packages are
 * optionalDependencies that fail to install without internet, so they are
 * loaded with dynamic import inside try/catch. Every attempt that fails is
 * remembered so the caller can print why a better backend was skipped.
 */
import * as tf from '@tensorflow/tfjs';
import { installWasmTrainingKernels } from './wasm-kernels';
import { defaultThreads, startWasm } from './wasm-threads';

export type BackendName = 'tfjs-node-gpu' | 'tfjs-node' | 'webgpu' | 'wasm' | 'cpu';
export const BACKENDS: BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'];

export interface BackendInfo {
  name: string;
  device: string;
  /** why each better backend was not used (auto mode only) */
  skipped?: Record<string, string>;
}

// Indirect so bundlers and tsc do not try to resolve packages that may be absent.
const load = (m: string): Promise<unknown> => import(/* @vite-ignore */ m);

async function tryNative(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<string> {
  await load(pkg);
  // Both packages register the backend under the name 'tensorflow'.
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not initialise`);
  return pkg.endsWith('gpu') ? 'CUDA (libtensorflow)' : 'CPU (libtensorflow)';
}

async function tryWebgpu(): Promise<string> {
  // Dawn for Node: navigator.gpu must exist BEFORE the backend module is
  // imported, because the backend registers itself only if it finds it.
  const dawn = (await load('webgpu')) as { create: (o: string[]) => unknown; globals: object };
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]) }, configurable: true, writable: true });
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  const adapter = (await gpu.requestAdapter()) as { info?: { vendor?: string; architecture?: string; description?: string } } | null;
  if (!adapter) throw new Error('no WebGPU adapter (Dawn found no usable Vulkan/Metal/D3D device)');
  await load('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('webgpu backend did not initialise');
  const i = adapter.info ?? {};
  return [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') || 'WebGPU adapter';
}

async function tryWasm(threads = defaultThreads()): Promise<string> {
  const n = await startWasm(threads, () => tf.setBackend('wasm'));
  // matMul with transposes and conv gradients on the fast product (train/wasm-kernels.ts)
  installWasmTrainingKernels();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return `WebAssembly${simd ? ' SIMD' : ''}, ${n} thread${n === 1 ? '' : 's'}`;
}

async function tryCpu(): Promise<string> {
  if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend did not initialise');
  return 'JavaScript (float32)';
}

export interface BackendOptions {
  /** XNNPACK threads for the wasm backend (default: one per core); fixed once the backend has started */
  threads?: number;
}

const TRY: Record<BackendName, (o: BackendOptions) => Promise<string>> = {
  'tfjs-node-gpu': () => tryNative('@tensorflow/tfjs-node-gpu'),
  'tfjs-node': () => tryNative('@tensorflow/tfjs-node'),
  webgpu: tryWebgpu,
  wasm: (o) => tryWasm(o.threads),
  cpu: tryCpu,
};

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0].slice(0, 200);
}

let current: BackendInfo | undefined;

/**
 * Selects a backend. With a name, that backend or a clear error; without one,
 * the first that works in BACKENDS order. Calling again with the backend
 * already active is cheap.
 */
export async function initBackend(name?: BackendName, opts: BackendOptions = {}): Promise<BackendInfo> {
  if (name !== undefined && !BACKENDS.includes(name)) {
    throw new Error(`unknown backend "${name}"; choose one of ${BACKENDS.join(', ')}`);
  }
  if (current && (name === undefined || current.name === name) && tf.getBackend()) return current;
  if (name) {
    try {
      const device = await TRY[name](opts);
      await tf.ready();
      return (current = { name, device });
    } catch (e) {
      throw new Error(`backend ${name} is not available here: ${message(e)}`);
    }
  }
  const skipped: Record<string, string> = {};
  for (const b of BACKENDS) {
    try {
      const device = await TRY[b](opts);
      await tf.ready();
      return (current = { name: b, device, skipped });
    } catch (e) {
      skipped[b] = message(e);
    }
  }
  throw new Error(`no tfjs backend initialised: ${JSON.stringify(skipped)}`);
}

export function parseBackend(s: string): BackendName {
  if (!(BACKENDS as string[]).includes(s)) throw new Error(`unknown backend "${s}"; choose one of ${BACKENDS.join(', ')}`);
  return s as BackendName;
}

/** The kernels training a conv model needs (forward, input gradient / transposed conv, filter gradient). */
export const CONV_KERNELS = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] as const;

/**
 * Throws a clear error when the active backend cannot train conv layers (no
 * Conv2DBackpropFilter kernel), naming one that can, instead of letting tfjs
 * fail mid-step. The wasm backend has one once train/wasm-kernels.ts is
 * installed, which initBackend does.
 */
export function assertConvTrainable(backend = tf.getBackend()): void {
  const missing = CONV_KERNELS.filter((k) => !tf.getKernel(k, backend));
  if (missing.length) {
    throw new Error(`--arch conv cannot train on the ${backend} backend: it has no ${missing.join(', ')} kernel(s). Use --backend wasm (or tfjs-node / webgpu where installed).`);
  }
}
