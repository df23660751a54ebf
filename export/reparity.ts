/**
 * Re-measure the cross-runtime spread of every shipped model that states one
 * (manifest `parity`, export/parity.ts) and write the new figures back, without
 * exporting again: for when the measurement's inputs change but the graphs do
 * not (core/prng.ts's normals moved to the ziggurat on 2026-11-25, so the
 * seeds it samples from draw other noise).
 *
 *   npx tsx export/reparity.ts [--models models]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Manifest, ModelIndex } from '../core/manifest';
import { measureSampleParity } from './parity';

const { values } = parseArgs({ options: { models: { type: 'string', default: join(import.meta.dirname, '..', 'models') }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('usage: npx tsx export/reparity.ts [--models DIR]');
  process.exit(0);
}
const root = values.models;
const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8')) as ModelIndex;
for (const entry of index.models) {
  const path = join(root, entry.id, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  if (!m.parity) continue;
  const bytes = readFileSync(join(root, m.id, m.files.find((f) => f.capability === 'sample')!.file));
  const parity = await measureSampleParity(m, new Uint8Array(bytes));
  console.log(`${m.id}: measured ${m.parity.measured.toExponential(2)} -> ${parity.measured.toExponential(2)}, stated ${m.parity.samples} -> ${parity.samples}`);
  writeFileSync(path, JSON.stringify({ ...m, parity }, null, 2) + '\n');
}
