/**
 * The page's API mode: the Engine interface answered by the edgegen API, through
 * `hc<AppType>` (hono/client), a client typed from the server's own route
 * definitions: paths, parameters, bodies and JSON answers are checked by the
 * compiler, with no generated code. `AppType` is a type-only import, erased
 * from the bundle; only hono/client's few KB ship.
 *
 * Rows come back as raw float32 (`?format=f32`, read straight into a
 * Float32Array) and go out as raw float32 for density, so no number is printed
 * or parsed as text on either side. Noise conventions: see engine.ts.
 */
import { hc, type ClientResponse } from 'hono/client';
import type { ApiError } from '../../core/api';
import type { Manifest } from '../../core/manifest';
import { takesObservationNoise } from '../../core/protocol';
import type { AppType } from '../../edge/app';
import type { DensityResult, Engine, SampleRequest, SampleResult } from './engine';

/** The API beside the page (same origin, same path prefix). */
export const api = () => hc<AppType>(new URL('.', document.baseURI).href);

async function failure(res: Response | ClientResponse<unknown>): Promise<Error> {
  const body = (await res.json().catch(() => null)) as ApiError | null;
  return new Error(body?.error?.message ?? `${res.url}: HTTP ${res.status}`);
}

/** The JSON of a 200 answer, typed by the route; any other status throws the API's message. */
type Ok<R> = R extends ClientResponse<infer O, 200, 'json'> ? O : never;
export async function ok<R extends ClientResponse<unknown, number, any>>(res: R): Promise<Ok<R>> {
  if (res.status !== 200) throw await failure(res);
  return (await res.json()) as Ok<R>;
}

/** A binary answer (x-edgegen-shape rows,width) as rows of float32, viewed without copying. */
export async function f32Rows(res: Response | ClientResponse<unknown>): Promise<Float32Array[]> {
  if (res.status !== 200) throw await failure(res);
  const [rows, width] = (res.headers.get('x-edgegen-shape') ?? '').split(',').map(Number);
  const data = new Float32Array(await res.arrayBuffer());
  if (!(rows * width === data.length)) throw new Error(`binary answer of ${data.length} floats does not match x-edgegen-shape ${rows},${width}`);
  return Array.from({ length: rows }, (_, i) => data.subarray(i * width, (i + 1) * width));
}

export class ApiEngine implements Engine {
  readonly name = 'api' as const;

  async sample(m: Manifest, req: SampleRequest): Promise<SampleResult> {
    const t0 = performance.now();
    const json = { n: req.n, seed: req.seed, ...(req.temperature !== undefined ? { temperature: req.temperature } : {}), ...(takesObservationNoise(m) ? { mode: req.mode } : {}), ...(req.label !== undefined ? { label: req.label } : {}), ...(req.dtype !== undefined ? { dtype: req.dtype } : {}) };
    const res = await api().v1.models[':id'].sample.$post({ param: { id: m.id }, query: { format: 'f32' }, json });
    return { rows: await f32Rows(res), ms: performance.now() - t0 };
  }

  async decode(m: Manifest, zs: Float32Array[], label?: number): Promise<SampleResult> {
    const t0 = performance.now();
    const json = { z: zs.map((r) => Array.from(r)), mode: 'mean' as const, ...(label !== undefined ? { label } : {}) };
    const res = await api().v1.models[':id'].decode.$post({ param: { id: m.id }, query: { format: 'f32' }, header: {}, json });
    return { rows: await f32Rows(res), ms: performance.now() - t0 };
  }

  /** Rows go out as float32 (k and seed in the query); the answer is JSON, for bitsPerDim and the ELBO. */
  async density(m: Manifest, xs: Float32Array[], opts: { seed: number; k: number }): Promise<DensityResult> {
    const t0 = performance.now();
    const width = xs[0]?.length ?? 0;
    const body = new Float32Array(xs.length * width);
    xs.forEach((r, i) => body.set(r, i * width));
    const url = api().v1.models[':id'].density.$url({ param: { id: m.id }, query: { k: String(opts.k), seed: String(opts.seed) } });
    const res = await fetch(url, {
      method: 'POST',
      body: body.buffer as ArrayBuffer,
      headers: { 'content-type': 'application/octet-stream', 'x-edgegen-shape': `${xs.length},${width}` },
    });
    if (res.status !== 200) throw await failure(res);
    return { ...((await res.json()) as Omit<DensityResult, 'ms'>), ms: performance.now() - t0 };
  }
}
