// The conformance and gradcheck suites once more, inside real headless Chromium on WebGPU (SwiftShader adapter), the page
// served from localhost and driven by playwright-core with the system chromium (no browser download).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADLESS_WEBGPU_CHROMIUM, requireChromium } from '../src/testing/index.js';
import type { BrowserResults } from './browser/entry.js';

const available = await requireChromium('Browser WebGPU tests');

describe.runIf(available)('conformance and gradchecks in headless Chromium on WebGPU', () => {
  let server: Server;
  let url = '';

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL('./browser/entry.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      conditions: ['@switchyard/source'],
      write: false,
      logLevel: 'silent',
    });
    const js = bundle.outputFiles[0]!.text;
    const html =
      '<!doctype html><meta charset="utf-8"><title>switchyard</title><script type="module" src="/entry.js"></script>';
    server = createServer((req, res) => {
      const isJs = req.url === '/entry.js';
      res.writeHead(200, { 'content-type': isJs ? 'text/javascript' : 'text/html' });
      res.end(isJs ? js : html);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('passes every case with the page on a SwiftShader WebGPU adapter', async () => {
    const browser = await chromium.launch({
      ...HEADLESS_WEBGPU_CHROMIUM,
      args: [...HEADLESS_WEBGPU_CHROMIUM.args],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
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
