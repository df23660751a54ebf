/**
 * The work budget of one request: every endpoint states what it would cost in
 * float "units" (rows x importance draws x values per row), and a request over
 * the budget is refused (400 over_budget, the bound in `limit`) once the model
 * is known and before anything runs, so no single request can ask for more
 * than a fixed amount of work whatever the model.
 */
import type { z } from 'zod';
import type { DecodeRequest, DensityRequest, EncodeRequest, InterpolateRequest, SampleRequest } from '../core/contract';
import type { Manifest } from '../core/manifest';
import { dataDim, importanceSampled, samplePasses, sampleWork } from '../core/protocol';
import { badRequest } from './errors';

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

export function checkBudget(units: number, budget: number, what: string): void {
  if (!(units <= budget)) {
    throw badRequest('over_budget', `this request asks for ${what} = ${units}; at most ${budget} per request`, budget);
  }
}

type Body<S extends z.ZodType> = z.output<S>;

/** Rows through the sample graph: rows x dataDim, times the D passes an autoregressive family takes. */
function sampleBudget(rows: number, what: string, m: Manifest): void {
  const passes = samplePasses(m);
  const how = passes > 1 ? `${what} x dataDim x passes (${rows} x ${dataDim(m)} x ${passes}, one pass per dimension)` : `${what} x dataDim (${rows} x ${dataDim(m)})`;
  checkBudget(sampleWork(m, rows), MAX_WORK_UNITS, `units of work, ${how}`);
}

/** What each request costs, checked against MAX_WORK_UNITS (and, for the VAE density, MAX_DENSITY_DRAWS). */
export const budget = {
  sample: (b: Body<typeof SampleRequest>, m: Manifest) => sampleBudget(b.n, 'n', m),
  decode: (b: Body<typeof DecodeRequest>, m: Manifest) => sampleBudget(b.z.length, 'rows', m),
  interpolate: (b: Body<typeof InterpolateRequest>, m: Manifest) => sampleBudget(b.steps, 'steps', m),
  encode: (b: Body<typeof EncodeRequest>, m: Manifest) =>
    checkBudget(b.x.length * dataDim(m), MAX_WORK_UNITS, `units of work, rows x dataDim (${b.x.length} x ${dataDim(m)})`),
  density: (b: Body<typeof DensityRequest>, m: Manifest) => {
    const rows = b.x.length;
    if (!importanceSampled(m)) return checkBudget(rows * dataDim(m), MAX_WORK_UNITS, `units of work, rows x dataDim (${rows} x ${dataDim(m)})`);
    checkBudget(rows * b.k, MAX_DENSITY_DRAWS, `importance draws, rows x k (${rows} x ${b.k})`);
    checkBudget(rows * b.k * dataDim(m), MAX_WORK_UNITS, `units of work, rows x k x dataDim (${rows} x ${b.k} x ${dataDim(m)})`);
  },
};
