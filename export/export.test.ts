// The exporter end to end on small tfjs models from train/: files, manifest,
// index, independent ONNX checks, and the ways a bad checkpoint must fail.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeCheckpoint, type Checkpoint } from '../core/checkpoint';
import type { Manifest, ModelIndex } from '../core/manifest';
import type { Family } from '../core/spec';
import { buildModel, defaultSpec } from '../train/models';
import { addInt8, exportCheckpoint } from './export';
import { checkOnnxFiles } from './testing/onnx-check';
import { tfjsReference } from './tfjs-reference';

const tmp = mkdtempSync(join(tmpdir(), 'edgegen-export-'));

function writeCheckpoint(family: Family, model: string, dataset = 'moons', edit?: (ck: Checkpoint) => void, size: 'tiny' | 'default' = 'tiny'): string {
  const spec = defaultSpec(family, model, dataset, { size, shift: [0.5, 0.25], scale: [0.9, 0.5] });
  const m = buildModel(spec, undefined, { seed: 11 });
  const ck: Checkpoint = {
    spec, weights: m.weights(), optimizer: [], step: 42,
    meta: { dataset, range: [-1.5, 2.5], discrete: false, backend: 'cpu', seconds: 1.5, batchSize: 64, seed: 5, command: 'test', metrics: { testNll: 1.25, note: 'ignored' } },
  };
  m.dispose();
  edit?.(ck);
  const path = join(tmp, `${family}-${model}-${Math.random().toString(36).slice(2)}.egck`);
  writeFileSync(path, encodeCheckpoint(ck));
  return path;
}

