import { projectConfig } from '@switchyard/config/vitest';

export default projectConfig('parallel', { testTimeout: 120_000 });
