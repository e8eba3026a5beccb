import { projectConfig } from '@switchyard/config/vitest';

// The root examples, each run by examples.test.ts on the CPU backend.
export default projectConfig('examples', { include: ['*.test.ts'], testTimeout: 60_000 });
