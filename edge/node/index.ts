export { nodeRuntime } from './runtime';
export { nodeDocsFile } from './docs';
export { nodeApp, serveNode } from './serve';
