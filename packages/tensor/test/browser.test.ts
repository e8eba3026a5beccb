// The conformance and gradcheck suites once more, inside real headless Chromium on WebGPU (SwiftShader adapter), the page
// served from localhost and driven by playwright-core with the system chromium (no browser download).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireChromium } from '../src/testing/index.js';
import type { BrowserResults } from './browser/entry.js';
import { bundle, PAGE, readPage, serve } from './browser/page.js';

const available = await requireChromium('Browser WebGPU tests');

describe.runIf(available)('conformance and gradchecks in headless Chromium on WebGPU', () => {
  let server: Awaited<ReturnType<typeof serve>> | undefined;

  beforeAll(async () => {
    server = await serve({ '/': PAGE, '/entry.js': await bundle('./entry.ts') });
  });

  afterAll(() => server?.close());

  it('passes every case with the page on a SwiftShader WebGPU adapter', async () => {
    const { value: results, errors } = await readPage<BrowserResults>(
      (server as { url: string }).url,
      '__switchyard',
      240_000,
    );
    console.log(
      `browser: ${results.passed}/${results.total} conformance and gradcheck cases passed on ${results.adapter}`,
    );
    expect(errors).toEqual([]);
    expect(results.error).toBeUndefined();
    expect(results.failures).toEqual([]);
    expect(results.total).toBeGreaterThan(650);
    expect(results.passed).toBe(results.total);
  }, 300_000);
});
