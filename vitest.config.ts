import { defineConfig } from 'vitest/config';

/**
 * Two projects, so the everyday loop stays short:
 * - `unit` (npm run test:unit): in-process tests of core/, train/, export/
 *   and edge/ on small models; nothing starts wrangler or Chromium;
 * - `runtime` (npm run test:runtime): the files below, which start a real
 *   runtime (wrangler's workerd, Chromium through playwright-core, a child
 *   training or export CLI) or take minutes on two cores.
 * `npm test` runs both. A new test file lands in `unit` unless it is listed here.
 */
const RUNTIME = [
  // wrangler dev / wrangler deploy --dry-run
  'edge/worker/**/*.test.ts',
  // hostile input against every model, many runs (its workerd half is above)
  'edge/node/reliability.test.ts',
  // Chromium, a Vite build of the page each
  'tests/web/**/*.test.ts',
  // child processes of the training and export CLIs
  'train/tests/kill.test.ts',
  'train/tests/conv.test.ts',
  'train/tests/wasm-kernels.test.ts',
  'export/export.test.ts',
  // every shipped model against tfjs rebuilt from its checkpoint, and in
  // several runtimes for its stated tolerance: minutes
  'export/models.test.ts',
  'export/parity.test.ts',
  // MNIST-sized conditional and multi-scale models built, trained or exported
  // with tfjs and checked against their graphs: up to a minute of CPU each
  'export/graphs/*-conditional.test.ts',
  'export/graphs/msflow.test.ts',
  'train/tests/flow-conditional.test.ts',
  'train/tests/msflow.test.ts',
];

const IGNORED = ['node_modules/**', 'dist/**', 'runs/**', '.wrangler/**'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // two cores: two test files at a time, over both projects
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['**/*.test.ts'], exclude: [...IGNORED, ...RUNTIME] } },
      { extends: true, test: { name: 'runtime', include: RUNTIME, exclude: IGNORED } },
    ],
  },
});
