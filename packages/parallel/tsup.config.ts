import { libraryConfig } from '@switchyard/config/tsup';

// Workers start from a plain-JS bootstrap that imports worker-main; both ship next to index.js.
export default libraryConfig({
  entry: ['src/index.ts', 'src/worker-main.ts', 'src/worker-bootstrap.js'],
  dts: { entry: 'src/index.ts' },
});
