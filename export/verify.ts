/**
 * Verification before anything is written: every graph runs in onnxruntime-node
 * on seeded random inputs and must agree with a reference implementation of the
 * same model (the tfjs model from train/ in the exporter; the float64 spec
 * reference in unit tests). A disagreement throws with the worst output named.
 *
 * Tolerances (the project's contract):
 * - samples: max |onnx - ref| <= 1e-4, in units of the data
 *   scale (pixels are compared after dividing by 256, so 1e-4 is 0.026 of a
 *   grey level; toys as they are)
 * - log-densities (logp, elbo, iwae): max |onnx - ref| / max(1, |ref|) <= 1e-4
 * - latents (z, mu, logvar): the same relative error <= 1e-3. Why looser: on a
 *   trained 6-step RealNVP on MNIST fed uniform-noise images (far off the data),
 *   ONNX and tfjs were each within 9e-5 of a float64 evaluation but 5e-4 from
 *   each other (float32 rounding amplified by exp(s) through the steps); the
 *   log-density of the same inputs still agreed within 1e-4.
 */
import { Prng } from '../core/prng';
import { dataDim, latentDim, type ModelSpec } from '../core/spec';
import type { Capability } from '../core/manifest';
import { runGraph, type Feed } from './ort';

export const SAMPLE_TOL = 1e-4;
export const DENSITY_REL_TOL = 1e-4;
export const LATENT_REL_TOL = 1e-3;

export type Arrays = Record<string, Float32Array | undefined>;

/** The same model outside ONNX, on flattened float32 rows. */
export interface Reference {
  sample(z: Float32Array, n: number, noise?: Float32Array): Promise<Arrays> | Arrays;
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

export async function verifyGraphs(spec: ModelSpec, graphs: GraphBytes[], ref: Reference, opts: VerifyOptions = {}): Promise<VerifyReport[]> {
  const n = opts.n ?? 64;
  const K = opts.k ?? 8;
  const rng = new Prng(opts.seed ?? 20240601);
  const D = dataDim(spec);
  const L = latentDim(spec);
  const pixelScale = spec.preprocess.kind === 'affine' ? 1 : 256;
  const reports: VerifyReport[] = [];

  const compare = (capability: string, got: Record<string, { data: Float32Array }>, want: Arrays, names: Record<string, string>, kind: 'abs' | 'rel', tol: number, scale = 1) => {
    for (const [onnxName, refName] of Object.entries(names)) {
      const a = got[onnxName]?.data;
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
    const feedX: Feed = { x: { data: x, dims: [n, D] } };
    if (capability === 'sample') {
      const z = rng.normals(n * L);
      const feed: Feed = { z: { data: z, dims: [n, L] } };
      let noise: Float32Array | undefined;
      if (spec.family === 'vae') {
        noise = rng.normals(n * D);
        feed.noise = { data: noise, dims: [n, D] };
      }
      const got = await runGraph(bytes, feed);
      const want = await ref.sample(z, n, noise);
      compare('sample', got, want, spec.family === 'vae' ? { x: 'x', x_mean: 'xMean' } : { x: 'x' }, 'abs', opts.sampleTol ?? SAMPLE_TOL, pixelScale);
    } else if (capability === 'density') {
      if (!ref.density) throw new VerificationError('reference model has no density');
      if (spec.family === 'vae') {
        const eps = rng.normals(n * K * L);
        const got = await runGraph(bytes, { ...feedX, eps: { data: eps, dims: [n, K, L] } });
        compare('density', got, await ref.density(x, n, eps, K), { elbo: 'elbo', iwae: 'iwae' }, 'rel', opts.densityTol ?? DENSITY_REL_TOL);
      } else {
        compare('density', await runGraph(bytes, feedX), await ref.density(x, n), { logp: 'logp' }, 'rel', opts.densityTol ?? DENSITY_REL_TOL);
      }
    } else {
      if (!ref.encode) throw new VerificationError('reference model has no encode');
      const got = await runGraph(bytes, feedX);
      const names: Record<string, string> = spec.family === 'vae' ? { mu: 'mu', logvar: 'logvar' } : { z: 'z' };
      compare('encode', got, await ref.encode(x, n), names, 'rel', opts.latentTol ?? LATENT_REL_TOL);
    }
  }
  return reports;
}

/** Graphs already verified, used as the reference for their float16 copies. */
export function onnxReference(graphs: GraphBytes[]): Reference {
  const bytes = (c: Capability) => graphs.find((g) => g.capability === c)?.bytes;
  const arrays = (out: Record<string, { data: Float32Array }>): Arrays => {
    const a: Arrays = {};
    for (const [k, v] of Object.entries(out)) a[k === 'x_mean' ? 'xMean' : k] = v.data;
    return a;
  };
  const cols = (a: Float32Array, n: number) => a.length / n;
  const ref: Reference = {
    sample: async (z, n, noise) => {
      const feed: Feed = { z: { data: z, dims: [n, cols(z, n)] } };
      if (noise) feed.noise = { data: noise, dims: [n, cols(noise, n)] };
      return arrays(await runGraph(bytes('sample')!, feed));
    },
  };
  if (bytes('density')) {
    ref.density = async (x, n, eps, k) => {
      const feed: Feed = { x: { data: x, dims: [n, cols(x, n)] } };
      if (eps) feed.eps = { data: eps, dims: [n, k!, eps.length / (n * k!)] };
      return arrays(await runGraph(bytes('density')!, feed));
    };
  }
  if (bytes('encode')) ref.encode = async (x, n) => arrays(await runGraph(bytes('encode')!, { x: { data: x, dims: [n, cols(x, n)] } }));
  return ref;
}
