/**
 * npm run export -- <checkpoint> [--id ID] [--out models] [--float16] [--int8 [--sample-dtype int8]] [--no-calibrate] [--temperature T] [--force]
 * npm run export -- models/<id> --int8 [--sample-dtype int8]   (adds the int8 sampler to a model in place)
 * Verifies every graph against the trained tfjs model, then writes
 * models/<id>/*.onnx, manifest.json and updates models/index.json. A model
 * already in models/<id> is replaced only with --force.
 */
import { parseArgs } from 'node:util';
import { statSync } from 'node:fs';
import { addInt8, exportCheckpoint, type ExportOptions } from './export';

const USAGE = `usage: npm run export -- <checkpoint.egck> [options]
  --id ID          model id (default: <family>-<model>-<data>, e.g. flow-realnvp-moons)
  --out DIR        models folder (default models)
  --float16        also write float16-weight copies of every graph
  --int8           also write the sampler's int8 copy (sample.int8.onnx), its error and FD measured
                   (export/variant.ts); given a model folder (models/<id>) instead of a checkpoint,
                   adds it to that model in place, nothing else changed
  --sample-dtype D what a sample request that names no dtype runs at: float32 (default) or int8
  --no-calibrate   leave the anomaly-score calibration out
  --temperature T  the temperature a sample request that names none draws at, in (0, 10]
                   (manifest sampleTemperature; default none: 1; bench/temperature.ts measures it)
  --force          replace the model already in DIR/ID (default: refuse)`;

function parse(argv: string[]): { path: string } & ExportOptions {
  const options = {
    id: { type: 'string' }, out: { type: 'string' }, float16: { type: 'boolean' }, int8: { type: 'boolean' }, 'sample-dtype': { type: 'string' }, 'no-calibrate': { type: 'boolean' },
    temperature: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  } as const;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1) throw new Error(`${positionals.length ? 'one checkpoint at a time' : 'which checkpoint?'}\n${USAGE}`);
  const temperature = values.temperature === undefined ? undefined : Number(values.temperature);
  if (temperature !== undefined && !(temperature > 0 && temperature <= 10)) throw new Error(`--temperature: a number in (0, 10], got '${values.temperature}'\n${USAGE}`);
  const sampleDtype = values['sample-dtype'];
  if (sampleDtype !== undefined && sampleDtype !== 'float32' && sampleDtype !== 'int8') throw new Error(`--sample-dtype: float32 or int8, got '${sampleDtype}'\n${USAGE}`);
  return {
    path: positionals[0],
    id: values.id, out: values.out, float16: values.float16, int8: values.int8,
    ...(sampleDtype ? { sampleDtype } : {}),
    ...(values['no-calibrate'] ? { calibrate: false } : {}),
    force: values.force,
    ...(temperature !== undefined ? { temperature } : {}),
  };
}

try {
  const { path, ...opts } = parse(process.argv.slice(2));
  const t0 = performance.now();
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
    if (!opts.int8) throw new Error(`${path} is a model folder: with one, --int8 adds its int8 sampler; a new export takes a checkpoint\n${USAGE}`);
    const m = await addInt8(path, opts.sampleDtype);
    const v = m.variants!.find((x) => x.precision === 'int8')!;
    const fd = v.fd ? `, FD ${v.fd.variant.toFixed(2)} (float32 ${v.fd.float32.toFixed(2)}) on ${v.fd.dataset}` : '';
    console.log(`wrote ${path}/${v.file} (${v.bytes} bytes): max error ${v.maxError.toExponential(2)}, mean ${v.meanError!.toExponential(2)}${fd}; default dtype ${m.sampleDtype ?? 'float32'}`);
    process.exit(0);
  }
  const { manifest, dir, verification, uncalibrated } = await exportCheckpoint(path, opts);
  for (const r of verification) console.log(`verified ${r.capability}.${r.output}: max ${r.kind} error ${r.maxError.toExponential(2)}`);
  for (const f of [...manifest.files, ...(manifest.variants ?? [])]) console.log(`wrote ${dir}/${f.file} (${f.bytes} bytes, sha256 ${f.sha256.slice(0, 12)})`);
  const cal = manifest.calibration;
  if (cal) {
    const q = (p: number) => cal.quantiles[Math.round(p * (cal.quantiles.length - 1))].toFixed(3);
    console.log(`calibrated ${cal.method} on ${cal.data.rows} held-out rows of ${cal.data.dataset} (${cal.data.split}): anomaly median ${q(0.5)}, 95% ${q(0.95)}, 99% ${q(0.99)}`);
  } else console.log(`not calibrated: ${uncalibrated}`);
  if (manifest.parity) console.log(`cross-runtime samples: measured ${manifest.parity.measured.toExponential(2)}, stated tolerance ${manifest.parity.samples}`);
  console.log(`exported ${manifest.id} (${manifest.parameters} parameters) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
} catch (e) {
  console.error(`export failed: ${(e as Error).message}`);
  process.exit(1);
}
