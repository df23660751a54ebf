import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'runs/**', '.wrangler/**'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // two cores: two test files at a time
    maxWorkers: 2,
  },
});
