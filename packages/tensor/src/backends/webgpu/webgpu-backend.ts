/// <reference types="@webgpu/types" />
import { type AnyHostArray, type DType, roundToDtype } from '../../dtype.js';
import type { Backend, BackendMemory } from '../backend.js';
import { type GpuDeviceInfo, requestGpuDevice } from './device.js';
import { SOFTWARE_TILE } from './kernels/linalg.js';
import { whenTuned } from './kernels/matmul-tuner.js';
import { webgpuKernels } from './kernels.js';
import { run } from './launch.js';
import { GpuRuntime } from './runtime.js';
import type { TileCache } from './tile-cache.js';
import { Meta, main1d, PRELUDE, storage } from './wgsl.js';

/** The WebGPU backend with the device details and a way to release it. */
export interface WebGPUBackend extends Backend<GPUBuffer> {
  readonly info: Omit<GpuDeviceInfo, 'destroy'>;
  readonly runtime: GpuRuntime;
  memory(): BackendMemory & { pooledBytes: number; pipelines: number };
  /**
   * Resolves once the matmul tile tuning started so far in this process (by any WebGPU backend; `tuneMatmul`)
   * has finished, so later products run on the tuned tiles. Tuning runs in the background on the first product of each shape class and shares the GPU
   * with the work meanwhile: benchmarks await this after their warm-up runs.
   */
  whenTuned(): Promise<void>;
  /** Frees pooled buffers and destroys the device; tensors on it become unusable. */
  destroy(): void;
}

/**
 * Rounds f32 words to f16 precision (nearest, ties to even; ±Inf from 65520 on; NaN kept) on the bits: NVIDIA's
 * shader compiler folds `unpack2x16float(pack2x16float(x))` into `x`, so the rounding must not go through them.
 * Normal f16 range: the mantissa is rounded from 23 to 10 bits (a carry moves into the exponent); below 2^-14
 * the f16 step is 2^-24, so `round(x · 2^24) · 2^-24` (`round` breaks ties to even; both scalings are exact).
 */
const ROUND_F16 = `${PRELUDE}${storage([], ['ys', 'u32'])}${main1d(`  let b = ys[i];
  let a = b & 0x7fffffffu;
  if (a > 0x7f800000u) { return; }
  if (a >= 0x477ff000u) { ys[i] = (b & 0x80000000u) | 0x7f800000u; }
  else if (a >= 0x38800000u) { ys[i] = (b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u; }
  else { ys[i] = (b & 0x80000000u) | bitcast<u32>(round(bitcast<f32>(a) * 16777216.0) * 5.9604644775390625e-8); }`)}`;
const ROUND_BF16 = `${PRELUDE}${storage([], ['ys', 'u32'])}${main1d(`  let b = ys[i];
  if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffffu) != 0u) { return; }
  ys[i] = (b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u;`)}`;

export interface WebGPUBackendOptions {
  /**
   * Time a few matmul tile configurations per (adapter, shape class) in the background on first use and
   * keep the fastest; shapes not tuned use the default tile (`SOFTWARE_TILE`, read straight from storage, on
   * software adapters; `DEFAULT_TILE`, staged through workgroup memory, on GPUs). Default: on for hardware
   * adapters, off for software ones (SwiftShader), where the tuning runs compete with the work for the CPU.
   */
  tuneMatmul?: boolean;
  /**
   * Where the tuned tiles are kept, keyed by the adapter's identity (`info.identity`) and shape class, and
   * looked up (tuning on or off): `fileTileCache(path)` in Node, `localStorageTileCache()` in browsers, or
   * your own `TileCache`. Default: an in-memory cache shared by the backends of this process.
   */
  tileCache?: TileCache;
}

/**
 * Creates the WebGPU backend: WGSL kernels for every primitive over 32-bit storage (bool as u32; f16 and bf16
 * stored as f32 rounded to their precision after every kernel), pooled buffers, cached pipelines, batched
 * submission and asynchronous reads.
 */
export async function createWebGPUBackend(options: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  const { destroy, ...info } = await requestGpuDevice();
  const rt = new GpuRuntime(info.device, info.identity);
  const kernels = webgpuKernels(rt, {
    tune: options.tuneMatmul ?? !info.software,
    ...(info.software ? { defaultTile: SOFTWARE_TILE } : {}),
    ...(options.tileCache ? { tileCache: options.tileCache } : {}),
  });
  return {
    name: 'webgpu',
    info,
    runtime: rt,
    upload(values: AnyHostArray, dtype: DType) {
      if (dtype === 'bool') return rt.upload(Uint32Array.from(values));
      if (dtype === 'f16' || dtype === 'bf16')
        return rt.upload(roundToDtype(Float32Array.from(values), dtype));
      return rt.upload(values);
    },
    async read(handle, dtype, size) {
      const bytes = await rt.read(handle, size * 4);
      if (dtype === 'i32') return new Int32Array(bytes);
      if (dtype === 'bool') return Uint8Array.from(new Uint32Array(bytes));
      return new Float32Array(bytes);
    },
    free(handle) {
      rt.free(handle);
    },
    run(prim, inputs, attrs, out) {
      const kernel = kernels[prim] as (i: typeof inputs, a: typeof attrs, o: typeof out) => GPUBuffer;
      const result = kernel(inputs, attrs, out);
      if (out.dtype === 'f16' || out.dtype === 'bf16') {
        const n = out.shape.reduce((a, b) => a * b, 1);
        run(rt, out.dtype === 'f16' ? ROUND_F16 : ROUND_BF16, new Meta(), [result], n);
      }
      return result;
    },
    memory() {
      return {
        buffers: rt.inUseBuffers,
        bytes: rt.inUseBytes,
        pooledBytes: rt.pooledBytes,
        pipelines: rt.pipelineCount,
      };
    },
    whenTuned,
    describe() {
      return `webgpu on ${info.adapter}`;
    },
    destroy() {
      rt.trim();
      destroy();
    },
  };
}
