/**
 * The request bodies of the API, as validators (see validate.ts). Handlers
 * parse with these; openapi.ts describes them. Limits come from core/api.ts.
 */
import { API_LIMITS } from '../core/api';
import type { Manifest } from '../core/manifest';
import { dataDim, importanceSampled, samplePasses, sampleWork } from '../core/protocol';
import { checkBudget, int, matrix, num, object, oneOf, optional, type Validator } from './validate';

/** Sums of rows * k the VAE density may compute in one request (eps is rows x k x latentDim floats). */
export const MAX_DENSITY_DRAWS = 65_536;

/**
 * Most units of work one request may ask for. A unit is one data-space value
 * the model produces or consumes: rows x dataDim, times k for the VAE density
 * (each importance draw decodes a whole row), times D for sampling from an
 * autoregressive family (one pass of the graph per dimension). 2^20 (4 MiB of float32 per
 * data-sized tensor) lets every model take the full 1024 rows of a sample,
 * encode or flow density, and bounds the VAE density of an MNIST model to
 * rows x k <= 1337 draws (a toy VAE is bounded by MAX_DENSITY_DRAWS first).
 */
export const MAX_WORK_UNITS = 1_048_576;


const seed = (description: string) => int({ min: 0, max: 0xffffffff, description });
const temperature = num({
  min: 0,
  max: 10,
  default: 1,
  description: 'scales the latent noise (and the VAE observation noise); 1 samples the model, lower is more typical',
});
const mode = oneOf(['mean', 'sample'] as const, {
  default: 'sample',
  description: "VAE only: 'sample' draws x from p(x|z), 'mean' returns the decoder mean",
});

export const sampleBody = object(
  {
    n: int({ min: 1, max: API_LIMITS.maxSamples, default: 16, description: 'number of samples' }),
    seed: optional(seed('seed of the noise; absent means a random seed, returned in the answer')),
    temperature,
    mode,
  },
  { description: 'Draw n samples x = G(z), z ~ N(0, temperature^2 I), from a seeded PRNG (core/prng.ts)' },
);

export const densityBody = object(
  {
    x: matrix({
      maxRows: API_LIMITS.maxRows,
      description: 'rows in data space, one flattened sample each; image models take pixels in [0, 256)',
    }),
    k: int({
      min: 1,
      max: API_LIMITS.maxImportanceSamples,
      default: 1,
      description: 'VAE only: importance samples; 1 gives the ELBO, more gives the tighter IWAE estimate',
    }),
    seed: int({
      min: 0,
      max: 0xffffffff,
      default: 0,
      description: 'seed of the VAE eps and of the uniform dequantisation noise added to integer pixels',
    }),
  },
  { description: 'log p(x) per row, in nats (exact for flows, a lower bound for VAEs)' },
);

export const encodeBody = object(
  { x: matrix({ maxRows: API_LIMITS.maxRows, description: 'rows in data space' }) },
  { description: 'x -> z: exact inverse for flows, posterior mean and log-variance for VAEs' },
);

export const decodeBody = object(
  {
    z: matrix({ maxRows: API_LIMITS.maxRows, description: 'latent rows, latentDim values each' }),
    mode,
    seed: int({ min: 0, max: 0xffffffff, default: 0, description: 'VAE: seed of the observation noise' }),
  },
  { description: 'z -> x through the generator, decoder or inverse flow' },
);

export const interpolateBody = object(
  {
    seedA: int({ min: 0, max: 0xffffffff, default: 0, description: 'seed of the first latent' }),
    seedB: int({ min: 0, max: 0xffffffff, default: 1, description: 'seed of the second latent' }),
    steps: int({ min: 2, max: API_LIMITS.maxSteps, default: 8, description: 'points on the path, ends included' }),
    temperature,
  },
  { description: 'Decode points on the great-circle path between the latents of two seeds' },
);

type Body<V> = V extends Validator<infer T> ? T : never;

/**
 * What each request costs, checked against MAX_WORK_UNITS (and, for the VAE
 * density, MAX_DENSITY_DRAWS) once the model is known and before anything runs:
 * 400 over_budget with the bound in `limit`.
 */
/** Rows through the sample graph: rows x dataDim, times the D passes an autoregressive family takes. */
function sampleBudget(rows: number, what: string, m: Manifest): void {
  const passes = samplePasses(m);
  const how = passes > 1 ? `${what} x dataDim x passes (${rows} x ${dataDim(m)} x ${passes}, one pass per dimension)` : `${what} x dataDim (${rows} x ${dataDim(m)})`;
  checkBudget(sampleWork(m, rows), MAX_WORK_UNITS, `units of work, ${how}`);
}

export const budget = {
  sample: (b: Body<typeof sampleBody>, m: Manifest) => sampleBudget(b.n, 'n', m),
  decode: (b: Body<typeof decodeBody>, m: Manifest) => sampleBudget(b.z.length, 'rows', m),
  interpolate: (b: Body<typeof interpolateBody>, m: Manifest) => sampleBudget(b.steps, 'steps', m),
  encode: (b: Body<typeof encodeBody>, m: Manifest) =>
    checkBudget(b.x.length * dataDim(m), MAX_WORK_UNITS, `units of work, rows x dataDim (${b.x.length} x ${dataDim(m)})`),
  density: (b: Body<typeof densityBody>, m: Manifest) => {
    const rows = b.x.length;
    if (!importanceSampled(m)) return checkBudget(rows * dataDim(m), MAX_WORK_UNITS, `units of work, rows x dataDim (${rows} x ${dataDim(m)})`);
    checkBudget(rows * b.k, MAX_DENSITY_DRAWS, `importance draws, rows x k (${rows} x ${b.k})`);
    checkBudget(rows * b.k * dataDim(m), MAX_WORK_UNITS, `units of work, rows x k x dataDim (${rows} x ${b.k} x ${dataDim(m)})`);
  },
};
