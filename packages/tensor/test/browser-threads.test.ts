// GEMM worker threads in headless Chromium: a cross-origin isolated page (COOP and COEP headers) refuses them
// on its main thread with UNSUPPORTED and runs them in a Web Worker, with the same bits as one thread.
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADLESS_WEBGPU_CHROMIUM, requireChromium } from '../src/testing/index.js';
import { bundle, PAGE, serve } from './browser/serve.js';
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
    const browser = await chromium.launch({
      ...HEADLESS_WEBGPU_CHROMIUM,
      args: [...HEADLESS_WEBGPU_CHROMIUM.args],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto((server as { url: string }).url);
      await page.waitForFunction(() => '__threads' in globalThis, null, { timeout: 60_000 });
      const results = (await page.evaluate(
        () => (globalThis as { __threads?: unknown }).__threads,
      )) as ThreadsResults;
      expect(errors).toEqual([]);
      expect(results.isolated).toBe(true);
      expect(results.mainThread).toMatch(/^UNSUPPORTED: .*Web Worker/);
      expect(results.worker.error).toBeUndefined();
      expect(results.worker).toMatchObject({ shared: true, ready: 1 });
      expect(results.worker.cases).toEqual([
        { name: 'rows', posted: [2], same: true },
        { name: 'columns', posted: [2], same: true },
      ]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
