import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import {
  type Backend,
  createCpuBackend,
  createWebGPUBackend,
  SwitchyardError,
  setBackend,
  type WebGPUBackend,
} from '@switchyard/tensor';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { WebGPUBackend as TfjsWebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { BackendId, Impl } from './bench-case.js';

/** What the WebGPU side ran on, for the machine record. */
export interface GpuInfo {
  /** Switchyard's adapter line (`WebGPUBackend.describe()`). */
  switchyard: string;
  /** The adapter tfjs-backend-webgpu got: vendor, architecture, description. */
  tfjs: string;
  /** Whether the adapter is a software rasteriser (SwiftShader): an emulator, not a speed reference. */
  software: boolean;
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
}

/** The backends of one bench run: Switchyard's and TensorFlow.js's, made current and synchronised per row. */
export interface Environment {
  /** The backends that came up, in `BACKENDS` order. */
  readonly backends: readonly BackendId[];
  /** Why a requested backend is missing (only when it was not asked for explicitly). */
  readonly notes: readonly string[];
  readonly gpu: GpuInfo | null;
  /** tfjs-backend-wasm's SIMD and multithreading, when wasm came up. */
  readonly wasm: { simd: boolean; threads: boolean } | null;
  readonly tf: typeof tf;
  /** Makes (impl, backend) current: `setBackend` for Switchyard and ideal, `tf.setBackend` for tfjs. */
  activate(impl: Impl, backend: BackendId): Promise<void>;
  /** Waits until the work queued on (impl, backend) has finished (a no-op for synchronous backends). */
  sync(impl: Impl, backend: BackendId): Promise<void>;
  /** Waits for background work the runs started (Switchyard's WebGPU matmul tile tuning); else resolves. */
  settle(impl: Impl, backend: BackendId): Promise<void>;
  /** Releases the devices (Dawn keeps Node alive until they are destroyed). */
  destroy(): void;
}

const require = createRequire(import.meta.url);

/**
 * Registers tfjs-backend-wasm (as `'wasm'`) with its .wasm binaries found in node_modules; `tf.setBackend('wasm')`
 * then loads them.
 */
export async function registerTfjsWasm(): Promise<void> {
  const tfWasm = await import('@tensorflow/tfjs-backend-wasm');
  tfWasm.setWasmPaths(
    `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`,
  );
}

/** Installs Dawn's WebGPU globals and `navigator.gpu` for tfjs-backend-webgpu, as a browser would have them. */
async function installNavigatorGpu(): Promise<GPU> {
  const dawn = await import('webgpu');
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const g = globalThis as { navigator?: object };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  }
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  return gpu;
}

function adapterLine(info: GPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown adapter';
}

/**
 * Brings up the requested backends. Switchyard's WebGPU backend comes first (it points Dawn at SwiftShader when
 * no hardware adapter exists); tfjs-backend-webgpu then gets its own device on the same kind of adapter with
 * the request tfjs-backend-webgpu itself makes. A backend that fails is an error when `strict` (it was named in
 * `--backends`), else a note. Switchyard's CPU backend computes matrix products on `threads` threads.
 */
export async function createEnvironment(
  requested: readonly BackendId[],
  strict: boolean,
  threads = 1,
): Promise<Environment> {
  tf.enableProdMode();
  const notes: string[] = [];
  const ours = new Map<BackendId, Backend>();
  const destroyers: (() => void)[] = [];
  let gpu: GpuInfo | null = null;
  let wasm: Environment['wasm'] = null;
  const unavailable = (backend: BackendId, err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (strict) {
      throw new SwitchyardError('BACKEND_UNAVAILABLE', 'bench', `--backends ${backend}: ${message}`);
    }
    notes.push(`${backend} skipped: ${message}`);
  };

  if (requested.includes('cpu')) {
    const backend = createCpuBackend({ threads });
    ours.set('cpu', backend);
    destroyers.push(() => backend.destroy?.());
  }
  if (requested.includes('wasm')) {
    try {
      await registerTfjsWasm();
      if (!(await tf.setBackend('wasm'))) throw new Error('tfjs-backend-wasm failed to initialise');
      wasm = {
        simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
        threads: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
      };
    } catch (err) {
      unavailable('wasm', err);
    }
  }
  if (requested.includes('webgpu')) {
    try {
      const backend: WebGPUBackend = await createWebGPUBackend();
      ours.set('webgpu', backend);
      destroyers.push(() => backend.destroy());
      const { WebGPUBackend: TfjsBackend } = await import('@tensorflow/tfjs-backend-webgpu');
      const adapter = await (await installNavigatorGpu()).requestAdapter({
        powerPreference: 'high-performance',
      });
      if (!adapter) throw new Error('tfjs-backend-webgpu found no adapter');
      const limits = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
          maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        },
      });
      const unregister = () => {
        if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
      };
      destroyers.push(() => {
        unregister();
        device.destroy();
      });
      unregister();
      tf.registerBackend('webgpu', () => new TfjsBackend(device, adapter.info));
      if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs-backend-webgpu failed to initialise');
      const tfjsAdapter = adapterLine(adapter.info);
      const software = /swiftshader/i.test(`${backend.info.adapter} ${tfjsAdapter}`);
      gpu = { switchyard: backend.describe(), tfjs: tfjsAdapter, software, features: backend.info.features };
    } catch (err) {
      for (const destroy of destroyers.splice(0)) destroy();
      ours.delete('webgpu');
      unavailable('webgpu', err);
    }
  }
  const backends = requested.filter((b) => (b === 'wasm' ? wasm !== null : ours.has(b)));

  const ourBackend = (backend: BackendId): Backend => {
    const b = ours.get(backend);
    if (!b) throw new SwitchyardError('INVALID_ARGUMENT', 'bench', `Switchyard has no '${backend}' backend`);
    return b;
  };
  return {
    backends,
    notes,
    gpu,
    wasm,
    tf,
    async activate(impl, backend) {
      if (impl === 'tfjs') {
        if (!(await tf.setBackend(backend))) {
          throw new SwitchyardError('BACKEND_UNAVAILABLE', 'bench', `tf.setBackend('${backend}') failed`);
        }
      } else setBackend(ourBackend(backend));
    },
    async sync(impl, backend) {
      if (backend !== 'webgpu') return;
      if (impl === 'tfjs') {
        const b = tf.backend() as TfjsWebGPUBackend;
        b.ensureCommandEncoderReady();
        b.endComputePassEncoder();
        b.submitQueue();
        await b.queue.onSubmittedWorkDone();
      } else {
        const rt = (ourBackend('webgpu') as WebGPUBackend).runtime;
        rt.flush();
        await rt.device.queue.onSubmittedWorkDone();
        rt.check();
      }
    },
    async settle(impl, backend) {
      if (impl !== 'tfjs' && backend === 'webgpu') await (ourBackend('webgpu') as WebGPUBackend).whenTuned();
    },
    destroy() {
      for (const destroy of destroyers.splice(0)) destroy();
    },
  };
}
