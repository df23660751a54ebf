/**
 * checkpoint -> verified ONNX graphs + manifest.json, and an updated index.json.
 *
 * models/<id>/sample.onnx, density.onnx, encode.onnx (what the family offers)
 * models/<id>/manifest.json   (core/manifest.ts Manifest)
 * models/<id>/checkpoint.egck (the weights the graphs came from, without
 *                              optimizer state, so parity tests need no training)
 * models/index.json           (core/manifest.ts ModelIndex, sorted by id)
 *
 * Nothing is written unless every graph passes verification, and an existing
 * model folder (a shipped model, say) is replaced only with `force`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../core/checkpoint';
import { familyOf, isFamily, latentDimOf, paramShapes } from '../core/families';
import type { Dtype, Manifest, ManifestFile, ManifestVariant, ModelIndex } from '../core/manifest';
import { convOf, type ModelSpec } from '../core/spec';
import { calibrate } from './calibrate';
import { buildGraphs, type Graph } from './graphs';
import { OPSET } from './onnx/graph';
import { measureSampleParity } from './parity';
import { int8Sampler } from './variant';
import { onnxReference, specInfo, verifyGraphs, type GraphBytes, type Reference, type VerifyReport } from './verify';

/** float16 variants: max abs error (data units, pixels / 256) on samples, max relative error on densities and latents */
export const F16_TOL = 1e-2;

export interface ExportOptions {
  id?: string;
  out?: string;
  /** also write float16-weight copies of every graph (`<capability>.f16.onnx`), measured against the float32 ones */
  float16?: boolean;
  /** also write the sampler's int8 copy (`sample.int8.onnx`, export/variant.ts), measured against the float32 one */
  int8?: boolean;
  /** the manifest's `sampleDtype`: what a sample request that names no dtype runs at (default float32; int8 needs `int8`) */
  sampleDtype?: Dtype;
  /**
   * calibrate the anomaly score on the data set's held-out rows (export/calibrate.ts)
   * when the model has a density and the data is installed (default true)
   */
  calibrate?: boolean;
  /** replace the model already in `<out>/<id>` (default false: refuse, before any verification) */
  force?: boolean;
  /** the manifest's `sampleTemperature`: what a sample request that names no temperature draws at (default: none, 1) */
  temperature?: number;
  /** builds the reference the graphs are verified against (default: the tfjs model from train/) */
  reference?: (ck: Checkpoint) => Promise<Reference & { dispose?(): void }>;
}

export interface ExportResult {
  manifest: Manifest;
  dir: string;
  verification: VerifyReport[];
  /** why the manifest carries no calibration, when it does not */
  uncalibrated?: string;
}

export function readCheckpointFile(path: string): Checkpoint {
  if (!existsSync(path)) throw new CheckpointError(`${path}: no such checkpoint`);
  const ck = decodeCheckpoint(new Uint8Array(readFileSync(path)), path);
  const family = (ck.spec as { family?: string } | undefined)?.family;
  if (!family || !isFamily(family)) {
    throw new CheckpointError(`${path}: spec family ${JSON.stringify(family)} is not a known family`);
  }
  return ck;
}

