import { projectConfig } from '@switchyard/config/vitest';

// Packs every library package, installs the tarballs in a scratch project outside the monorepo and uses them
// there as a user would. Needs the packages built (CI runs `turbo run build` first).
export default projectConfig('pack-check', {
  include: ['*.test.ts'],
  testTimeout: 180_000,
  hookTimeout: 240_000,
});
