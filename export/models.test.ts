// Every model shipped under models/: the manifest matches its files, every file
// passes onnx's full check, graphs take batches of 1 and 257, and each graph
// still agrees with the tfjs model rebuilt from the checkpoint it came from.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest, ModelIndex } from '../core/manifest';
import { Prng } from '../core/prng';
import { defaultSpec, FAMILY_ORDER, familyOf } from '../core/families';
import { runSample, sampleLabelsFor, sampleNoiseFor } from '../core/protocol';
import { dataDim } from '../core/spec';
import { readCheckpointFile } from './export';
import { openGraph, runGraph, type Feed } from './ort';
import { inspectGraph } from './testing/inspect';
import { checkOnnxFiles } from './testing/onnx-check';
import { tfjsReference } from './tfjs-reference';
import { testInputs, verifyGraphs } from './verify';

const MODELS = join(import.meta.dirname, '..', 'models');
const index: ModelIndex = existsSync(join(MODELS, 'index.json')) ? JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) : { models: [] };
const manifests: Manifest[] = index.models.map((m) => JSON.parse(readFileSync(join(MODELS, m.id, 'manifest.json'), 'utf8')));

describe('shipped models', () => {
  it('the index lists every family on moons', () => {
    for (const f of FAMILY_ORDER) {
      const d = familyOf(f);
      // image-only models (realnvp-ms) have no 2-D spec, so no moons model
      const on2d = (k: string) => { try { return !!defaultSpec(f, k, [2]); } catch { return false; } };
      for (const model of Object.keys(d.models).filter((k) => k !== 'dcgan' && on2d(k))) expect(index.models.map((m) => m.id)).toContain(d.defaultId(model, 'moons'));
    }
  });

  it('index entries agree with their manifests', () => {
    for (const [i, m] of manifests.entries()) {
      const e = index.models[i];
      expect({ ...e }).toEqual({ id: m.id, family: m.family, model: m.model, dataset: m.dataset, shape: m.shape, capabilities: m.capabilities, density: m.density, description: m.description, ...(m.classes ? { classes: m.classes } : {}), ...(m.sampleTemperature !== undefined ? { sampleTemperature: m.sampleTemperature } : {}), ...(m.dtypes ? { dtypes: m.dtypes } : {}), ...(m.sampleDtype ? { sampleDtype: m.sampleDtype } : {}) });
    }
  });

  it('every file passes onnx.checker full_check, sizes fit the budget', () => {
    const all = (m: Manifest) => [...m.files, ...(m.variants ?? [])];
    const paths = manifests.flatMap((m) => all(m).map((f) => join(MODELS, m.id, f.file)));
    expect(checkOnnxFiles(paths)).toHaveLength(paths.length);
    const sizes = manifests.flatMap((m) => all(m).map((f) => f.bytes));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10 * 2 ** 20);
    // the budget of models/ as a whole (graphs, checkpoints, manifests): 100 MB
    const folder = readdirSync(MODELS, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
    expect(folder).toBeLessThanOrEqual(100e6);
  });

  describe.each(manifests.map((m) => [m.id, m] as const))('%s', (_id, m) => {
    const dir = join(MODELS, m.id);
    const read = (file: string) => new Uint8Array(readFileSync(join(dir, file)));

    it('manifest bytes and sha256 match the files', () => {
      for (const f of [...m.files, ...(m.variants ?? [])]) {
        const bytes = read(f.file);
        expect(bytes.length).toBe(f.bytes);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
      }
      expect(m.opset).toBe(13);
      for (const v of (m.variants ?? []).filter((x) => x.precision === 'float16')) expect(v.maxError).toBeLessThanOrEqual(1e-2);
      // an int8 sampler states its error and, for images, an FD within 10% of the float32 sampler's
      for (const v of (m.variants ?? []).filter((x) => x.precision === 'int8')) {
        expect(v.meanError).toBeGreaterThan(0);
        expect(v.meanError).toBeLessThanOrEqual(v.maxError);
        if (m.shape.length === 2) expect(v.fd!.variant).toBeLessThanOrEqual(1.1 * v.fd!.float32);
      }
      expect(m.dtypes ?? ['float32']).toEqual(['float32', ...(m.variants ?? []).filter((x) => x.precision === 'int8').map(() => 'int8')]);
      if (m.sampleDtype) expect(m.dtypes).toContain(m.sampleDtype);
      expect(m.density ?? m.unavailable.density).toBeTruthy();
      const fam = familyOf(m.family);
      for (const c of ['sample', 'density', 'encode'] as const) if (!m.capabilities.includes(c)) expect(m.unavailable[c], c).toBe(fam.unavailable[c] ?? fam.conditionalUnavailable?.[c]);
    });

    it('signatures follow core/manifest.ts, with no random op inside', () => {
      const D = dataDim(m);
      const L = m.latentDim;
      const sigs = familyOf(m.family).signatures(D, L, m.classes?.names.length ?? 0);
      // the family's capabilities, less what a conditional model's signatures omit
      expect(m.capabilities).toEqual(familyOf(m.family).capabilities.filter((c) => sigs[c]));
      for (const f of [...m.files, ...(m.variants ?? [])]) {
        const info = inspectGraph(read(f.file));
        const want = sigs[f.capability]!;
        expect([info.inputs, info.outputs], f.file).toEqual([want.inputs, want.outputs]);
        expect(info.irVersion).toBe(8);
        expect(info.opset).toBe(m.opset);
        expect(info.ops.filter((op) => /Random|Multinomial|Bernoulli|Dropout/.test(op)), f.file).toEqual([]);
      }
    });

    it.each([1, 257])('graphs accept a batch of %i', async (n) => {
      const D = dataDim(m);
      const rng = new Prng(n);
      const x = testInputs(readCheckpointFile(join(dir, 'checkpoint.egck')).spec, n, rng);
      for (const f of m.files) {
        // one pass of each graph with every input its signature names
        const sig = familyOf(m.family).signatures(D, m.latentDim, m.classes?.names.length ?? 0)[f.capability]!;
        const feed: Feed = {};
        for (const [name, dims] of Object.entries(sig.inputs)) {
          const shape = dims.map((d) => (d === 'N' ? n : d === 'K' ? 4 : d));
          feed[name] = name === 'x' ? { data: x, dims: shape } : { data: rng.normals(shape.reduce((a, b) => a * b, 1)), dims: shape };
        }
        const out = await runGraph(read(f.file), feed);
        for (const [name, t] of Object.entries(out)) {
          expect(t.dims[0], `${f.capability}.${name}`).toBe(n);
          expect(t.data.every(Number.isFinite), `${f.capability}.${name} finite`).toBe(true);
        }
      }
    });

    it('the same noise gives bit-identical samples on one runtime', async () => {
      const n = 3;
      const draw = async () => {
        const { z, noise } = sampleNoiseFor(m, 42, n, 1);
        const g = await openGraph(read('sample.onnx'));
        try {
          return await runSample(m, g.run, z, n, { noise, mode: 'sample', label: sampleLabelsFor(m, 42, n) });
        } finally {
          await g.release();
        }
      };
      const [a, b] = [await draw(), await draw()];
      expect(Array.from(a)).toEqual(Array.from(b));
    });

    it('graphs agree with the tfjs model rebuilt from the shipped checkpoint', async () => {
      const ck = readCheckpointFile(join(dir, 'checkpoint.egck'));
      expect(ck.step).toBe(m.training.steps);
      const ref = await tfjsReference(ck.spec, ck.weights);
      try {
        const reports = await verifyGraphs(ck.spec, m.files.map((f) => ({ capability: f.capability, bytes: read(f.file) })), ref, { n: 32 });
        expect(reports.length).toBeGreaterThan(0);
      } finally {
        ref.dispose();
      }
    });
  });
});
