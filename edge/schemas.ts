/**
 * The request bodies of the API, as validators (see validate.ts). Handlers
 * parse with these; openapi.ts describes them. Limits come from core/api.ts.
 */
import { API_LIMITS } from '../core/api';
import { int, matrix, num, object, oneOf, optional } from './validate';

/** Sums of rows * k the VAE density may compute in one request (eps is rows x k x latentDim floats). */
export const MAX_DENSITY_DRAWS = 65_536;

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
