// What the browser tests share: bundling a test entry, a localhost server for it, and reading what the page
// publishes on globalThis in headless Chromium (system chromium via playwright-core, SwiftShader WebGPU).
import { createServer, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { HEADLESS_WEBGPU_CHROMIUM } from '../../src/testing/index.js';

/** Bundles a test entry (relative to this folder) for the browser, source conditions on. */
export async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['@switchyard/source'],
    write: false,
    logLevel: 'silent',
  });
  return (result.outputFiles[0] as { text: string }).text;
}

/** A page loading `/entry.js` as a module. */
export const PAGE =
  '<!doctype html><meta charset="utf-8"><title>switchyard</title><script type="module" src="/entry.js"></script>';

/** Serves `files` (path -> text; `.js` as JavaScript, anything else as HTML) on 127.0.0.1. */
export async function serve(
  files: Record<string, string>,
  headers: OutgoingHttpHeaders = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const body = files[path];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': path.endsWith('.js') ? 'text/javascript' : 'text/html',
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Opens `url` in headless Chromium, waits up to `timeout` ms for the page to publish `globalThis[name]`, and
 * returns it with the errors the page threw.
 */
export async function readPage<T>(
  url: string,
  name: string,
  timeout: number,
): Promise<{ value: T; errors: string[] }> {
  const browser = await chromium.launch({
    ...HEADLESS_WEBGPU_CHROMIUM,
    args: [...HEADLESS_WEBGPU_CHROMIUM.args],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction((key) => key in globalThis, name, { timeout });
    const value = (await page.evaluate((key) => (globalThis as Record<string, unknown>)[key], name)) as T;
    return { value, errors };
  } finally {
    await browser.close();
  }
}
