/**
 * Builds the browser library (web/lib/index.ts) in Vite's library mode as one
 * ES module, dist/lib/edgegen.js, with onnxruntime-web's two builds as chunks
 * it imports on demand and their .wasm beside them: the folder is
 * self-contained, so a page can import it from any static host without a
 * bundler. Types: `npm run build:lib` also emits dist/lib/types/ with tsc.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

/**
 * Library mode inlines every asset as a data: URL, which would put
 * onnxruntime-web's 14-17 MB wasm into the script as base64 (a third larger,
 * and never cached apart from it). `?no-inline` on the URLs onnxruntime-web
 * builds with `new URL('….wasm', import.meta.url)` keeps them files.
 */
function wasmAsFiles(): Plugin {
  return {
    name: 'edgegen-wasm-as-files',
    enforce: 'pre',
    transform(code, id) {
      if (!id.includes('onnxruntime-web')) return null;
      const out = code.replace(/new URL\((["'])([^"']+\.wasm)\1,\s*import\.meta\.url\)/g, 'new URL($1$2?no-inline$1, import.meta.url)');
      return out === code ? null : { code: out, map: null };
    },
  };
}

export default defineConfig({
  root: here,
  // relative URLs for the .wasm, resolved against the module itself wherever it is served
  base: './',
  publicDir: false,
  plugins: [wasmAsFiles()],
  build: {
    outDir: join(root, 'dist', 'lib'),
    emptyOutDir: true,
    target: 'es2022',
    lib: { entry: join(here, 'lib', 'index.ts'), formats: ['es'], fileName: 'edgegen' },
    // ort's bundles are large by nature; the warning says nothing useful here
    chunkSizeWarningLimit: 2000,
  },
});
