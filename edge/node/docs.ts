/** The API reference's files on Node: read from the swagger-ui-dist package in node_modules. */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DOCS_FILES, type DocsFile } from '../docs';

let dir: string | undefined;

export async function nodeDocsFile(name: DocsFile): Promise<Uint8Array | null> {
  if (!Object.hasOwn(DOCS_FILES, name)) return null;
  dir ??= dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  return new Uint8Array(await readFile(join(dir, name)));
}
