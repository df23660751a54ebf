/**
 * The work budget of one request: every endpoint states what it would cost in
 * float "units" (rows x importance draws x values per row), and a request over
 * the budget is refused (400 over_budget, the bound in `limit`) once the model
 * is known and before anything runs, so no single request can ask for more
 * than a fixed amount of work whatever the model.
 */
import type { z } from 'zod';
import { API_LIMITS, type ModelLimits, type Operation } from '../core/api';
import type { DecodeRequest, DensityRequest, EncodeRequest, InterpolateRequest, SampleRequest } from '../core/contract';
import type { Manifest } from '../core/manifest';
import { dataDim, densityClassFactor, importanceSampled, samplePasses, sampleWork } from '../core/protocol';
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

/** Rows through the sample graph: rows x dataDim, times what an autoregressive family's sampling costs in passes (core/protocol.ts samplePasses). */
function sampleBudget(rows: number, what: string, m: Manifest): void {
  const passes = samplePasses(m);
  const how = passes > 1 ? `${what} x dataDim x passes (${rows} x ${dataDim(m)} x ${passes}, the cost of sampling one dimension at a time)` : `${what} x dataDim (${rows} x ${dataDim(m)})`;
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
    // a conditional VAE or MADE evaluates every row once per class
    const c = densityClassFactor(m);
    const per = c > 1 ? ` x classes` : '';
    const perN = c > 1 ? ` x ${c}` : '';
    if (!importanceSampled(m)) return checkBudget(rows * dataDim(m) * c, MAX_WORK_UNITS, `units of work, rows x dataDim${per} (${rows} x ${dataDim(m)}${perN})`);
    checkBudget(rows * b.k * c, MAX_DENSITY_DRAWS, `importance draws, rows x k${per} (${rows} x ${b.k}${perN})`);
    checkBudget(rows * b.k * dataDim(m) * c, MAX_WORK_UNITS, `units of work, rows x k x dataDim${per} (${rows} x ${b.k} x ${dataDim(m)}${perN})`);
  },
};

type Listed = Pick<Manifest, 'family' | 'shape' | 'capabilities' | 'classes'>;

/**
 * The largest request of each kind one model takes, from the same bounds as
 * `budget`: what GET /v1/models states so a client never learns a limit by
 * failing. `interpolate` is absent where even its 2 steps are over budget.
 */
export function limitsOf(m: Listed): ModelLimits {
  const D = dataDim(m);
  const c = densityClassFactor(m);
  const samples = Math.floor(MAX_WORK_UNITS / (D * samplePasses(m)));
  const rows = Math.min(API_LIMITS.maxRows, Math.floor(MAX_WORK_UNITS / (D * c)), importanceSampled(m) ? Math.floor(MAX_DENSITY_DRAWS / c) : Infinity);
  const out: ModelLimits = { sample: m.capabilities.includes('sample') ? Math.min(API_LIMITS.maxSamples, samples) : 0, rows };
  if (importanceSampled(m)) out.k = Math.min(API_LIMITS.maxImportanceSamples, Math.floor(MAX_DENSITY_DRAWS / c), Math.floor(MAX_WORK_UNITS / (D * c)));
  const steps = Math.min(API_LIMITS.maxSteps, samples);
  if (m.capabilities.includes('sample') && steps >= 2) out.interpolate = steps;
  return out;
}

/** The POST operations a model answers (the rest answer 422 with the reason). */
export function operationsOf(m: Listed): Operation[] {
  const ops: Operation[] = [];
  const has = (c: Manifest['capabilities'][number]) => m.capabilities.includes(c);
  if (has('sample')) ops.push('sample');
  if (has('density')) ops.push('density', 'score');
  if (has('density') && m.classes) ops.push('classify');
  if (has('encode')) ops.push('encode');
  if (has('sample')) ops.push('decode');
  if (limitsOf(m).interpolate !== undefined) ops.push('interpolate');
  return ops;
}
