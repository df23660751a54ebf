/**
 * Writes the held-out sets the page's density view ships with,
 * web/public/testset-<dataset>.json: the first rows of each data set's TEST
 * split as train/data defines it (so no model has trained on them).
 * Images: 100 images as 0..255 ints; 2-D toys: 300 points.
 * Lives in tests/ because it reads train/data (web/ never imports train/);
 * testsets.test.ts checks the shipped files still match the split.
 *
 * Run: npx tsx tests/web/make-testsets.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASETS, loadDataset } from '../../train/data';

export const IMAGES = 100;
export const POINTS = 300;
export const PUBLIC = join(import.meta.dirname, '..', '..', 'web', 'public');

export function heldOut(name: string): { dataset: string; source: string; shape: number[]; labels?: number[]; rows: number[][] } {
  const ds = loadDataset(name);
  const d = ds.shape.reduce((a, b) => a * b, 1);
  const n = ds.discrete ? IMAGES : POINTS;
  const rows = Array.from({ length: n }, (_, i) => Array.from(ds.test.subarray(i * d, (i + 1) * d), (v) => (ds.discrete ? v : Math.round(v * 1e4) / 1e4)));
  return { dataset: ds.name, source: `first ${n} rows of the ${ds.name} test split (train/data)`, shape: ds.shape, rows };
}

if (process.argv[1] === import.meta.filename) {
  for (const name of DATASETS) {
    const set = heldOut(name);
    // one row per line keeps the files diffable
    const body = `{"dataset":${JSON.stringify(set.dataset)},"source":${JSON.stringify(set.source)},"shape":${JSON.stringify(set.shape)},"rows":[\n${set.rows.map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`;
    writeFileSync(join(PUBLIC, `testset-${set.dataset}.json`), body);
    console.log(`testset-${set.dataset}.json: ${set.rows.length} rows`);
  }
}
