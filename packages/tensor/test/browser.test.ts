// The conformance and gradcheck suites once more, inside real headless Chromium on WebGPU (SwiftShader adapter), the page
// served from localhost and driven by playwright-core with the system chromium (no browser download).
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADLESS_WEBGPU_CHROMIUM, requireChromium } from '../src/testing/index.js';
import type { BrowserResults } from './browser/entry.js';
import { bundle, PAGE, serve } from './browser/serve.js';

const available = await requireChromium('Browser WebGPU tests');

describe.runIf(available)('conformance and gradchecks in headless Chromium on WebGPU', () => {
  let server: Awaited<ReturnType<typeof serve>> | undefined;

  beforeAll(async () => {
    server = await serve({ '/': PAGE, '/entry.js': await bundle('./entry.ts') });
  });

  afterAll(() => server?.close());

  it('passes every case with the page on a SwiftShader WebGPU adapter', async () => {
    const browser = await chromium.launch({
      ...HEADLESS_WEBGPU_CHROMIUM,
      args: [...HEADLESS_WEBGPU_CHROMIUM.args],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto((server as { url: string }).url);
      await page.waitForFunction(() => '__switchyard' in globalThis, null, { timeout: 240_000 });
      const results = (await page.evaluate(
        () => (globalThis as { __switchyard?: unknown }).__switchyard,
      )) as BrowserResults;
      console.log(
        `browser: ${results.passed}/${results.total} conformance and gradcheck cases passed on ${results.adapter}`,
      );
      expect(errors).toEqual([]);
      expect(results.error).toBeUndefined();
      expect(results.failures).toEqual([]);
      expect(results.total).toBeGreaterThan(650);
      expect(results.passed).toBe(results.total);
    } finally {
      await browser.close();
    }
  }, 300_000);
});
