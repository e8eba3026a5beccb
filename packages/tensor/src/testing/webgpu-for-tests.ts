import {
  createWebGPUBackend,
  type WebGPUBackend,
  type WebGPUBackendOptions,
} from '../backends/webgpu/webgpu-backend.js';

/**
 * The WebGPU backend for a test file, created once at module load (top-level await; Dawn must not be started
 * inside a test body). Without an adapter it returns null and prints that `what` is skipped, so the skip is
 * visible; with `SWITCHYARD_REQUIRE_WEBGPU=1` (CI) a missing adapter throws instead, so the WebGPU suites cannot
 * silently skip. `options` go to `createWebGPUBackend`. The caller destroys the backend in `afterAll`.
 *
 * @example
 * ```ts
 * const gpu = await webgpuForTests('experts WebGPU tests');
 * describe.runIf(gpu !== null)(`experts on ${gpu?.describe() ?? 'WebGPU (unavailable)'}`, () => { ... });
 * ```
 */
export async function webgpuForTests(
  what: string,
  options: WebGPUBackendOptions = {},
): Promise<WebGPUBackend | null> {
  try {
    return await createWebGPUBackend(options);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (process.env.SWITCHYARD_REQUIRE_WEBGPU === '1') {
      throw new Error(`SWITCHYARD_REQUIRE_WEBGPU=1 but no WebGPU backend for ${what}: ${message}`);
    }
    console.warn(`${what} skipped: ${message}`);
    return null;
  }
}
