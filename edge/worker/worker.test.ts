/**
 * The shared request suite against a real workerd (`wrangler dev` on a free
 * loopback port, onnxruntime-web wasm, models from the static assets binding),
 * then the cross-runtime check: the Worker and the Node adapter give the same
 * numbers for the same seed.
 */
import { CROSS_RUNTIME_TOL, importanceSampled, sampleTolerance, sampleWork } from '../../core/protocol';
import { MAX_WORK_UNITS } from '../engine';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest, ModelIndex } from '../../core/manifest';
import { createApp } from '../app';
import { apiCases } from '../api.cases';
import { conformanceCases } from '../conformance.cases';
import { classesCases } from '../classes.cases';
import { dtypeCases } from '../dtype.cases';
import { scoreCases } from '../score.cases';
import { buildAssets } from '../build-assets';
import { nodeRuntime } from '../node/runtime';
import { ROOT, modelsWithCorruptCopy, startWrangler, type Target, type Wrangler } from '../testing';

describe('edge API on workerd (onnxruntime-web wasm)', () => {
  const { dir, corruptId, remove } = modelsWithCorruptCopy();
  const out = join(mkdtempSync(join(tmpdir(), 'edgegen-assets-')), 'public');
  let wrangler: Wrangler;

  beforeAll(async () => {
    buildAssets({ web: join(ROOT, 'dist/web'), models: dir, out });
    // ready when a static file answers: that leaves the Worker's isolate untouched for the first test
    wrangler = await startWrangler(out, undefined, [], '/models/index.json');
    console.log(`wrangler dev answered ${wrangler.readyMs} ms after spawn`);
  });
  afterAll(async () => {
    await wrangler?.stop();
    rmSync(dirname(out), { recursive: true, force: true });
    remove();
  });

  /**
   * wrangler dev reloads the Worker when files it watches change (other test
   * files run `wrangler deploy --dry-run` in this project meanwhile) and then
   * answers "Your worker restarted mid-request": a dev-server artifact, sent once more.
   */
  const devFetch = async (path: string, init?: RequestInit): Promise<Response> => {
    const res = await wrangler.fetch(path, init);
    if (res.ok || !(await res.clone().text()).startsWith('Your worker restarted mid-request')) return res;
    return wrangler.fetch(path, init);
  };
  const target: Target = { runtime: 'workerd', fetch: devFetch };

  it('instantiates onnxruntime as the isolate loads, before any model is asked for: /healthz finds the wasm memory there', async () => {
    // worker/index.ts calls warmUp() at global scope; nothing else instantiates onnxruntime before a model's
    // session opens, and /healthz opens none. Asked a few times, so a slow start is waited for, not failed.
    let memory: { wasmBytes?: number; sessions: number } = { sessions: -1 };
    for (let i = 0; i < 40 && !memory.wasmBytes; i++) {
      if (i) await new Promise((r) => setTimeout(r, 250));
      memory = ((await (await target.fetch('/healthz')).json()) as { memory: typeof memory }).memory;
    }
    expect(memory.sessions).toBe(0);
    expect(memory.wasmBytes).toBeGreaterThan(0);
  });

  apiCases(() => target, () => corruptId);
  scoreCases(() => target);
  classesCases(() => target, () => [corruptId]);
  dtypeCases(() => target, () => [corruptId]);

  // fewer runs than on Node: each request crosses wrangler's proxy into workerd; enough that every
  // operation reaches a 200 (a sample request succeeds about one time in five: at 20 runs, none did about once in 100)
  const RUNS = Number(process.env.CONFORMANCE_RUNS_WORKERD ?? 30);
  const tally = new Map<string, number>();
  afterAll(() => console.log(`workerd conformance (${RUNS} runs per operation): ${JSON.stringify(Object.fromEntries([...tally].sort()))}`));
  conformanceCases(() => target, { runs: RUNS, skip: () => [corruptId], tally });

  it('serves the API reference at /docs with its script and stylesheet from the static assets, no CDN', async () => {
    const page = await wrangler.fetch('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.sort()).toEqual(['docs/ui/swagger-ui-bundle.js', 'docs/ui/swagger-ui.css']);
    for (const ref of refs) {
      const res = await wrangler.fetch(`/${ref}`);
      expect(res.status, ref).toBe(200);
      expect((await res.arrayBuffer()).byteLength, ref).toBeGreaterThan(10_000);
    }
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('answers TRACE (which fetch refuses to send) with 405 and Allow, over a raw socket', async () => {
    const { port, hostname } = new URL(wrangler.url);
    const text = await new Promise<string>((ok, fail) => {
      let out = '';
      const socket = connect(Number(port), hostname, () =>
        socket.write(`TRACE /v1/models/${corruptId.replace(/-corrupt$/, '')}/sample HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`),
      );
      // done once the body is in (wrangler's proxy keeps the socket open despite Connection: close)
      socket.on('data', (d) => {
        out += d;
        const [head, body = ''] = out.split('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(head)?.[1];
        if (length !== undefined && Buffer.byteLength(body) >= Number(length)) (socket.destroy(), ok(out));
      });
      socket.on('end', () => ok(out));
      socket.on('error', fail);
    });
    const [head, body] = text.split('\r\n\r\n');
    expect(head.split(' ')[1], head).toBe('405');
    expect(head.toLowerCase()).toContain('allow: post, options');
    expect(body).toContain('method_not_allowed');
  });

  it('answers long URLs the Worker sees in the error shape (longer ones are refused by the runtime first)', async () => {
    const res = await wrangler.fetch(`/v1/models/${'a'.repeat(8000)}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    const longer = await wrangler.fetch(`/v1/models/${'a'.repeat(70_000)}`);
    console.log(`workerd, 70 000-character URL: ${longer.status} ${longer.headers.get('content-type')} ${(await longer.text()).slice(0, 80)}`);
  });

  it("gives the same samples and densities as the Node adapter for the same seed (within 1e-4, or a model's stated sample tolerance)", async () => {
    const node = createApp(nodeRuntime(dir));
    const call = async (via: 'node' | 'workerd', path: string, body: unknown) => {
      const init = { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
      const res = via === 'node' ? await node.request(path, init) : await devFetch(path, init);
      expect(res.status, `${via} ${path}`).toBe(200);
      return (await res.json()) as any;
    };
    const close = (a: number[][], b: number[][], what: string, tol = CROSS_RUNTIME_TOL) => {
      expect(a.length, what).toBe(b.length);
      let worst = 0;
      a.forEach((row, i) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i][j]) / Math.max(1, Math.abs(v))))));
      expect(worst, `${what}: largest relative difference`).toBeLessThan(tol);
    };
    const { models } = (await (await wrangler.fetch('/v1/models')).json()) as ModelIndex;
    for (const m of models) {
      if (m.id === corruptId) continue;
      // within the work budget: MADE on MNIST takes one sample (784 passes) a request
      const body = { n: Math.min(64, Math.floor(MAX_WORK_UNITS / sampleWork(m, 1))), seed: 2024, temperature: 0.9 };
      const [a, b] = [await call('node', `/v1/models/${m.id}/sample`, body), await call('workerd', `/v1/models/${m.id}/sample`, body)];
      close(a.samples, b.samples, `${m.id} sample`, sampleTolerance(JSON.parse(readFileSync(join(dir, m.id, 'manifest.json'), 'utf8')) as Manifest));
      if (m.classes) {
        // a label per row, by id
        const labelled = { ...body, label: Array.from({ length: body.n }, (_, i) => i % m.classes!.names.length) };
        const [c, d] = [await call('node', `/v1/models/${m.id}/sample`, labelled), await call('workerd', `/v1/models/${m.id}/sample`, labelled)];
        close(c.samples, d.samples, `${m.id} labelled sample`, sampleTolerance(JSON.parse(readFileSync(join(dir, m.id, 'manifest.json'), 'utf8')) as Manifest));
      }
      if (m.capabilities.includes('density')) {
        const x = a.samples.slice(0, 16);
        const d = { x, seed: 5, ...(importanceSampled(m) ? { k: 8 } : {}) };
        const [p, q] = [await call('node', `/v1/models/${m.id}/density`, d), await call('workerd', `/v1/models/${m.id}/density`, d)];
        close([p.logp], [q.logp], `${m.id} density`);
        if (m.classes) {
          const c = { x, seed: 5 };
          const [u, v] = [await call('node', `/v1/models/${m.id}/classify`, c), await call('workerd', `/v1/models/${m.id}/classify`, c)];
          close(u.posterior, v.posterior, `${m.id} classify posterior`);
          expect(v.abstain, `${m.id} classify abstain`).toEqual(u.abstain);
          expect(v.label, `${m.id} classify label`).toEqual(u.label);
        }
      }
    }
  });
});
