/**
 * The optional rate limit: a copy of wrangler.toml with its [[ratelimits]]
 * block switched on (5 requests a minute), served by a real `wrangler dev`.
 * Model requests past the limit answer 429 rate_limited in the API's error
 * shape; GET routes are not counted. (Without the block, the default, the
 * other workerd suites show nothing is limited.)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAssets } from '../build-assets';
import { MODELS, ROOT, startWrangler, type Wrangler } from '../testing';

describe('rate limiting through the ratelimits binding (workerd)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'edgegen-ratelimit-'));
  const out = join(tmp, 'public');
  let wrangler: Wrangler;

  beforeAll(async () => {
    buildAssets({ web: join(ROOT, 'dist/web'), models: MODELS, out });
    const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
      .replace(/^main = .*$/m, `main = ${JSON.stringify(join(ROOT, 'edge/worker/index.ts'))}`)
      .replace(/^# \[\[ratelimits\]\]\n# name = "RATE_LIMITER"\n# namespace_id = "1001"\n# simple = \{ limit = 100, period = 60 \}$/m,
        '[[ratelimits]]\nname = "RATE_LIMITER"\nnamespace_id = "1001"\nsimple = { limit = 5, period = 60 }');
    expect(toml, 'wrangler.toml keeps the commented [[ratelimits]] block').toContain('simple = { limit = 5, period = 60 }');
    writeFileSync(join(tmp, 'wrangler.toml'), toml);
    wrangler = await startWrangler(out, 90_000, ['--config', join(tmp, 'wrangler.toml')]);
  });
  afterAll(async () => {
    await wrangler?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('answers 429 rate_limited past the limit, in the error shape, and leaves GET routes alone', async () => {
    const statuses: number[] = [];
    let limited: { error: { code: string; message: string } } | undefined;
    for (let i = 0; i < 12; i++) {
      const res = await wrangler.fetch('/v1/models/flow-nice-moons/sample', {
        method: 'POST',
        body: JSON.stringify({ n: 2, seed: i }),
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(20_000),
      });
      statuses.push(res.status);
      if (res.status === 429) {
        limited = (await res.json()) as typeof limited;
        expect(res.headers.get('retry-after')).toBe('60');
        // a page on another origin can read when to retry
        expect(res.headers.get('access-control-expose-headers')?.split(',')).toContain('retry-after');
      } else await res.arrayBuffer();
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses).toContain(429);
    expect(limited?.error.code).toBe('rate_limited');
    expect(typeof limited?.error.message).toBe('string');
    expect((await wrangler.fetch('/v1/models')).status).toBe(200);
    expect((await wrangler.fetch('/healthz')).status).toBe(200);
  });
});
