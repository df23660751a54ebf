/**
 * Crash safety of the real training CLI: a run (tiny NICE on moons, cpu
 * backend) is killed with SIGKILL at a random moment after its first
 * checkpoint, then resumed with --resume. The checkpoint must read back, the
 * resumed run must continue from the saved step, at most the steps since that
 * checkpoint may be lost, and whatever the kill left in the folder (a temp file
 * of a checkpoint being written) must not break the resume.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../checkpoint';

const ROOT = resolve(import.meta.dirname, '../..');
const EVAL_EVERY = 25;

/** One node process (tsx as a loader, not tsx's CLI, which would put a second process between us and the trainer). */
function cli(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'train/cli.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('exit', (code, signal) => ok({ code, signal })),
  );
  return { child, exited, output: () => out };
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

describe('training CLI survives SIGKILL', () => {
  const out = mkdtempSync(join(tmpdir(), 'edgegen-kill-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const common = ['--family', 'flow', '--model', 'nice', '--data', 'moons', '--backend', 'cpu', '--tiny', '--seed', '7',
    '--eval-every', String(EVAL_EVERY), '--eval-n', '256', '--out', out];

  it('resumes from the last checkpoint after a kill at a random moment, losing at most the steps since it', async () => {
    const ck = join(out, 'checkpoint.egck');
    const run = cli([...common, '--steps', '100000']);
    try {
      // wait for the first checkpoint (bounded), then kill 0-1.5 s later
      const t0 = Date.now();
      while (!existsSync(ck)) {
        if (run.child.exitCode !== null) throw new Error(`trainer exited early:\n${run.output()}`);
        if (Date.now() - t0 > 60_000) throw new Error(`no checkpoint after 60 s:\n${run.output()}`);
        await sleep(20);
      }
      const delay = Math.floor(Math.random() * 1500);
      await sleep(delay);
      run.child.kill('SIGKILL');
      const { signal } = await run.exited;
      expect(signal, run.output()).toBe('SIGKILL');
      console.log(`killed ${delay} ms after the first checkpoint appeared`);
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }

    // the checkpoint on disk is whole and at an evaluation step
    const saved = readCheckpoint(ck);
    expect(saved.step).toBeGreaterThanOrEqual(EVAL_EVERY);
    expect(saved.step % EVAL_EVERY).toBe(0);
    // every metrics line is whole JSON; the furthest step the killed run logged
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean);
    const reached = Math.max(...lines.map((l) => (JSON.parse(l) as { step: number }).step));
    // lost = steps after the checkpoint; a step S + EVAL_EVERY would have written a newer one
    // (or was being written when killed, so the older one was kept)
    expect(reached - saved.step).toBeLessThanOrEqual(EVAL_EVERY);
    const leftovers = readdirSync(out).filter((f) => f.endsWith('.tmp'));
    console.log(`checkpoint at step ${saved.step}, log reached step ${reached}, temp files left: ${leftovers.length ? leftovers.join(', ') : 'none'}`);

    // a kill in the middle of a checkpoint write leaves a partial temp file: make
    // sure there is one (whatever the random moment was), as garbage bytes
    writeFileSync(join(out, '.checkpoint.egck.99999.tmp'), new Uint8Array(1000).fill(0x5a));

    // resume: continues from the saved step and finishes the requested total
    const target = saved.step + 2 * EVAL_EVERY;
    const resumed = cli([...common, '--steps', String(target), '--resume']);
    const timer = setTimeout(() => resumed.child.kill('SIGKILL'), 90_000);
    const end = await resumed.exited;
    clearTimeout(timer);
    expect(end.code, resumed.output()).toBe(0);
    expect(resumed.output()).toContain(`at step ${saved.step}`);
    // stderr is a pipe here, not a terminal: progress comes as plain lines (first step, then every 5 s, and the last)
    const progress = resumed.output().split('\n').filter((l) => /^step \d+\/\d+ loss -?[\d.]+ [\d.]+ steps\/s ETA \d+:\d\d$/.test(l));
    expect(progress[0]).toMatch(new RegExp(`^step ${saved.step + 1}/${target} `));
    expect(progress.at(-1)).toMatch(new RegExp(`^step ${target}/${target} `));
    expect(resumed.output()).not.toContain('\r');
    const final = readCheckpoint(ck);
    expect(final.step).toBe(target);
    expect(Object.keys(final.weights).sort()).toEqual(Object.keys(saved.weights).sort());
    // the resumed run's log starts right after the checkpoint, not from scratch
    const after = readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; step: number });
    const evals = after.filter((l) => l.kind === 'eval').map((l) => l.step);
    expect(evals).toContain(saved.step + EVAL_EVERY);
    expect(evals).toContain(target);
    // the stale temp file is swept by the next checkpoint write; nothing temporary survives
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