describe('exportCheckpoint', () => {
  const out = join(tmp, 'models');

  it.each([['vae', 'vae'], ['gan', 'gan'], ['flow', 'realnvp'], ['flow', 'nice']] as const)('%s %s: verified graphs, manifest and index', async (family, model) => {
    const { manifest, dir, verification } = await exportCheckpoint(writeCheckpoint(family, model), { out });
    const expectedCaps = family === 'gan' ? ['sample'] : ['sample', 'density', 'encode'];
    expect(manifest.capabilities).toEqual(expectedCaps);
    expect(verification.every((r) => r.maxError <= 1e-4)).toBe(true);
    const onDisk: Manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(onDisk).toEqual(manifest);
    for (const f of manifest.files) {
      const bytes = readFileSync(join(dir, f.file));
      expect(bytes.length).toBe(f.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
    }
    expect(checkOnnxFiles(manifest.files.map((f) => join(dir, f.file))).every(([, ir, op]) => ir === 8 && op === 13)).toBe(true);
    expect(manifest.training).toEqual({ steps: 42, backend: 'cpu', seconds: 1.5, batchSize: 64, seed: 5, command: 'test' });
    expect(manifest.metrics).toEqual({ testNll: 1.25 });
    expect(manifest.range).toEqual([-1.5, 2.5]);
    expect(manifest.density).toBe({ vae: 'elbo', gan: null, flow: 'exact' }[family]);
    // anomaly calibration on the held-out split (2-D toys: the nll, one-sided); none without a density
    if (family === 'gan') expect(manifest.calibration).toBeUndefined();
    else {
      expect(manifest.calibration).toMatchObject({ method: 'nll', estimator: { k: 1, seed: 0 }, data: { dataset: 'moons', rows: 2000 } });
      const q = manifest.calibration!.quantiles;
      expect(q.every((v, i) => Number.isFinite(v) && (i === 0 || v >= q[i - 1]))).toBe(true);
    }
    if (family === 'gan') {
      expect(manifest.unavailable).toEqual({ density: 'GANs define no tractable density', encode: 'inverting a GAN generator is ill-posed' });
      // the discriminator does not ship: parameters are the generator's alone
      const sizes = defaultSpec('gan', 'gan', 'moons', { size: 'tiny' }) as { generator: { sizes: number[] } };
      const gen = sizes.generator.sizes.slice(1).reduce((n, s, i) => n + (sizes.generator.sizes[i] + 1) * s, 0);
      expect(manifest.parameters).toBe(gen);
    }
    expect(existsSync(join(dir, 'checkpoint.egck'))).toBe(true);
    const index: ModelIndex = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.models.find((m) => m.id === manifest.id)?.family).toBe(family);
  });

  // a fresh flow starts as the identity (zero last layers); perturb it so rounding shows
  const perturb = (ck: Checkpoint) => {
    ck.weights = ck.weights.map((w) => ({ ...w, data: w.data.map((v, i) => v + 0.05 * Math.sin(7.3 * i + 1)) }));
  };

  it('--float16 adds smaller graphs with their measured error', async () => {
    const { manifest, dir } = await exportCheckpoint(writeCheckpoint('flow', 'realnvp', 'moons', perturb, 'default'), { out, id: 'half', float16: true });
    const variants = manifest.variants!;
    expect(variants.map((v) => v.capability)).toEqual(manifest.capabilities);
    for (const v of variants) {
      const full = manifest.files.find((f) => f.capability === v.capability)!;
      expect(v.bytes).toBeLessThan(full.bytes * 0.6);
      expect(v.maxError).toBeGreaterThan(0);
      expect(v.maxError).toBeLessThanOrEqual(1e-2);
      expect(createHash('sha256').update(readFileSync(join(dir, v.file))).digest('hex')).toBe(v.sha256);
    }
    expect(checkOnnxFiles(variants.map((v) => join(dir, v.file)))).toHaveLength(3);
  });

  it('--int8 adds the sampler\'s int8 copy with its measured error, and --sample-dtype makes it the default', async () => {
    const { manifest, dir } = await exportCheckpoint(writeCheckpoint('gan', 'gan', 'moons', perturb, 'default'), { out, id: 'gan-int8', int8: true, sampleDtype: 'int8' });
    const [v] = manifest.variants!;
    expect(manifest.variants).toHaveLength(1);
    expect(v).toMatchObject({ capability: 'sample', file: 'sample.int8.onnx', precision: 'int8' });
    expect(v.bytes).toBeLessThan(manifest.files[0].bytes * 0.5);
    expect(v.maxError).toBeGreaterThan(0);
    expect(v.meanError).toBeGreaterThan(0);
    expect(v.meanError).toBeLessThanOrEqual(v.maxError);
    expect(v.fd).toBeUndefined(); // points, not images
    expect(manifest).toMatchObject({ dtypes: ['float32', 'int8'], sampleDtype: 'int8' });
    expect(createHash('sha256').update(readFileSync(join(dir, v.file))).digest('hex')).toBe(v.sha256);
    expect(checkOnnxFiles([join(dir, v.file)])).toHaveLength(1);
    const index: ModelIndex = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.models.find((m) => m.id === 'gan-int8')).toMatchObject({ dtypes: ['float32', 'int8'], sampleDtype: 'int8' });
    await expect(exportCheckpoint(writeCheckpoint('gan', 'gan'), { out, id: 'no-int8', sampleDtype: 'int8' })).rejects.toThrow(/--int8/);
  });

  it('adds the int8 sampler to an exported model in place, and refuses a checkpoint that rebuilds another graph', async () => {
    const { manifest, dir } = await exportCheckpoint(writeCheckpoint('gan', 'gan', 'moons', perturb, 'default'), { out, id: 'gan-later' });
    const before = readFileSync(join(dir, 'sample.onnx'));
    const m = await addInt8(dir);
    expect(m.variants?.map((v) => v.precision)).toEqual(['int8']);
    expect(m.sampleDtype).toBeUndefined();
    expect({ ...m, variants: undefined, dtypes: undefined }).toEqual({ ...manifest, variants: undefined, dtypes: undefined });
    expect(readFileSync(join(dir, 'sample.onnx'))).toEqual(before);
    // a checkpoint whose weights differ from the shipped graph's
    writeFileSync(join(dir, 'checkpoint.egck'), readFileSync(writeCheckpoint('gan', 'gan')));
    await expect(addInt8(dir)).rejects.toThrow(/other than the shipped one/);
  });

  it('names models by family, model and dataset unless --id is given', async () => {
    const { manifest } = await exportCheckpoint(writeCheckpoint('flow', 'nice'), { out, id: 'my-flow' });
    expect(manifest.id).toBe('my-flow');
    const index: ModelIndex = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.models.map((m) => m.id)).toContain('flow-nice-moons');
    await expect(exportCheckpoint(writeCheckpoint('gan', 'gan'), { out, id: 'Bad Id' })).rejects.toThrow(/model id/);
  });

  it('--temperature states the sample temperature in the manifest and the index; without it neither has one', async () => {
    const { manifest } = await exportCheckpoint(writeCheckpoint('gan', 'gan'), { out, id: 'cool-gan', temperature: 0.7 });
    expect(manifest.sampleTemperature).toBe(0.7);
    const plain = await exportCheckpoint(writeCheckpoint('gan', 'gan'), { out, id: 'plain-gan' });
    expect(plain.manifest).not.toHaveProperty('sampleTemperature');
    const index: ModelIndex = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(Object.fromEntries(index.models.filter((m) => m.id.endsWith('-gan')).map((m) => [m.id, m.sampleTemperature]))).toEqual({ 'cool-gan': 0.7, 'plain-gan': undefined });
  });

  it('refuses corrupt, truncated and mismatched checkpoints with a clear message', async () => {
    const good = readFileSync(writeCheckpoint('vae', 'vae'));
    const corrupt = join(tmp, 'corrupt.egck');
    const flipped = Uint8Array.from(good);
    flipped[flipped.length - 3] ^= 0xff;
    writeFileSync(corrupt, flipped);
    await expect(exportCheckpoint(corrupt, { out })).rejects.toThrow(/checksum mismatch/);
    writeFileSync(corrupt, good.subarray(0, good.length - 8));
    await expect(exportCheckpoint(corrupt, { out })).rejects.toThrow(/truncated/);
    writeFileSync(corrupt, 'not a checkpoint');
    await expect(exportCheckpoint(corrupt, { out })).rejects.toThrow(/bad magic/);
    await expect(exportCheckpoint(join(tmp, 'nope.egck'), { out })).rejects.toThrow(/no such checkpoint/);
    const renamed = writeCheckpoint('flow', 'realnvp', 'moons', (ck) => {
      ck.weights = ck.weights.filter((w) => w.name !== 'step1.net.0.W');
    });
    await expect(exportCheckpoint(renamed, { out })).rejects.toThrow(/do not match.*step1\.net\.0\.W/);
  });

  it('writes nothing when a graph disagrees with the reference model', async () => {
    const path = writeCheckpoint('gan', 'gan');
    const id = 'gan-off-by-a-little';
    // a reference whose samples are shifted by 1e-3: the ONNX graph must be refused
    const reference = async (ck: Checkpoint) => {
      const r = await tfjsReference(ck.spec, ck.weights);
      return { ...r, sample: async (z: Float32Array, n: number) => ({ x: (await r.sample(z, n)).x!.map((v) => v + 1e-3) }) };
    };
    await expect(exportCheckpoint(path, { out, id, reference })).rejects.toThrow(/sample\.x disagrees.*1\.000e-3/);
    expect(existsSync(join(out, id))).toBe(false);
  });

  it('never replaces a model already in --out unless --force is given, and says so before verifying', async () => {
    const dir = mkdtempSync(join(tmp, 'replace-'));
    const shipped = await exportCheckpoint(writeCheckpoint('gan', 'gan'), { out: dir });
    expect(shipped.manifest.id).toBe('gan-moons');
    const files = () => readdirSync(shipped.dir).sort().map((f) => `${f} ${createHash('sha256').update(readFileSync(join(shipped.dir, f))).digest('hex')}`);
    const index = () => readFileSync(join(dir, 'index.json'), 'utf8');
    const before = { files: files(), index: index() };
    // a new run of the same recipe gets the same default id
    const newer = writeCheckpoint('gan', 'gan', 'moons', (ck) => {
      ck.step = 99;
    });
    let verified = false;
    const reference = async (ck: Checkpoint) => {
      verified = true;
      return tfjsReference(ck.spec, ck.weights);
    };
    await expect(exportCheckpoint(newer, { out: dir, reference })).rejects.toThrow(/gan-moons.*--id.*--force/);
    expect(verified).toBe(false);
    expect({ files: files(), index: index() }).toEqual(before);
    // the command line refuses the same way, exit status 1
    const cli = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'cli.ts'), newer, '--out', dir], {
      cwd: join(import.meta.dirname, '..'), encoding: 'utf8', timeout: 60_000,
    });
    expect(cli.status, cli.stderr).toBe(1);
    expect(cli.stderr).toMatch(/export failed: .*gan-moons.*--id.*--force/);
    expect({ files: files(), index: index() }).toEqual(before);
    // another --id goes beside it; --force replaces it
    expect((await exportCheckpoint(newer, { out: dir, id: 'gan-moons-newer' })).manifest.training.steps).toBe(99);
    expect((await exportCheckpoint(newer, { out: dir, force: true })).manifest.training.steps).toBe(99);
    expect(JSON.parse(readFileSync(join(shipped.dir, 'manifest.json'), 'utf8')).training.steps).toBe(99);
  }, 90_000);
});
