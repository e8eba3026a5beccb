// The web page end to end in real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// WebGPU on SwiftShader): the Vite build is served locally, a short run is stepped and played, the charts
// update, and a screenshot is saved to apps/demo/test-output/web-demo.png.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { HEADLESS_WEBGPU_CHROMIUM, requireChromium } from '@switchyard/tensor/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build, type PreviewServer, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const available = await requireChromium('Web demo test');

const root = fileURLToPath(new URL('..', import.meta.url));
const configFile = fileURLToPath(new URL('../vite.config.ts', import.meta.url));
const outputs = fileURLToPath(new URL('../test-output/', import.meta.url));

let server: PreviewServer;
let browser: Browser;
let page: Page;
const errors: string[] = [];

interface Probe {
  backend: string;
  step: number;
  lossPoints: number;
  error: string | null;
  playing: boolean;
}

const probe = () => page.evaluate(() => (window as unknown as { switchyardDemo: Probe }).switchyardDemo);

beforeAll(async () => {
  if (!available) return;
  await build({ configFile, root, logLevel: 'error' });
  server = await preview({ configFile, root, preview: { port: 0, host: '127.0.0.1' }, logLevel: 'error' });
  browser = await chromium.launch({ ...HEADLESS_WEBGPU_CHROMIUM, args: [...HEADLESS_WEBGPU_CHROMIUM.args] });
  page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${msg.text()} ${msg.location().url}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => server?.httpServer.close(() => resolve()) ?? resolve());
});

describe.skipIf(!available)('the web demo in headless Chromium', () => {
  it('steps and plays a short run on WebGPU, with the charts following', async () => {
    const { port } = server.httpServer.address() as AddressInfo;
    const search =
      '?preset=switch&steps=3&batchSize=2&seqLen=16&router=top-k-softmax&topK=1&capacityFactor=1.25';
    await page.goto(`http://127.0.0.1:${port}/${search}`);
    await page.waitForFunction(
      () => (window as unknown as { switchyardDemo?: Probe }).switchyardDemo?.backend,
    );
    const start = await probe();
    expect(start.backend).toMatch(/^webgpu on /);
    expect(await page.textContent('#backend')).toMatch(/Training on WebGPU/);
    // The settings came from the URL.
    expect(await page.inputValue('select[name=preset]')).toBe('switch');
    expect(await page.inputValue('input[name=steps]')).toBe('3');

    await page.click('#step');
    await page.waitForFunction(
      () => (window as unknown as { switchyardDemo: Probe }).switchyardDemo.step === 1,
      null,
      {
        timeout: 240_000,
      },
    );
    await page.click('#play');
    await page.waitForFunction(
      () => {
        const p = (window as unknown as { switchyardDemo: Probe }).switchyardDemo;
        return p.step === 3 && !p.playing;
      },
      null,
      { timeout: 240_000, polling: 500 },
    );
    const end = await probe();
    expect(end.error).toBeNull();
    expect(end.lossPoints).toBe(3);
    expect(await page.textContent('#step-count')).toBe('3');
    expect(Number(await page.textContent('#loss'))).toBeGreaterThan(0);
    // Switch's tiny variant has two MoE layers: a load bar chart and a heatmap each, and coloured tokens.
    expect(await page.locator('#load-bars canvas').count()).toBe(2);
    expect(await page.locator('#heatmaps canvas').count()).toBe(2);
    expect(await page.locator('#tokens span').count()).toBe(16);
    expect(await page.isDisabled('#play')).toBe(true);
    mkdirSync(outputs, { recursive: true });
    await page.screenshot({ path: `${outputs}web-demo.png`, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('keeps the settings in the URL and shows a clear error for an impossible configuration', async () => {
    await page.selectOption('select[name=router]', 'switch');
    await page.fill('input[name=topK]', '3');
    await page.dispatchEvent('input[name=topK]', 'change');
    await page.waitForFunction(() => location.search.includes('topK=3'));
    expect(new URL(page.url()).searchParams.get('router')).toBe('switch');
    const p = await probe();
    expect(p.error).toMatch(/moe\.topK must be 1 for a 'switch' router, got 3/);
    expect(await page.textContent('#error')).toBe(p.error);
  });
});
