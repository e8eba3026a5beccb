import { SwitchyardError } from '../../errors.js';

/** Threads per workgroup of the 1-D elementwise kernels. */
export const WORKGROUP = 256;
/** u32 slots in every kernel's uniform block (`meta` in WGSL). */
export const META_SLOTS = 64;

/** One kernel launch: its pipeline, bound buffers (binding 1..n after the uniforms) and grid. */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  meta: Uint32Array;
  buffers: GPUBuffer[];
  workgroups: readonly [number, number?, number?];
}

// GPUBufferUsage and GPUMapMode values from the WebGPU spec, so this module loads where those globals are absent.
const STORAGE = 0x0080 | 0x0004 | 0x0008;
const UNIFORM = 0x0040 | 0x0008;
const MAP_READ = 0x0001 | 0x0008;
const MAP_MODE_READ = 0x0001;

/** Commands are submitted after this many kernel launches... */
const FLUSH_DISPATCHES = 64;
/**
 * ...or once buffers of this many bytes wait for a submit to return to the pool: a chain of large temporaries
 * (a weight initialiser's polynomial, say) then reuses its own buffers instead of allocating one per step.
 */
const FLUSH_RELEASED_BYTES = 32 << 20;

/**
 * What every WebGPU kernel runs on: a buffer pool keyed by size and usage, a pipeline cache keyed by WGSL
 * source, and batched command submission. Buffers freed while commands that use them are still unsubmitted
 * return to the pool only at the next submit, so a reused buffer is never overwritten early.
 */
export class GpuRuntime {
  readonly device: GPUDevice;
  readonly #pool = new Map<string, GPUBuffer[]>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #pending = 0;
  #releaseOnSubmit: GPUBuffer[] = [];
  #releaseOnSubmitBytes = 0;
  #lost: SwitchyardError | null = null;
  #error: SwitchyardError | null = null;
  inUseBuffers = 0;
  inUseBytes = 0;
  pooledBytes = 0;

  /** Names the adapter, so per-adapter choices (the matmul tiles) can be cached across runtimes. */
  readonly adapter: string;

  constructor(device: GPUDevice, adapter = 'unknown adapter') {
    this.device = device;
    this.adapter = adapter;
    device.lost.then((info) => {
      if (info.reason !== 'destroyed') {
        this.#lost = new SwitchyardError(
          'BACKEND_UNAVAILABLE',
          'webgpu',
          `the GPU device was lost: ${info.message || info.reason}`,
        );
      }
    });
    device.addEventListener('uncapturederror', (event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      const oom = e.constructor?.name === 'GPUOutOfMemoryError';
      this.#error ??= new SwitchyardError(
        oom ? 'BACKEND_UNAVAILABLE' : 'INTERNAL',
        'webgpu',
        oom ? `out of GPU memory: ${e.message}` : `GPU error: ${e.message}`,
      );
    });
  }

  /**
   * Throws a lost device (for good), or else the first asynchronous error (out of memory, validation) seen
   * since the last check.
   */
  check(): void {
    if (this.#lost) throw this.#lost;
    const error = this.#error;
    this.#error = null;
    if (error) throw error;
  }

  pipeline(code: string): GPUComputePipeline {
    let p = this.#pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.#pipelines.set(code, p);
    }
    return p;
  }

  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  #take(bytes: number, usage: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const key = `${usage}:${size}`;
    const pooled = this.#pool.get(key)?.pop();
    if (pooled) {
      this.pooledBytes -= size;
      return pooled;
    }
    this.check();
    return this.device.createBuffer({ size, usage });
  }

  #give(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${buffer.size}`;
    if (this.#encoder) {
      this.#releaseOnSubmit.push(buffer);
      this.#releaseOnSubmitBytes += buffer.size;
      return;
    }
    const list = this.#pool.get(key);
    if (list) list.push(buffer);
    else this.#pool.set(key, [buffer]);
    this.pooledBytes += buffer.size;
  }

  /** A storage buffer for tensor data. */
  alloc(bytes: number): GPUBuffer {
    const b = this.#take(bytes, STORAGE);
    this.inUseBuffers++;
    this.inUseBytes += b.size;
    return b;
  }

  free(buffer: GPUBuffer): void {
    this.inUseBuffers--;
    this.inUseBytes -= buffer.size;
    this.#give(buffer);
  }

  upload(data: ArrayBufferView): GPUBuffer {
    const b = this.alloc(data.byteLength);
    if (data.byteLength > 0)
      this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    return b;
  }

  /** Records a kernel launch; commands are submitted in batches. */
  dispatch(d: Dispatch): void {
    this.check();
    const uniforms = this.#take(META_SLOTS * 4, UNIFORM);
    this.device.queue.writeBuffer(uniforms, 0, d.meta.buffer, d.meta.byteOffset, META_SLOTS * 4);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniforms } }];
    for (const [i, buffer] of d.buffers.entries()) entries.push({ binding: i + 1, resource: { buffer } });
    const bindGroup = this.device.createBindGroup({ layout: d.pipeline.getBindGroupLayout(0), entries });
    this.#encoder ??= this.device.createCommandEncoder();
    this.#pass ??= this.#encoder.beginComputePass();
    this.#pass.setPipeline(d.pipeline);
    this.#pass.setBindGroup(0, bindGroup);
    this.#pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
    this.#give(uniforms);
    if (++this.#pending >= FLUSH_DISPATCHES || this.#releaseOnSubmitBytes >= FLUSH_RELEASED_BYTES)
      this.flush();
  }

  /** Zero-fills a buffer (ordered with the kernels around it). */
  clear(buffer: GPUBuffer): void {
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.clearBuffer(buffer);
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  /** Submits every recorded command and returns the buffers freed meanwhile to the pool. */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    this.#pending = 0;
    const released = this.#releaseOnSubmit;
    this.#releaseOnSubmit = [];
    this.#releaseOnSubmitBytes = 0;
    for (const b of released) this.#give(b);
  }

  /** Copies `bytes` of a buffer to the host once every recorded command has run. */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.check();
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const staging = this.device.createBuffer({ size, usage: MAP_READ });
    this.#endPass();
    this.#encoder ??= this.device.createCommandEncoder();
    this.#encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(MAP_MODE_READ);
    } catch (err) {
      this.check();
      throw new SwitchyardError('BACKEND_UNAVAILABLE', 'webgpu', `reading a buffer failed: ${String(err)}`);
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    staging.destroy();
    this.check();
    return out;
  }

  /** Destroys pooled buffers (in-use ones belong to live tensors). */
  trim(): void {
    this.flush();
    for (const list of this.#pool.values()) for (const b of list) b.destroy();
    this.#pool.clear();
    this.pooledBytes = 0;
  }
}

/** Workgroup grid covering `n` threads of `WORKGROUP`, split over y past the 65535 limit. */
export function grid(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / WORKGROUP));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}
