/**
 * Builds web/ into dist/web/ with relative URLs (base './'), so the page works
 * from any static host or sub-path. onnxruntime-web's bundled builds refer to
 * their .wasm with `new URL(..., import.meta.url)`, which Vite copies into
 * dist/web/assets/ beside the script. In dev, /models is served from the repo.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const outDir = join(root, 'dist', 'web');
/** dev server: /models/* from the repo, like the built site. */
function devFiles(): Plugin {
  return {
    name: 'edgegen-dev-files',
    apply: 'serve',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split('?')[0]);
        let file: string | null = null;
        if (path.startsWith('/models/')) file = join(root, 'models', normalize(path.slice(8)));
        if (!file || !existsSync(file) || !statSync(file).isFile()) return next();
        const type = file.endsWith('.json') ? 'application/json' : file.endsWith('.mjs') ? 'text/javascript' : file.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
        res.setHeader('content-type', type);
        createReadStream(file).pipe(res);
      });
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  publicDir: join(here, 'public'),
  plugins: [devFiles()],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    // ort's bundle is large by nature; the warning says nothing useful here
    chunkSizeWarningLimit: 2000,
  },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
});
