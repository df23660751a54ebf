/**
 * The API reference at /docs in real Chromium (playwright-core driving
 * /usr/bin/chromium) against the Node server (edge/node/serve.ts) and the
 * Worker (wrangler dev, files from the static assets): Swagger UI renders every
 * operation of /openapi.json from files that server serves (no request leaves
 * it), and "Try it out" calls the running API: a GET and a POST with the
 * document's examples answer 200 with the documented fields.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAssets } from '../../edge/build-assets';
import { serveNode } from '../../edge/node/serve';
import { MODELS, ROOT, freePort, startWrangler, type Wrangler } from '../../edge/testing';
import { launchChromium } from './site';


let node = '';
let closeServer: () => void = () => {};
let wrangler: Wrangler | undefined;
let assets = '';
let chrome: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  const { server, port } = await serveNode({ models: MODELS, port: await freePort() });
  node = `http://127.0.0.1:${port}`;
  closeServer = () => server.close();
  assets = join(mkdtempSync(join(tmpdir(), 'edgegen-docs-assets-')), 'public');
  // the API and its docs only: no web client in these assets (build-assets warns and goes on)
  buildAssets({ web: join(assets, 'no-web-client'), models: MODELS, out: assets });
  wrangler = await startWrangler(assets);
  chrome = await launchChromium({ viewport: { width: 1200, height: 900 } });
});
afterAll(async () => {
  await chrome?.close();
  closeServer();
  await wrangler?.stop();
  if (assets) rmSync(dirname(assets), { recursive: true, force: true });
});

/** Expand an operation, press "Try it out" and "Execute"; the status and body Swagger UI shows. */
async function tryIt(page: Page, opId: string): Promise<{ status: string; body: string }> {
  const op = page.locator(`#${opId}`);
  await op.locator('.opblock-summary').first().click();
  const tryOut = op.locator('button.try-out__btn');
  if ((await tryOut.count()) && /try it out/i.test((await tryOut.textContent()) ?? '')) await tryOut.click();
  await op.locator('button.execute').click();
  const row = op.locator('.live-responses-table .response');
  await row.first().waitFor({ timeout: 30_000 });
  return {
    status: ((await row.first().locator('.response-col_status').textContent()) ?? '').trim(),
    body: (await op.locator('.live-responses-table .response-col_description pre').first().textContent()) ?? '',
  };
}

/** Open /docs on `base`, check what it renders and requests, and try two operations. */
async function checkDocs(base: string, shot: string) {
  const page = await chrome.browser.newPage();
  const requested: string[] = [];
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(`${base}/docs`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
  await page.waitForSelector('.opblock');
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
  expect(await page.locator('.opblock').count()).toBe(operations);

  const list = await tryIt(page, 'operations-default-get_v1_models');
  expect(list.status).toBe('200');
  expect(JSON.parse(list.body).models.length).toBeGreaterThan(1);

  // a POST with the document's own examples: the id example and the request body example
  const sample = await tryIt(page, 'operations-default-post_v1_models__id__sample');
  expect(sample.status).toBe('200');
  const body = JSON.parse(sample.body) as { samples: number[][]; seed: number };
  expect(body.seed).toBe(42);
  expect(body.samples.length).toBe(4);

  await page.screenshot({ path: join(ROOT, 'test-results', 'screenshots', shot) }).catch(() => {});
  expect(errors).toEqual([]);
  // no CDN: every request the page made went to this server
  expect(requested.length).toBeGreaterThan(3);
  for (const url of requested) expect(url.startsWith(base) || url.startsWith('data:'), url).toBe(true);
  expect(requested).toContain(`${base}/docs/ui/swagger-ui-bundle.js`);
  await page.close();
}

describe('/docs in Chromium', () => {
  it('on Node: renders every operation from files this server serves, and "Try it out" calls the running API', async () => {
    await checkDocs(node, 'docs-node.png');
  });
  it('on the Worker (wrangler dev, files from the static assets): the same', async () => {
    await checkDocs(wrangler!.url, 'docs-workerd.png');
  });
});
