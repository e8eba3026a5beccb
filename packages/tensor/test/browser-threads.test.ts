// GEMM worker threads in headless Chromium: a cross-origin isolated page (COOP and COEP headers) refuses them
// on its main thread with UNSUPPORTED and runs them in a Web Worker, with the same bits as one thread.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireChromium } from '../src/testing/index.js';
import { bundle, PAGE, readPage, serve } from './browser/page.js';
import type { ThreadsResults } from './browser/threads-page.js';

const available = await requireChromium('Browser GEMM thread tests');

describe.runIf(available)('GEMM worker threads in headless Chromium', () => {
  let server: Awaited<ReturnType<typeof serve>> | undefined;

  beforeAll(async () => {
    const files = {
      '/': PAGE,
      '/entry.js': await bundle('./threads-page.ts'),
      '/worker.js': await bundle('./threads-worker.ts'),
    };
    server = await serve(files, {
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
  });

  afterAll(() => server?.close());

  it('refuses them on the main thread and splits products in a Web Worker', async () => {
    const { value: results, errors } = await readPage<ThreadsResults>(
      (server as { url: string }).url,
      '__threads',
      60_000,
    );
    expect(errors).toEqual([]);
    expect(results.isolated).toBe(true);
    expect(results.mainThread).toMatch(/^UNSUPPORTED: .*Web Worker/);
    expect(results.worker.error).toBeUndefined();
    expect(results.worker).toMatchObject({ shared: true, ready: 1 });
    expect(results.worker.cases).toEqual([
      { name: 'rows', posted: [2], same: true },
      { name: 'columns', posted: [2], same: true },
    ]);
  }, 120_000);
});
