export { nodeRuntime } from './runtime';
export { nodeDocsFile } from './docs';
export { serveNode } from './serve';
