import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

// The page imports the sibling packages' TypeScript sources through the @switchyard/source condition, as the
// tests do, so it needs no prior build of the libraries.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: { conditions: ['@switchyard/source', ...defaultClientConditions] },
  build: { outDir: 'dist-web', target: 'es2022', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: { fs: { allow: [fileURLToPath(new URL('../..', import.meta.url))] } },
});
