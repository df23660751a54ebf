/**
 * Verification before anything is written: every graph runs in onnxruntime-node
 * through the graph protocol (core/protocol.ts), the same code the API and the
 * page use, on seeded random inputs and must agree with a reference implementation of the
 * same model (the tfjs model from train/ in the exporter; the float64 spec
 * reference in unit tests). A disagreement throws with the worst output named.
 *
 * Tolerances (the project's contract):
 * - samples: max |onnx - ref| <= 1e-4, in units of the data
 *   scale (pixels are compared after dividing by 256, so 1e-4 is 0.026 of a
 *   grey level; toys as they are). Autoregressive samples are checked
 *   teacher-forced: one pass fed the reference's final state y must give y
 *   back (relative) and its x (as above). Free-running, the D passes compound
 *   float32 rounding (MADE on Fashion-MNIST: 1.2e-3 after 784 passes, each
 *   pass within 1e-4): that is the model's sensitivity, not the graph's error,
 *   and export/parity.ts measures it between runtimes.
 * - log-densities (logp, elbo, iwae): max |onnx - ref| / max(1, |ref|) <= 1e-4
 * - latents (z, mu, logvar): the same relative error <= 1e-3. Why looser: on a
 *   trained 6-step RealNVP on MNIST fed uniform-noise images (far off the data),
 *   ONNX and tfjs were each within 9e-5 of a float64 evaluation but 5e-4 from
 *   each other (float32 rounding amplified by exp(s) through the steps); the
 *   log-density of the same inputs still agreed within 1e-4.
 */
import { familyOf, latentDimOf } from '../core/families';
import type { Capability } from '../core/manifest';
import { Prng } from '../core/prng';
import { oneHot, runAutoregressive, runDensity, runEncode, runSample, runSamplePass, type ModelInfo, type RunGraph } from '../core/protocol';
import { classCount, dataDim, type ModelSpec } from '../core/spec';
import { openGraph } from './ort';

export const SAMPLE_TOL = 1e-4;
export const DENSITY_REL_TOL = 1e-4;
export const LATENT_REL_TOL = 1e-3;

export type Arrays = Record<string, Float32Array | undefined>;

/** The same model outside ONNX, on flattened float32 rows. */
export interface Reference {
  /** `label`: one-hot rows [n, C] for a conditional model */
  sample(z: Float32Array, n: number, noise?: Float32Array, label?: Float32Array): Promise<Arrays> | Arrays;
  density?(x: Float32Array, n: number, eps?: Float32Array, k?: number): Promise<Arrays> | Arrays;
  encode?(x: Float32Array, n: number): Promise<Arrays> | Arrays;
}

export interface VerifyReport {
  capability: string;
  output: string;
  maxError: number;
  kind: 'abs' | 'rel';
}

export class VerificationError extends Error {
  override name = 'VerificationError';
}

/** Data-space test inputs: pixels uniform in [0, 256); toys around the training data's location. */
export function testInputs(spec: ModelSpec, n: number, rng: Prng): Float32Array {
  const D = dataDim(spec);
  const p = spec.preprocess;
  if (p.kind !== 'affine') return Float32Array.from({ length: n * D }, () => rng.uniform() * 256);
  const e = rng.normals(n * D);
  return e.map((v, i) => p.shift[i % D] + p.scale[i % D] * v);
}

/** Serialised graphs, as written to disk or as read back from models/. */
export interface GraphBytes {
  capability: Capability;
  bytes: Uint8Array;
}

export interface VerifyOptions {
  n?: number;
  k?: number;
  seed?: number;
  /** override the contract's tolerances (float16 variants are checked against looser ones) */
  sampleTol?: number;
  densityTol?: number;
  latentTol?: number;
}

/** What the protocol needs of a spec (core/protocol.ts `ModelInfo`). */
export function specInfo(spec: ModelSpec): ModelInfo {
  return { family: spec.family, shape: spec.shape, latentDim: latentDimOf(spec), ...(spec.conditional ? { classes: spec.conditional } : {}) };
}

/** Labels for n verification rows of a conditional spec: every class in turn (row i is class i mod C), one-hot; undefined for unconditional specs. */
export function testLabels(spec: ModelSpec, n: number): Float32Array | undefined {
  const C = classCount(spec);
  return C ? oneHot(Array.from({ length: n }, (_, i) => i % C), C) : undefined;
}

/** Rows verified through graphs that take D passes (autoregressive sampling): fewer, the reference is slow. */
const SEQUENTIAL_ROWS = 4;

