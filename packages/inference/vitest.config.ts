import { projectConfig } from '@switchyard/config/vitest';

export default projectConfig('inference', { testTimeout: 60_000 });