export function defaultId(spec: ModelSpec, dataset: string): string {
  const id = familyOf(spec.family).defaultId(spec.model, dataset);
  // the conv VAE ships beside the MLP one (the DCGAN already has a model name of its own)
  return convOf(spec) && spec.model === 'vae' ? id.replace(/^vae-/, 'vae-conv-') : id;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const num = (v: unknown, fallback = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

export async function exportCheckpoint(path: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const ck = readCheckpointFile(path);
  const { spec, meta } = ck;
  const dataset = typeof meta.dataset === 'string' ? meta.dataset : 'unknown';
  const id = opts.id ?? defaultId(spec, dataset);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) throw new Error(`model id ${JSON.stringify(id)}: use lowercase letters, digits and '-'`);
  const out = opts.out ?? 'models';

  let graphs: GraphBytes[];
  let built: Graph[];
  try {
    built = buildGraphs(spec, ck.weights);
    graphs = built.map((g) => ({ capability: g.capability, bytes: g.builder.toBytes(`edgegen ${id} ${g.capability}`) }));
  } catch (e) {
    throw new CheckpointError(`${path}: weights do not match the checkpoint's own spec: ${(e as Error).message}`);
  }
  if (!opts.force) refuseToReplace(out, id);
  const makeRef = opts.reference ?? (async (c: Checkpoint) => (await import('./tfjs-reference')).tfjsReference(c.spec, c.weights));
  const ref = await makeRef(ck);
  let verification: VerifyReport[];
  try {
    verification = await verifyGraphs(spec, graphs, ref);
  } finally {
    ref.dispose?.();
  }

  // float16 copies: checked against the verified float32 graphs, with looser limits
  const variants: ManifestVariant[] = [];
  const halves: Array<{ file: string; bytes: Uint8Array }> = [];
  if (opts.float16) {
    for (const g of graphs) {
      const bytes = built.find((b) => b.capability === g.capability)!.builder.toBytes(`edgegen ${id} ${g.capability} (float16 weights)`, { weights: 'float16' });
      const reports = await verifyGraphs(spec, [{ capability: g.capability, bytes }], onnxReference(spec, graphs), { sampleTol: F16_TOL, densityTol: F16_TOL, latentTol: F16_TOL });
      const file = `${g.capability}.f16.onnx`;
      halves.push({ file, bytes });
      variants.push({ capability: g.capability, file, bytes: bytes.length, sha256: sha256(bytes), precision: 'float16', maxError: Math.max(...reports.map((r) => r.maxError)) });
      verification.push(...reports.map((r) => ({ ...r, capability: `${r.capability} (float16)` })));
    }
  }

  const sampleTemperature = opts.temperature;
  if (opts.sampleDtype === 'int8' && !opts.int8) throw new Error('sampleDtype int8 needs the int8 sampler: add --int8');
  if (opts.int8) {
    const v = await int8Variant({ ...specInfo(spec), dataset, ...(sampleTemperature !== undefined ? { sampleTemperature } : {}) }, built, graphs, id);
    halves.push({ file: v.file, bytes: v.bytes });
    variants.push(v.variant);
  }

  const dir = join(out, id);
  mkdirSync(dir, { recursive: true });
  const files: ManifestFile[] = graphs.map(({ capability, bytes }) => {
    const file = `${capability}.onnx`;
    writeAtomic(join(dir, file), bytes);
    return { capability, file, bytes: bytes.length, sha256: sha256(bytes) };
  });
  for (const h of halves) writeAtomic(join(dir, h.file), h.bytes);
  writeAtomic(join(dir, 'checkpoint.egck'), encodeCheckpoint({ ...ck, optimizer: [] }));

  const family = familyOf(spec.family);
  const traits = family.traits;
  const range = Array.isArray(meta.range) && meta.range.length === 2 ? (meta.range as [number, number]) : spec.preprocess.kind === 'affine' ? [-Infinity, Infinity] : [0, 256];
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries((meta.metrics ?? {}) as Record<string, unknown>)) if (typeof v === 'number') metrics[k] = v;
  // anomaly-score calibration on held-out rows, with the verified density graph
  const densityGraph = graphs.find((g) => g.capability === 'density');
  let calibration: Manifest['calibration'];
  let uncalibrated: string | undefined;
  if (opts.calibrate === false) uncalibrated = 'calibration turned off';
  else if (!densityGraph) uncalibrated = `${spec.family} models have no density`;
  else {
    const c = await calibrate({ ...specInfo(spec), discrete: meta.discrete === true, density: family.density, dataset }, densityGraph.bytes);
    if (typeof c === 'string') uncalibrated = c;
    else calibration = c;
  }

  const parity = await measureSampleParity(specInfo(spec), graphs.find((g) => g.capability === 'sample')!.bytes);

  const manifest: Manifest = {
    id,
    family: spec.family,
    model: spec.model,
    dataset,
    shape: spec.shape,
    range: range as [number, number],
    discrete: meta.discrete === true,
    latentDim: latentDimOf(spec),
    capabilities: files.map((f) => f.capability),
    density: family.density,
    // a conditional model may ship fewer graphs than its family offers (the VAE's encoder needs the label)
    unavailable: { ...family.unavailable, ...Object.fromEntries(family.capabilities.filter((c) => !files.some((f) => f.capability === c)).map((c) => [c, family.conditionalUnavailable?.[c] ?? `this model ships no ${c} graph`])) },
    opset: OPSET,
    files,
    training: {
      steps: ck.step,
      backend: String(meta.backend ?? 'unknown'),
      seconds: num(meta.seconds),
      batchSize: num(meta.batchSize),
      seed: num(meta.seed),
      command: String(meta.command ?? ''),
    },
    metrics,
    parameters: shippedParameters(ck),
    ...(variants.length ? { variants } : {}),
    ...(spec.conditional ? { classes: spec.conditional } : {}),
    ...(calibration ? { calibration } : {}),
    parity,
    ...(opts.temperature !== undefined ? { sampleTemperature: opts.temperature } : {}),
    ...(opts.int8 ? { dtypes: ['float32', 'int8'] as Dtype[] } : {}),
    ...(opts.sampleDtype && opts.sampleDtype !== 'float32' ? { sampleDtype: opts.sampleDtype } : {}),
    description: `${spec.conditional ? 'Class-conditional ' : ''}${family.models[spec.model] ?? spec.model} on ${dataset}: ${traits.decoder}; log p(x): ${traits.logp}; x -> z: ${traits.inverse}.`,
  };
  writeAtomic(join(dir, 'manifest.json'), new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
  // a replaced model may have shipped graphs this one lacks (a conditional VAE has no encoder): none may linger
  const kept = new Set([...manifest.files, ...(manifest.variants ?? [])].map((f) => f.file));
  for (const f of readdirSync(dir)) if (f.endsWith('.onnx') && !kept.has(f)) rmSync(join(dir, f));
  updateIndex(out, manifest);
  return { manifest, dir, verification, ...(uncalibrated ? { uncalibrated } : {}) };
}

/**
 * A default id names the family, model and data set, so exporting a new run of
 * a shipped recipe would land on the shipped model: refuse unless asked.
 */
function refuseToReplace(out: string, id: string): void {
  const dir = join(out, id);
  const indexPath = join(out, 'index.json');
  const listed = existsSync(indexPath) && (JSON.parse(readFileSync(indexPath, 'utf8')) as ModelIndex).models.some((e) => e.id === id);
  if ((existsSync(dir) && readdirSync(dir).length > 0) || listed) {
    throw new Error(`${dir} already holds the model ${id}: give this export another id (--id NEW-ID), or replace that model with --force`);
  }
}

/** Parameters the shipped graphs carry: every weight but the training-only ones (the GAN discriminator). */
function shippedParameters(ck: Checkpoint): number {
  const trainingOnly = new Set(paramShapes(ck.spec).filter((p) => p.trainingOnly).map((p) => p.name));
  return ck.weights.filter((w) => !trainingOnly.has(w.name)).reduce((n, w) => n + w.data.length, 0);
}

function updateIndex(out: string, m: Manifest): void {
  const path = join(out, 'index.json');
  const index: ModelIndex = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : { models: [] };
  const entry = { id: m.id, family: m.family, model: m.model, dataset: m.dataset, shape: m.shape, capabilities: m.capabilities, density: m.density, description: m.description, ...(m.classes ? { classes: m.classes } : {}), ...(m.sampleTemperature !== undefined ? { sampleTemperature: m.sampleTemperature } : {}), ...(m.dtypes ? { dtypes: m.dtypes } : {}), ...(m.sampleDtype ? { sampleDtype: m.sampleDtype } : {}) };
  index.models = [...index.models.filter((e) => e.id !== m.id), entry].sort((a, b) => a.id.localeCompare(b.id));
  writeAtomic(path, new TextEncoder().encode(JSON.stringify(index, null, 2) + '\n'));
}

function writeAtomic(path: string, bytes: Uint8Array): void {
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

/** The sampler's int8 copy as a manifest variant, with its measured error and FD (export/variant.ts). */
async function int8Variant(info: Parameters<typeof int8Sampler>[0], built: Graph[], graphs: GraphBytes[], id: string): Promise<{ file: string; bytes: Uint8Array; variant: ManifestVariant }> {
  const sample = built.find((b) => b.capability === 'sample');
  if (!sample) throw new Error(`${id} has no sample graph to copy in int8`);
  const { bytes, measured, noFd } = await int8Sampler(info, sample.builder, graphs.find((g) => g.capability === 'sample')!.bytes, `edgegen ${id} sample (int8)`);
  if (noFd) console.error(`int8 sampler of ${id}: no FD (${noFd})`);
  const file = 'sample.int8.onnx';
  return { file, bytes, variant: { capability: 'sample', file, bytes: bytes.length, sha256: sha256(bytes), precision: 'int8', ...measured } };
}

/**
 * Adds (or measures again) the int8 sampler of a model already in `dir`
 * (models/<id>), built from the checkpoint beside it; the float32 sampler the
 * copy is measured against must be the one the manifest lists (same sha256),
 * so a shipped model gains the variant without its other graphs, calibration
 * or figures changing.
 */
export async function addInt8(dir: string, sampleDtype?: Dtype): Promise<Manifest> {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const ck = readCheckpointFile(join(dir, 'checkpoint.egck'));
  const built = buildGraphs(ck.spec, ck.weights);
  const sample = built.find((b) => b.capability === 'sample');
  const listed = m.files.find((f) => f.capability === 'sample');
  if (!sample || !listed) throw new Error(`${dir}: no sample graph`);
  const bytes = sample.builder.toBytes(`edgegen ${m.id} sample`);
  if (sha256(bytes) !== listed.sha256) throw new Error(`${dir}: the checkpoint rebuilds a sample graph other than the shipped one (sha256 ${sha256(bytes).slice(0, 12)} vs ${listed.sha256.slice(0, 12)}): export it again instead`);
  const v = await int8Variant({ ...specInfo(ck.spec), dataset: m.dataset, ...(m.sampleTemperature !== undefined ? { sampleTemperature: m.sampleTemperature } : {}) }, built, [{ capability: 'sample', bytes }], m.id);
  writeAtomic(join(dir, v.file), v.bytes);
  const next: Manifest = { ...m, variants: [...(m.variants ?? []).filter((x) => x.file !== v.file), v.variant], dtypes: ['float32', 'int8'] };
  if (sampleDtype === 'int8') next.sampleDtype = 'int8';
  else delete next.sampleDtype;
  writeAtomic(join(dir, 'manifest.json'), new TextEncoder().encode(JSON.stringify(next, null, 2) + '\n'));
  updateIndex(join(dir, '..'), next);
  return next;
}
