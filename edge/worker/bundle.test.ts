/**
 * The Worker script as Cloudflare would receive it (`wrangler deploy --dry-run`):
 * under the 64 MiB script limit of both plans (Cloudflare, 2026-09-04) raw, and
 * still under the old 10 MB gzip as a guard against growth; free of tfjs,
 * train/ and export/, and its JavaScript under 200 KiB gzip.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { ROOT } from '../testing';

it('bundles under the 64 MiB Workers script limit (and 10 MB gzip), without tfjs', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'edgegen-bundle-'));
  try {
    const assets = join(tmp, 'public');
    mkdirSync(assets);
    writeFileSync(join(assets, 'index.html'), '<!doctype html>');
    const out = join(tmp, 'out');
    const log = execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'deploy', '--dry-run', '--outdir', out, '--assets', assets],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' } },
    );
    const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(log);
    expect(m, log).toBeTruthy();
    const gzipKiB = Number(m![2]);
    console.log(`Worker upload: ${m![1]} KiB raw, ${gzipKiB} KiB gzip (limit: 64 MiB on Free and Paid)`);
    expect(Number(m![1]) * 1024).toBeLessThan(64 * 2 ** 20);
    expect(gzipKiB * 1024).toBeLessThan(10 * 1e6);
    const js = readdirSync(out).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    for (const f of js) {
      const text = readFileSync(join(out, f), 'utf8');
      expect(text).not.toMatch(/@tensorflow|tfjs-core|tfjs-backend/);
      expect(text).not.toMatch(/train\/|export\/(graphs|onnx|verify)/);
      // our own code (with hono, zod and the onnxruntime-web glue) stays small beside the 14 MB wasm
      const gz = gzipSync(text).length;
      console.log(`${f}: ${(text.length / 1024).toFixed(0)} KiB js, ${(gz / 1024).toFixed(0)} KiB gzip`);
      expect(gz, `${f} gzip bytes`).toBeLessThan(200 * 1024);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
