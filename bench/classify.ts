/**
 * The generative classifier, measured as a client meets it: every shipped
 * class-conditional density model answers POST /v1/models/{id}/classify
 * through the Node app in process (edge/app.ts on onnxruntime-node, the code
 * the server runs), on
 * - the whole test split of its data set: accuracy of the top label; and at
 *   the abstention rule the export calibrated, the share of rows answered
 *   (coverage), the accuracy on them, and the share turned away as
 *   out_of_distribution (in-distribution rows: the false alarms);
 * - the risk-coverage curve of the top posterior (rows answered in order of
 *   confidence; risk = error rate among them) and its area (lower is better);
 * - the other data set's test rows (MNIST <-> Fashion-MNIST) and uniform
 *   noise: the share that abstains, and the share called out_of_distribution;
 * beside the project's discriminative classifier (train/classifier.ts, an MLP
 * trained on the same training split) on the same test rows.
 *
 *   npx tsx bench/classify.ts [--models id,id] [--noise 1000] [--other 2000] [--fpr 0.05]
 */
import { parseArgs } from 'node:util';
import { Prng } from '../core';
import type { ClassifyResponse, ModelEntry } from '../core/api';
import { createApp } from '../edge/app';
import { nodeRuntime } from '../edge/node/runtime';
import { loadDataset, type Dataset } from '../train/data';
import { classifier } from '../train/classifier';
import { fmt, log, machine, MODELS_DIR, table } from './common';

const { values } = parseArgs({
  options: { models: { type: 'string' }, noise: { type: 'string', default: '1000' }, other: { type: 'string', default: '2000' }, fpr: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log('npx tsx bench/classify.ts [--models id,id] [--noise ROWS] [--other ROWS] [--fpr RATE]');
  process.exit(0);
}
// the request's fpr (absent: the API's default)
const fpr = values.fpr === undefined ? undefined : Number(values.fpr);
if (fpr !== undefined && !(fpr > 0 && fpr < 1)) throw new Error(`--fpr must be in (0, 1), got "${values.fpr}"`);

const app = createApp(nodeRuntime(MODELS_DIR));
const post = async (id: string, x: number[][]): Promise<ClassifyResponse> => {
  const res = await app.request(`/v1/models/${id}/classify`, { method: 'POST', body: JSON.stringify(fpr === undefined ? { x } : { x, fpr }), headers: { 'content-type': 'application/json' } });
  if (res.status !== 200) throw new Error(`${id}: ${res.status} ${await res.text()}`);
  return (await res.json()) as ClassifyResponse;
};

/** Rows of a split as integer pixels (the server dequantises them with the request's seed). */
function pixelRows(ds: Dataset, n: number): number[][] {
  return Array.from({ length: Math.min(n, ds.nTest) }, (_, i) => Array.from(ds.test.subarray(i * 784, (i + 1) * 784)));
}

/** Every row through classify, in requests of at most `per` rows. */
async function classifyAll(m: ModelEntry, x: number[][]): Promise<ClassifyResponse[]> {
  const per = Math.min(m.limits.rows, 500);
  const out: ClassifyResponse[] = [];
  for (let o = 0; o < x.length; o += per) out.push(await post(m.id, x.slice(o, o + per)));
  return out;
}

const flat = <K extends 'label' | 'probability' | 'abstain'>(rs: ClassifyResponse[], k: K): ClassifyResponse[K] => rs.flatMap((r) => r[k] as unknown[]) as ClassifyResponse[K];

/** Area under the risk-coverage curve: rows by falling top posterior; risk at k rows = errors among them / k, averaged over k. */
function riskCoverage(prob: number[], right: boolean[]): { aurc: number; at: Record<string, number> } {
  const order = prob.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]);
  let errors = 0;
  let area = 0;
  const at: Record<string, number> = {};
  const marks = [0.5, 0.8, 0.9, 0.95, 0.99];
  order.forEach(([, i], k) => {
    if (!right[i]) errors += 1;
    area += errors / (k + 1);
    for (const c of marks) if (k + 1 === Math.ceil(c * order.length)) at[`risk@${c}`] = errors / (k + 1);
  });
  return { aurc: area / order.length, at };
}

async function main(): Promise<void> {
  log(`# Generative classification\n\n${machine()}\n`);
  const list = ((await (await app.request('/v1/models')).json()) as { models: ModelEntry[] }).models;
  const wanted = values.models?.split(',');
  const models = list.filter((m) => m.operations.includes('classify') && (!wanted || wanted.includes(m.id)));
  if (!models.length) throw new Error('no shipped model classifies (class-conditional density models list "classify" in GET /v1/models)');
  const data = new Map<string, Dataset>();
  const get = (name: string) => data.get(name) ?? data.set(name, loadDataset(name)).get(name)!;
  const rows: string[][] = [];
  const oodRows: string[][] = [];
  const baselines = new Map<string, number>();
  for (const m of models) {
    const ds = get(m.dataset);
    const x = pixelRows(ds, ds.nTest);
    const t0 = performance.now();
    const res = await classifyAll(m, x);
    const ms = performance.now() - t0;
    const label = flat(res, 'label');
    const prob = flat(res, 'probability');
    const abstain = flat(res, 'abstain');
    const truth = ds.testLabels!;
    const right = label.map((y, i) => y === truth[i]);
    const answered = abstain.map((a) => a === null);
    const nAns = answered.filter(Boolean).length;
    const rc = riskCoverage(prob, right);
    rows.push([
      m.id, m.family, String(x.length), fmt(right.filter(Boolean).length / x.length, 4), fmt(nAns / x.length, 3),
      fmt(right.filter((r, i) => r && answered[i]).length / Math.max(1, nAns), 4),
      fmt(abstain.filter((a) => a === 'out_of_distribution').length / x.length, 3), fmt(rc.aurc, 4), fmt(rc.at['risk@0.9'] ?? NaN, 4), fmt(ms / x.length, 3),
    ]);
    // rows of no class: the other data set's test images and uniform noise
    const other = m.dataset === 'mnist' ? 'fashion-mnist' : 'mnist';
    const rng = new Prng(7);
    const noise = Array.from({ length: Number(values.noise) }, () => Array.from({ length: 784 }, () => Math.floor(rng.uniform() * 256)));
    for (const [what, xs] of [[other, pixelRows(get(other), Number(values.other))], ['uniform noise', noise]] as const) {
      const r = await classifyAll(m, xs);
      const a = flat(r, 'abstain');
      oodRows.push([m.id, what, String(xs.length), fmt(a.filter((v) => v !== null).length / xs.length, 3), fmt(a.filter((v) => v === 'out_of_distribution').length / xs.length, 3)]);
    }
    if (!baselines.has(m.dataset)) {
      // the classifier bench/quality.ts trains (a fixed number of steps), and its cache
      const c = await classifier(m.dataset);
      baselines.set(m.dataset, c.testAccuracy);
    }
  }
  log(table(['model', 'family', 'test rows', 'accuracy', 'coverage', 'accuracy answered', 'in-dist. called OOD', 'AURC', 'risk at 90% coverage', 'ms/row'], rows));
  log('');
  log(table(['model', 'rows of', 'rows', 'abstain (any reason)', 'out_of_distribution'], oodRows));
  log('');
  log(table(['data set', 'discriminative baseline (train/classifier.ts MLP) test accuracy'], [...baselines].map(([d, a]) => [d, fmt(a, 4)])));
}

await main();
