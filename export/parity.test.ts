// The cross-runtime tolerance a model states (export/parity.ts), and the
// teacher-forced check of autoregressive sample graphs (export/verify.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest, ModelIndex } from '../core/manifest';
import { CROSS_RUNTIME_TOL, maxRelDiff, sampleTolerance } from '../core/protocol';
import { buildModel, defaultSpec } from '../train/models';
import { buildGraphs } from './graphs';
import { measureSampleParity, roundUp1, statedTolerance } from './parity';
import { tfjsReference } from './tfjs-reference';
import { VerificationError, verifyGraphs, type Reference } from './verify';

const MODELS = join(import.meta.dirname, '..', 'models');

describe('the stated tolerance', () => {
  it('is the 1e-4 contract unless four times the measured spread is larger, rounded up to one digit', () => {
    expect(roundUp1(1.58e-4)).toBe(2e-4);
    expect(roundUp1(3e-4)).toBe(3e-4);
    expect(roundUp1(0)).toBe(0);
    expect(statedTolerance(0)).toBe(CROSS_RUNTIME_TOL);
    expect(statedTolerance(2e-5)).toBe(CROSS_RUNTIME_TOL);
    expect(statedTolerance(3.73e-4)).toBe(2e-3);
    expect(sampleTolerance({})).toBe(1e-4);
    expect(sampleTolerance({ parity: { samples: 2e-3, measured: 3.7e-4, how: '' } })).toBe(2e-3);
    // a manifest can never state less than the contract
    expect(sampleTolerance({ parity: { samples: 1e-6, measured: 0, how: '' } })).toBe(1e-4);
  });

  it('measures differences relative to max(1, |b|) and counts NaN as infinitely far', () => {
    expect(maxRelDiff([0, 200], [0.5, 201])).toBe(0.5);
    expect(maxRelDiff([1, NaN], [1, 1])).toBe(Infinity);
    expect(() => maxRelDiff([1], [1, 2])).toThrow();
  });

  // the promise each shipped manifest makes, re-measured: tests elsewhere hold samples to it
  const index: ModelIndex = JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8'));
  const stated = index.models.map((e) => JSON.parse(readFileSync(join(MODELS, e.id, 'manifest.json'), 'utf8')) as Manifest).filter((m) => m.parity);
  it.each(stated.map((m) => [m.id, m] as const))('%s: the spread between runtimes is within what its manifest states', async (_id, m) => {
    const bytes = readFileSync(join(MODELS, m.id, m.files.find((f) => f.capability === 'sample')!.file));
    const again = await measureSampleParity(m, new Uint8Array(bytes));
    expect(again.measured).toBeLessThanOrEqual(m.parity!.samples);
    expect(again.samples).toBe(m.parity!.samples);
  }, 120_000);
});

describe('autoregressive sample graphs are verified teacher-forced', () => {
  const spec = defaultSpec('made', 'made', 'moons', { size: 'tiny', shift: [0.5, 0.25], scale: [0.9, 0.5] });
  const model = buildModel(spec, undefined, { seed: 3 });
  const weights = model.weights();
  model.dispose();
  const graphs = buildGraphs(spec, weights).map((g) => ({ capability: g.capability, bytes: g.builder.toBytes() })).filter((g) => g.capability === 'sample');
  const withRef = async <T>(f: (ref: Reference) => Promise<T>): Promise<T> => {
    const ref = await tfjsReference(spec, weights);
    try {
      return await f(ref);
    } finally {
      ref.dispose();
    }
  };

  it('one pass from the reference state gives that state back and its x', async () => {
    const reports = await withRef((ref) => verifyGraphs(spec, graphs, ref));
    expect(reports.map((r) => r.output).sort()).toEqual(['x', 'y_next']);
    for (const r of reports) expect(r.maxError).toBeLessThan(1e-4);
  });

  it('fails when the state the graph is fed does not lead to the reference sample', async () => {
    // the reference's last dimension moved: the graph's y_next there (from y_<D) no longer agrees
    const bent = (ref: Reference): Reference => ({
      ...ref,
      sample: async (z, n, noise) => {
        const out = await ref.sample(z, n, noise);
        const y = Float32Array.from(out.y!);
        for (let i = 1; i < y.length; i += 2) y[i] += 0.01;
        return { ...out, y };
      },
    });
    await expect(withRef((ref) => verifyGraphs(spec, graphs, bent(ref)))).rejects.toThrow(/sample\.y_next disagrees/);
  });

  it('fails with a clear reason when the reference gives no state', async () => {
    const noState = (ref: Reference): Reference => ({ ...ref, sample: async (z, n, noise) => ({ x: (await ref.sample(z, n, noise)).x }) });
    await expect(withRef((ref) => verifyGraphs(spec, graphs, noState(ref)))).rejects.toThrow(VerificationError);
  });
});
