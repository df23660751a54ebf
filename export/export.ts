/**
 * checkpoint -> verified ONNX graphs + manifest.json, and an updated index.json.
 *
 * models/<id>/sample.onnx, density.onnx, encode.onnx (what the family offers)
 * models/<id>/manifest.json   (core/manifest.ts Manifest)
 * models/<id>/checkpoint.egck (the weights the graphs came from, without
 *                              optimizer state, so parity tests need no training)
 * models/index.json           (core/manifest.ts ModelIndex, sorted by id)
 *
 * Nothing is written unless every graph passes verification.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../core/checkpoint';
import { FAMILY_TRAITS, type Capability, type Manifest, type ManifestFile, type ModelIndex } from '../core/manifest';
import { latentDim, type ModelSpec } from '../core/spec';
import { buildGraphs } from './graphs';
import { OPSET } from './onnx/graph';
import { verifyGraphs, type GraphBytes, type Reference, type VerifyReport } from './verify';

export const UNAVAILABLE: Record<string, Partial<Record<Capability, string>>> = {
  gan: {
    density: 'GANs define no tractable density',
    encode: 'inverting a GAN generator is ill-posed',
  },
};

export interface ExportOptions {
  id?: string;
  out?: string;
  /** builds the reference the graphs are verified against (default: the tfjs model from train/) */
  reference?: (ck: Checkpoint) => Promise<Reference & { dispose?(): void }>;
}

export interface ExportResult {
  manifest: Manifest;
  dir: string;
  verification: VerifyReport[];
}

export function readCheckpointFile(path: string): Checkpoint {
  if (!existsSync(path)) throw new CheckpointError(`${path}: no such checkpoint`);
  const ck = decodeCheckpoint(new Uint8Array(readFileSync(path)), path);
  const family = (ck.spec as { family?: string } | undefined)?.family;
  if (!family || !['vae', 'gan', 'flow'].includes(family)) {
    throw new CheckpointError(`${path}: spec family ${JSON.stringify(family)} cannot be exported (vae, gan or flow)`);
  }
  return ck;
}

export function defaultId(spec: ModelSpec, dataset: string): string {
  return spec.family === 'flow' ? `flow-${spec.model}-${dataset}` : `${spec.family}-${dataset}`;
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
  try {
    graphs = buildGraphs(spec, ck.weights).map((g) => ({ capability: g.capability, bytes: g.builder.toBytes(`edgegen ${id} ${g.capability}`) }));
  } catch (e) {
    throw new CheckpointError(`${path}: weights do not match the checkpoint's own spec: ${(e as Error).message}`);
  }
  const makeRef = opts.reference ?? (async (c: Checkpoint) => (await import('./tfjs-reference')).tfjsReference(c.spec, c.weights));
  const ref = await makeRef(ck);
  let verification: VerifyReport[];
  try {
    verification = await verifyGraphs(spec, graphs, ref);
  } finally {
    ref.dispose?.();
  }

  const dir = join(out, id);
  mkdirSync(dir, { recursive: true });
  const files: ManifestFile[] = graphs.map(({ capability, bytes }) => {
    const file = `${capability}.onnx`;
    writeAtomic(join(dir, file), bytes);
    return { capability, file, bytes: bytes.length, sha256: sha256(bytes) };
  });
  writeAtomic(join(dir, 'checkpoint.egck'), encodeCheckpoint({ ...ck, optimizer: [] }));

  const traits = FAMILY_TRAITS[spec.family];
  const range = Array.isArray(meta.range) && meta.range.length === 2 ? (meta.range as [number, number]) : spec.preprocess.kind === 'affine' ? [-Infinity, Infinity] : [0, 256];
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries((meta.metrics ?? {}) as Record<string, unknown>)) if (typeof v === 'number') metrics[k] = v;
  const manifest: Manifest = {
    id,
    family: spec.family,
    model: spec.model,
    dataset,
    shape: spec.shape,
    range: range as [number, number],
    discrete: meta.discrete === true,
    latentDim: latentDim(spec),
    capabilities: files.map((f) => f.capability),
    density: spec.family === 'vae' ? 'elbo' : spec.family === 'flow' ? 'exact' : null,
    unavailable: UNAVAILABLE[spec.family] ?? {},
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
    description: `${spec.model.toUpperCase()} ${spec.family} on ${dataset}: ${traits.decoder}; log p(x): ${traits.logp}; x -> z: ${traits.inverse}.`,
  };
  writeAtomic(join(dir, 'manifest.json'), new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
  updateIndex(out, manifest);
  return { manifest, dir, verification };
}

/** Parameters the shipped graphs carry: every weight but the GAN discriminator (a training device only). */
function shippedParameters(ck: Checkpoint): number {
  return ck.weights.filter((w) => !w.name.startsWith('disc.')).reduce((n, w) => n + w.data.length, 0);
}

function updateIndex(out: string, m: Manifest): void {
  const path = join(out, 'index.json');
  const index: ModelIndex = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : { models: [] };
  const entry = { id: m.id, family: m.family, model: m.model, dataset: m.dataset, shape: m.shape, capabilities: m.capabilities, density: m.density, description: m.description };
  index.models = [...index.models.filter((e) => e.id !== m.id), entry].sort((a, b) => a.id.localeCompare(b.id));
  writeAtomic(path, new TextEncoder().encode(JSON.stringify(index, null, 2) + '\n'));
}

function writeAtomic(path: string, bytes: Uint8Array): void {
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}
