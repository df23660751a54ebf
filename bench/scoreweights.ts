/**
 * How the anomaly score's two choices were made (core/score.ts): the
 * compressor behind the complexity correction and the typicality's weight.
 * For every shipped image model with a density, the held-out rows calibrate
 * (the export's split and estimator, export/calibrate.ts) a score under each
 * compressor and weight; each is then thresholded at classify's default fpr
 * (core/score.ts CLASSIFY_FPR) and applied to
 * - the evaluation half of its own test split: the share flagged (false alarms);
 * - the other data set's test rows (MNIST <-> Fashion-MNIST), uniform noise and
 *   the 256 constant images: the share flagged, and whether the blank image is.
 * Scores are computed here from the density graph (onnxruntime-node), not
 * through the API, so candidates that no manifest holds can be compared.
 *
 *   npx tsx bench/scoreweights.ts [--models id,id] [--weights 0.5,0.8,1] [--fpr F]
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { complexityRows } from '../core/complexity';
import type { Manifest } from '../core/manifest';
import { dataDim } from '../core/spec';
import { CLASSIFY_FPR, COMPRESSORS, methodFor, rowScores, thresholdFor } from '../core/score';
import { calibrationFrom, heldOutSplit, logDensities } from '../export/calibrate';
import { openGraph } from '../export/ort';
import { loadDataset } from '../train/data';
import { fmt, log, MODELS_DIR, table } from './common';
import { syntheticSets } from './ood';

const { values } = parseArgs({ options: { models: { type: 'string' }, weights: { type: 'string', default: '0.5,0.6,0.7,0.8,0.9,1' }, fpr: { type: 'string' } } });
const weights = values.weights.split(',').map(Number);
const fpr = values.fpr === undefined ? CLASSIFY_FPR : Number(values.fpr);
if (weights.some((w) => !(w >= 0)) || !(fpr > 0 && fpr < 1)) throw new Error('--weights: numbers >= 0; --fpr in (0, 1)');

const manifests = readdirSync(MODELS_DIR)
  .filter((d) => existsSync(join(MODELS_DIR, d, 'manifest.json')))
  .map((d) => JSON.parse(readFileSync(join(MODELS_DIR, d, 'manifest.json'), 'utf8')) as Manifest)
  .filter((m) => m.capabilities.includes('density') && methodFor(m) === 'typicality+complexity' && (!values.models || values.models.split(',').includes(m.id)))
  .sort((a, b) => a.id.localeCompare(b.id));

const out: (string | number)[][] = [];
for (const m of manifests) {
  log(`scoreweights: ${m.id}`);
  const D = dataDim(m);
  const width = m.shape[1];
  const own = loadDataset(m.dataset);
  const other = loadDataset(m.dataset === 'mnist' ? 'fashion-mnist' : 'mnist');
  const split = heldOutSplit(own);
  const synthetic = syntheticSets(500);
  const sets: Record<string, Float32Array> = {
    calibration: split.calibration,
    own: split.evaluation,
    other: Float32Array.from(other.test.subarray(0, Math.min(2000, other.nTest) * D)),
    noise: synthetic.noise,
    constant: synthetic.constant,
  };
  const graph = await openGraph(readFileSync(join(MODELS_DIR, m.id, 'density.onnx')));
  const logp: Record<string, Float64Array> = {};
  for (const [k, x] of Object.entries(sets)) logp[k] = await logDensities(m, graph.run, x, x.length / D);
  await graph.release();
  for (const compressor of COMPRESSORS) {
    const cx: Record<string, Float64Array> = {};
    for (const [k, x] of Object.entries(sets)) cx[k] = complexityRows(x, x.length / D, D, width, compressor);
    for (const typicalityWeight of weights) {
      const cal = calibrationFrom('typicality+complexity', logp.calibration, cx.calibration, D, { dataset: own.name, split: 'calibration', rows: split.calRows }, { compressor, typicalityWeight });
      const threshold = thresholdFor(cal.quantiles, fpr, cal.data.rows);
      const flagged = (k: string) => logp[k].map((lp, i) => +(rowScores(lp, D, cal.method, cx[k][i], cal).anomaly > threshold));
      const share = (k: string) => fmt(flagged(k).reduce((a, b) => a + b, 0) / logp[k].length);
      out.push([m.id, compressor, typicalityWeight, share('own'), share('other'), share('noise'), share('constant'), flagged('constant')[0] ? 'yes' : '**no**']);
    }
  }
}
console.log(table(['model', 'compressor', 'typicality weight', 'own evaluation rows flagged', 'other data set flagged', 'noise flagged', 'constant images flagged', 'blank flagged'], out));
console.log(`\nfpr ${fpr}; other data set: up to 2000 test rows; noise: 500 images; constant: the 256 grey levels`);
