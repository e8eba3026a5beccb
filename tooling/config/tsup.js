// Shared tsup configuration: every library package builds ESM with declarations and source maps from
// src/index.ts. `node:` specifiers are kept, so browser bundlers recognise Node built-ins for what they are.
import { defineConfig } from 'tsup';

/**
 * @param {import('tsup').Options} [overrides] per-package additions (extra entries, externals)
 */
export function libraryConfig(overrides = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm'],
    target: 'es2022',
    dts: true,
    sourcemap: true,
    clean: true,
    treeshake: true,
    removeNodeProtocol: false,
    ...overrides,
  });
}