export async function verifyGraphs(spec: ModelSpec, graphs: GraphBytes[], ref: Reference, opts: VerifyOptions = {}): Promise<VerifyReport[]> {
  const n = opts.n ?? 64;
  const K = opts.k ?? 8;
  const rng = new Prng(opts.seed ?? 20240601);
  const D = dataDim(spec);
  const info = specInfo(spec);
  const L = info.latentDim;
  const proto = familyOf(spec.family).protocol;
  const pixelScale = spec.preprocess.kind === 'affine' ? 1 : 256;
  const reports: VerifyReport[] = [];

  const compare = (capability: string, got: Arrays, want: Arrays, names: Record<string, string>, kind: 'abs' | 'rel', tol: number, scale = 1) => {
    for (const [onnxName, refName] of Object.entries(names)) {
      const a = got[onnxName];
      const b = want[refName];
      if (!a || !b) throw new VerificationError(`${capability}: output ${onnxName} missing (onnx: ${!!a}, reference: ${!!b})`);
      if (a.length !== b.length) throw new VerificationError(`${capability}.${onnxName}: ${a.length} values from ONNX, ${b.length} from the reference`);
      let worst = 0;
      for (let i = 0; i < a.length; i++) {
        const err = kind === 'abs' ? Math.abs(a[i] - b[i]) / scale : Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
        // NaN anywhere is a failure, not a quietly ignored comparison
        worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
      }
      reports.push({ capability, output: onnxName, maxError: worst, kind });
      if (!(worst <= tol)) {
        throw new VerificationError(`${capability}.${onnxName} disagrees with the reference model: max ${kind} error ${worst.toExponential(3)} > ${tol}`);
      }
    }
  };

  for (const { capability, bytes } of graphs) {
    const x = testInputs(spec, n, rng);
    const graph = await openGraph(bytes);
    try {
      if (capability === 'sample') {
        const m = proto.autoregressive ? Math.min(n, SEQUENTIAL_ROWS) : n;
        const z = rng.normals(m * L);
        const noise = proto.observationNoise ? rng.normals(m * D) : undefined;
        const label = testLabels(spec, m);
        const want = await ref.sample(z, m, noise, label);
        if (proto.autoregressive) {
          // teacher-forced: one pass from the reference's final state must give back that state and its x
          if (!want.y) throw new VerificationError('sample: the reference gives no y to check an autoregressive pass against');
          const pass = await runSamplePass(info, graph.run, z, want.y, m, label);
          compare('sample', { y_next: pass.yNext }, want, { y_next: 'y' }, 'rel', opts.sampleTol ?? SAMPLE_TOL);
          compare('sample', { x: pass.x }, want, { x: 'x' }, 'abs', opts.sampleTol ?? SAMPLE_TOL, pixelScale);
        } else {
          const got: Arrays = { x: await runSample(info, graph.run, z, m, { noise, mode: 'sample', label }) };
          if (proto.observationNoise) got.xMean = await runSample(info, graph.run, z, m, { noise, mode: 'mean', label });
          compare('sample', got, want, proto.observationNoise ? { x: 'x', xMean: 'xMean' } : { x: 'x' }, 'abs', opts.sampleTol ?? SAMPLE_TOL, pixelScale);
        }
      } else if (capability === 'density') {
        if (!ref.density) throw new VerificationError('reference model has no density');
        const eps = proto.importanceSampled ? rng.normals(n * K * L) : undefined;
        const out = await runDensity(info, graph.run, x, n, eps && { data: eps, k: K });
        const want = await ref.density(x, n, eps, eps && K);
        const got: Arrays = proto.importanceSampled ? { elbo: out.elbo, iwae: out.logp } : { logp: out.logp };
        const names: Record<string, string> = proto.importanceSampled ? { elbo: 'elbo', iwae: 'iwae' } : { logp: 'logp' };
        // conditional: every class's value too, not only their mixture
        if (out.perClass) {
          const perClass = proto.importanceSampled ? (K > 1 ? 'iwaey' : 'elboy') : 'logpy';
          got[perClass] = out.perClass;
          names[perClass] = perClass;
        }
        compare('density', got, want, names, 'rel', opts.densityTol ?? DENSITY_REL_TOL);
      } else {
        if (!ref.encode || !proto.encode) throw new VerificationError('reference model has no encode');
        const out = await runEncode(info, graph.run, x, n);
        const names: Record<string, string> = { [proto.encode.z]: proto.encode.z };
        const got: Arrays = { [proto.encode.z]: out.z };
        if (proto.encode.logvar) {
          names[proto.encode.logvar] = proto.encode.logvar;
          got[proto.encode.logvar] = out.logvar;
        }
        compare('encode', got, await ref.encode(x, n), names, 'rel', opts.latentTol ?? LATENT_REL_TOL);
      }
    } finally {
      await graph.release();
    }
  }
  return reports;
}

/** Graphs already verified, used as the reference for their float16 copies (outputs named as the tfjs reference names them). */
export function onnxReference(spec: ModelSpec, graphs: GraphBytes[]): Reference {
  const info = specInfo(spec);
  const proto = familyOf(spec.family).protocol;
  const bytes = (c: Capability) => graphs.find((g) => g.capability === c)?.bytes;
  const withGraph = async <T>(c: Capability, f: (run: RunGraph) => Promise<T>): Promise<T> => {
    const g = await openGraph(bytes(c)!);
    try {
      return await f(g.run);
    } finally {
      await g.release();
    }
  };
  const ref: Reference = {
    sample: (z, n, noise, label) =>
      withGraph('sample', async (run) => {
        if (proto.autoregressive) return { ...(await runAutoregressive(info, run, z, n, label)) };
        const out: Arrays = { x: await runSample(info, run, z, n, { noise, mode: 'sample', label }) };
        if (proto.observationNoise) out.xMean = await runSample(info, run, z, n, { noise, mode: 'mean', label });
        return out;
      }),
  };
  if (bytes('density')) {
    ref.density = (x, n, eps, k) =>
      withGraph('density', async (run) => {
        const out = await runDensity(info, run, x, n, eps && { data: eps, k: k! });
        const perClass = proto.importanceSampled ? (k! > 1 ? 'iwaey' : 'elboy') : 'logpy';
        return { ...(proto.importanceSampled ? { elbo: out.elbo, iwae: out.logp } : { logp: out.logp }), ...(out.perClass ? { [perClass]: out.perClass } : {}) };
      });
  }
  if (bytes('encode') && proto.encode) {
    const e = proto.encode;
    ref.encode = (x, n) =>
      withGraph('encode', async (run) => {
        const out = await runEncode(info, run, x, n);
        return e.logvar ? { [e.z]: out.z, [e.logvar]: out.logvar } : { [e.z]: out.z };
      });
  }
  return ref;
}
