/**
 * The benchmark and quality report: `npm run bench [-- --only serving,cold,browser,training,quality,ood] [--quick] [--models id,id] [--out FILE]`.
 * Prints the machine line and each section's markdown tables; `--out` also
 * writes them to a file. Not part of `npm test`.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { machine } from './common';

const { values } = parseArgs({
  options: { only: { type: 'string' }, quick: { type: 'boolean' }, models: { type: 'string' }, out: { type: 'string' } },
});
const ALL = ['serving', 'cold', 'browser', 'training', 'quality', 'ood'] as const;
const only = values.only ? values.only.split(',').map((s) => s.trim()) : [...ALL];
for (const s of only) if (!(ALL as readonly string[]).includes(s)) throw new Error(`unknown section "${s}"; choose from ${ALL.join(', ')}`);
const opts = { quick: !!values.quick, models: values.models?.split(',').filter(Boolean) };

const parts: string[] = [`Machine: ${machine()}`, `Command: npm run bench -- ${process.argv.slice(2).join(' ')}`];
const emit = (s: string) => {
  parts.push(s);
  console.log(`\n${s}\n`);
};
console.log(parts.join('\n'));
for (const s of ALL) {
  if (!only.includes(s)) continue;
  const t0 = performance.now();
  let text: string;
  try {
    switch (s) {
      case 'serving': text = await (await import('./serving')).serving(opts); break;
      case 'cold': text = await (await import('./cold')).cold(opts); break;
      case 'browser': text = await (await import('./browser')).browser(opts); break;
      case 'training': text = await (await import('./training')).training(opts); break;
      case 'quality': text = await (await import('./quality')).quality(opts); break;
      case 'ood': { const o = await import('./ood'); text = `### Out-of-distribution AUROC through POST .../score\n\n${o.oodTables(await o.ood())}`; break; }
    }
  } catch (e) {
    text = `### ${s}\n\nFAILED: ${(e as Error).stack ?? e}`;
  }
  emit(`${text}\n\n(section ${s}: ${((performance.now() - t0) / 1000).toFixed(0)} s; machine at end: ${machine()})`);
}
if (values.out) writeFileSync(values.out, parts.join('\n\n') + '\n');
process.exit(0);
