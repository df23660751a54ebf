/**
 * npm run export -- <checkpoint> [--id ID] [--out models] [--float16] [--no-calibrate]
 * Verifies every graph against the trained tfjs model, then writes
 * models/<id>/*.onnx, manifest.json and updates models/index.json.
 */
import { exportCheckpoint } from './export';

const USAGE = 'usage: npm run export -- <checkpoint.egck> [--id ID] [--out DIR] [--float16] [--no-calibrate]';

function parse(argv: string[]): { path: string; id?: string; out?: string; float16?: boolean; calibrate?: boolean } {
  let path: string | undefined;
  const opts: { id?: string; out?: string; float16?: boolean; calibrate?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--id' || a === '--out') {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value\n${USAGE}`);
      opts[a === '--id' ? 'id' : 'out'] = v;
    } else if (a === '--float16') {
      opts.float16 = true;
    } else if (a === '--no-calibrate') {
      opts.calibrate = false;
    } else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('-')) {
      throw new Error(`unknown option ${a}\n${USAGE}`);
    } else if (path) {
      throw new Error(`one checkpoint at a time\n${USAGE}`);
    } else path = a;
  }
  if (!path) throw new Error(USAGE);
  return { path, ...opts };
}

try {
  const { path, ...opts } = parse(process.argv.slice(2));
  const t0 = performance.now();
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
