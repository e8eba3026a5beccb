import { defineConfig } from 'vitest/config';

// One run over every package and app; each project has its own vitest.config.ts built from
// @switchyard/config/vitest. In CI a JSON report is written for .ci/run to count.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'examples', 'tooling/pack-check'],
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});
