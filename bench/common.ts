/**
 * Shared by the bench sections: the machine line, the shipped models, timing
 * statistics and markdown tables.
 */
import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Manifest, ModelIndex } from '../core/manifest';

export const ROOT = resolve(import.meta.dirname, '..');
/** the shipped models; EDGEGEN_MODELS_DIR points every section at another export folder (a dry run of a model not yet shipped) */
export const MODELS_DIR = process.env.EDGEGEN_MODELS_DIR ? resolve(process.env.EDGEGEN_MODELS_DIR) : join(ROOT, 'models');

export interface BenchOptions {
  quick: boolean;
  /** --models id,id: only these shipped models (sections that read it) */
  models?: string[];
  /** an export folder with index.json to read instead of MODELS_DIR (sections that read it) */
  modelsDir?: string;
}

export function machine(): string {
  const nproc = execSync('nproc').toString().trim();
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const load = loadavg().map((l) => l.toFixed(2)).join(', ');
  const trainer = (() => {
    try {
      // -a lists command lines; drop the shell that runs pgrep itself
      return execSync("pgrep -af 'train/cli.ts' || true").toString().trim().split('\n').filter((l) => l && !l.includes('pgrep')).length;
    } catch {
      return 0;
    }
  })();
  return `${new Date().toISOString()} | nproc ${nproc} | ${model} | load ${load}${trainer ? ` | ${trainer} train/cli.ts processes running` : ''} | node ${process.version}`;
}

export function shipped(dir = MODELS_DIR): Manifest[] {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as ModelIndex;
  return index.models.map((m) => JSON.parse(readFileSync(join(dir, m.id, 'manifest.json'), 'utf8')) as Manifest);
}

export const isImage = (m: { shape: number[] }) => m.shape.length >= 2;
export { dataDim as dim } from '../core/protocol';

export function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export interface Timing {
  p50: number;
  p95: number;
  /** samples per second = n / mean latency */
  rate: number;
  reps: number;
}

/**
 * Runs `fn` after `warm` untimed calls, at least `minReps` and at most
 * `maxReps` times, stopping early once `budgetMs` is spent (bounded loop).
 */
export async function timeIt(fn: () => Promise<unknown> | unknown, n: number, o: { warm?: number; minReps?: number; maxReps?: number; budgetMs?: number } = {}): Promise<Timing> {
  const { warm = 3, minReps = 5, maxReps = 40, budgetMs = 4000 } = o;
  for (let i = 0; i < warm; i++) await fn();
  const ms: number[] = [];
  const t0 = performance.now();
  while (ms.length < maxReps && (ms.length < minReps || performance.now() - t0 < budgetMs)) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  ms.sort((a, b) => a - b);
  return { p50: pct(ms, 0.5), p95: pct(ms, 0.95), rate: (n * 1000) / mean, reps: ms.length };
}

export function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(2);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(digits);
}

export const log = (s: string) => process.stderr.write(`${s}\n`);

/** Processes below us whose command line matches (wrangler spawns two workerd): walk each candidate's parents up to this process. */
export function findDescendants(name: RegExp): Array<{ pid: number; cmd: string }> {
  const found: Array<{ pid: number; cmd: string }> = [];
  const parent = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return 0;
    }
  };
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (!name.test(cmd)) continue;
    for (let p = Number(d), hops = 0; p > 1 && hops < 10; p = parent(p), hops++) {
      if (p === process.pid) {
        found.push({ pid: Number(d), cmd });
        break;
      }
    }
  }
  return found;
}
