// The VAE density stays finite far from the data: the shipped vae-moons graph,
// the tfjs model rebuilt from its checkpoint, at |x| = 1e3 in eight directions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../core/manifest';
import { Prng } from '../core/prng';
import { runDensity } from '../core/protocol';
import { readCheckpointFile } from './export';
import { openGraph } from './ort';
import { tfjsReference } from './tfjs-reference';

const DIR = join(import.meta.dirname, '..', 'models', 'vae-moons');
const far = (r: number) => Float32Array.from({ length: 16 }, (_, i) => r * (i % 2 ? Math.sin((Math.PI * (i >> 1)) / 4) : Math.cos((Math.PI * (i >> 1)) / 4)));

describe('VAE density far from the data', () => {
  it.each([50, 1e3])('is finite at |x| = %d (ONNX graph and tfjs model)', async (r) => {
    const m: Manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));
    const x = far(r);
    const K = 8;
    const eps = new Prng(1).normals(8 * K * m.latentDim);
    const g = await openGraph(new Uint8Array(readFileSync(join(DIR, 'density.onnx'))));
    const out = await runDensity(m, g.run, x, 8, { data: eps, k: K });
    await g.release();
    expect(Array.from(out.logp).every(Number.isFinite), `iwae ${Array.from(out.logp)}`).toBe(true);
    expect(Array.from(out.elbo!).every(Number.isFinite), `elbo ${Array.from(out.elbo!)}`).toBe(true);
    // far away means improbable: far below any point of the data
    expect(Math.max(...out.logp)).toBeLessThan(-100);
    const ck = readCheckpointFile(join(DIR, 'checkpoint.egck'));
    const ref = await tfjsReference(ck.spec, ck.weights);
    const want = await ref.density!(x, 8, eps, K);
    ref.dispose();
    expect(Array.from(want.iwae!).every(Number.isFinite)).toBe(true);
  });
});
