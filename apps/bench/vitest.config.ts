import { projectConfig } from '@switchyard/config/vitest';

export default projectConfig('bench', { testTimeout: 120_000 });
