/**
 * Assemble dist/public, the Worker's static assets: the web client's Vite
 * build (dist/web, written by `npm run build:web`) plus models/ under
 * dist/public/models/, and Swagger UI's two files under dist/public/docs/ui/
 * for the /docs page. A missing dist/web is only a warning, so the API can be
 * built and tested without the web client.
 *   tsx edge/build-assets.ts [--web DIR] [--models DIR] [--out DIR]
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DOCS_FILES } from './docs';

function sizeOf(dir: string): { files: number; bytes: number } {
  let files = 0, bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      const s = sizeOf(p);
      files += s.files;
      bytes += s.bytes;
    } else {
      files += 1;
      bytes += statSync(p).size;
    }
  }
  return { files, bytes };
}

/** Cloudflare's per-file limit for static assets. */
export const MAX_ASSET_BYTES = 25 * 2 ** 20;

export function buildAssets(opts: { web?: string; models?: string; out?: string } = {}): string {
  const web = resolve(opts.web ?? 'dist/web');
  const models = resolve(opts.models ?? 'models');
  const out = resolve(opts.out ?? 'dist/public');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  if (existsSync(web)) {
    // Cloudflare refuses to upload (and wrangler dev to serve) any asset over 25 MiB:
    // leave such a file out, loudly, rather than make the whole Worker unservable
    cpSync(web, out, {
      recursive: true,
      filter: (src) => {
        const big = statSync(src).isFile() && statSync(src).size > MAX_ASSET_BYTES;
        if (big) console.warn(`build-assets: LEFT OUT ${src} (${(statSync(src).size / 2 ** 20).toFixed(1)} MiB > 25 MiB asset limit)`);
        return !big;
      },
    });
  } else console.warn(`build-assets: ${web} is missing (run npm run build:web); serving the API without the web client`);
  if (!existsSync(join(models, 'index.json'))) throw new Error(`build-assets: ${models}/index.json is missing`);
  // checkpoints stay behind: they are export/'s parity reference, not something
  // the API or the page reads, and they would add 16 MB to every deploy
  cpSync(models, join(out, 'models'), { recursive: true, filter: (src) => !src.endsWith('.egck') });
  // the API reference's script and stylesheet (docs.ts), from the npm package, never a CDN
  const swagger = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  mkdirSync(join(out, 'docs', 'ui'), { recursive: true });
  for (const name of Object.keys(DOCS_FILES)) cpSync(join(swagger, name), join(out, 'docs', 'ui', name));
  const s = sizeOf(out);
  console.log(`build-assets: ${out}: ${s.files} files, ${(s.bytes / 1e6).toFixed(2)} MB`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      web: { type: 'string', default: 'dist/web' },
      models: { type: 'string', default: 'models' },
      out: { type: 'string', default: 'dist/public' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) console.log('usage: tsx edge/build-assets.ts [--web DIR (dist/web)] [--models DIR (models)] [--out DIR (dist/public)]');
  else buildAssets({ web: values.web, models: values.models, out: values.out });
}
