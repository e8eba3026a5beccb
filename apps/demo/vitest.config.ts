import { projectConfig } from '@switchyard/config/vitest';

export default projectConfig('demo', { testTimeout: 300_000, hookTimeout: 300_000 });
