/**
 * How the browser suites launch headless Chromium with WebGPU on SwiftShader: Debian's system `chromium` (no
 * browser download) and the flags that expose WebGPU to a localhost page. Pass it to playwright-core's
 * `chromium.launch`. `available` is false where the binary is missing; `requireChromium` turns that into a
 * visible skip, or an error under `SWITCHYARD_REQUIRE_WEBGPU=1` (CI).
 */
export const HEADLESS_WEBGPU_CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--enable-unsafe-webgpu',
    '--use-webgpu-adapter=swiftshader',
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
} as const;

/**
 * Whether the system Chromium exists (Node only; `node:fs` is imported on call, so this module stays
 * bundleable); without it prints that `what` is skipped, or throws in CI.
 */
export async function requireChromium(what: string): Promise<boolean> {
  const path = HEADLESS_WEBGPU_CHROMIUM.executablePath;
  const { existsSync } = await import('node:fs');
  if (existsSync(path)) return true;
  if (process.env.SWITCHYARD_REQUIRE_WEBGPU === '1') {
    throw new Error(`SWITCHYARD_REQUIRE_WEBGPU=1 but ${path} is missing (needed by ${what})`);
  }
  console.warn(`${what} skipped: ${path} is missing (apt-get install chromium)`);
  return false;
}
