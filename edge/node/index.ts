export { nodeRuntime } from './runtime';
