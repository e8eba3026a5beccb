import { SwitchyardError } from '../../errors.js';

/** Threads per workgroup of the 1-D elementwise kernels. */
export const WORKGROUP = 256;
/** u32 slots in every kernel's uniform block (`meta` in WGSL). */
export const META_SLOTS = 64;

/** One kernel launch: its pipeline, bound buffers (binding 1..n after the uniforms) and grid. */
export interface Dispatch {
  pipeline: Pipeline;
  meta: Uint32Array;
  buffers: GPUBuffer[];
  workgroups: readonly [number, number?, number?];
}

/** A compiled kernel with the bind group layout its storage bindings declare. */
export interface Pipeline {
  readonly compute: GPUComputePipeline;
  readonly layout: BindingLayout;
}

/**
 * The bind group layout of kernels with the same storage bindings (`read` or `read_write`, bindings 1..n),
 * shared by them so a bind group serves every such kernel; the uniforms (binding 0) take a dynamic offset.
 */
interface BindingLayout {
  readonly id: number;
  readonly group: GPUBindGroupLayout;
  readonly pipeline: GPUPipelineLayout;
  readonly storage: number;
}

// GPUBufferUsage and GPUMapMode values from the WebGPU spec, so this module loads where those globals are absent.
const STORAGE = 0x0080 | 0x0004 | 0x0008;
const UNIFORM = 0x0040 | 0x0008;
const MAP_READ = 0x0001 | 0x0008;
const MAP_MODE_READ = 0x0001;
const COMPUTE_STAGE = 0x4;

/** Commands are submitted after this many kernel launches... */
const FLUSH_DISPATCHES = 64;
/**
 * Bytes between two launches' uniforms in the per-submit uniform buffer: 256, the largest
 * `minUniformBufferOffsetAlignment` the WebGPU spec allows, and exactly one `meta` block.
 */
const UNIFORM_STRIDE = META_SLOTS * 4;
/** Bind groups kept for reuse before the cache starts over. */
const MAX_BIND_GROUPS = 4096;

/**
 * Commands are also submitted once buffers of this many bytes wait for a submit to return to the pool: a
 * chain of large temporaries (a weight initialiser's polynomial, say) then reuses its own buffers instead of
 * allocating one per step.
 */
const FLUSH_RELEASED_BYTES = 32 << 20;

/**
 * What every WebGPU kernel runs on: a pool of storage buffers keyed by size, a pipeline cache keyed by WGSL
 * source, and batched command submission. Buffers freed while commands that use them are still unsubmitted
 * return to the pool only at the next submit, so a reused buffer is never overwritten early.
 *
 * A launch costs little host time: the uniforms of a submit's launches go into one buffer, written once at
 * the submit, each launch binding its 256-byte block by dynamic offset; kernels with the same storage
 * bindings share a bind group layout, and bind groups are cached by layout and buffers, which a training
 * or inference loop reuses from the pool in the same roles step after step.
 */
export class GpuRuntime {
  readonly device: GPUDevice;
  readonly #pool = new Map<number, GPUBuffer[]>();
  readonly #pipelines = new Map<string, Pipeline>();
  readonly #layouts = new Map<string, BindingLayout>();
  readonly #bindGroups = new Map<string, GPUBindGroup>();
  readonly #bufferIds = new WeakMap<GPUBuffer, number>();
  #nextBufferId = 0;
  readonly #meta = new Uint32Array(FLUSH_DISPATCHES * META_SLOTS);
  readonly #offsets = Uint32Array.from({ length: FLUSH_DISPATCHES }, (_, k) => k * UNIFORM_STRIDE);
  #uniforms: GPUBuffer | null = null;
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

  /**
   * The pipeline of a kernel's WGSL (compiled on first use). Kernels build their source once per variant
   * (`memo`), so the lookup hashes nothing: the same string object keeps its hash.
   */
  pipeline(code: string): Pipeline {
    let p = this.#pipelines.get(code);
    if (!p) {
      const module = this.device.createShaderModule({ code });
      const layout = this.#layout(code);
      const compute = this.device.createComputePipeline({
        layout: layout.pipeline,
        compute: { module, entryPoint: 'main' },
      });
      p = { compute, layout };
      this.#pipelines.set(code, p);
    }
    return p;
  }

  /** The layout of the storage bindings `code` declares (`read` or `read_write`, bindings 1..n in order). */
  #layout(code: string): BindingLayout {
    const access = [...code.matchAll(/@binding\((\d+)\)\s*var<storage,\s*(read|read_write)>/g)].map(
      ([, binding, mode], k) => {
        if (Number(binding) !== k + 1)
          throw new SwitchyardError(
            'INTERNAL',
            'webgpu',
            `storage bindings must be 1..n in order: ${binding}`,
          );
        return mode === 'read' ? 'r' : 'w';
      },
    );
    const key = access.join('');
    let layout = this.#layouts.get(key);
    if (!layout) {
      const group = this.device.createBindGroupLayout({
        entries: [
          {
            binding: 0,
            visibility: COMPUTE_STAGE,
            buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: UNIFORM_STRIDE },
          },
          ...access.map((a, k) => ({
            binding: k + 1,
            visibility: COMPUTE_STAGE,
            buffer: { type: a === 'r' ? ('read-only-storage' as const) : ('storage' as const) },
          })),
        ],
      });
      const pipeline = this.device.createPipelineLayout({ bindGroupLayouts: [group] });
      layout = { id: this.#layouts.size, group, pipeline, storage: access.length };
      this.#layouts.set(key, layout);
    }
    return layout;
  }

  /** A bind group of `buffers` (bindings 1..n) and the uniform buffer, cached by layout and buffers. */
  #bindGroup(layout: BindingLayout, buffers: GPUBuffer[], uniforms: GPUBuffer): GPUBindGroup {
    if (buffers.length !== layout.storage) {
      throw new SwitchyardError(
        'INTERNAL',
        'webgpu',
        `a kernel with ${layout.storage} storage bindings was given ${buffers.length} buffers`,
      );
    }
    let key = String(layout.id);
    for (const b of buffers) {
      let id = this.#bufferIds.get(b);
      if (id === undefined) this.#bufferIds.set(b, (id = this.#nextBufferId++));
      key += `,${id}`;
    }
    let group = this.#bindGroups.get(key);
    if (!group) {
      if (this.#bindGroups.size >= MAX_BIND_GROUPS) this.#bindGroups.clear();
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: uniforms, size: UNIFORM_STRIDE } },
      ];
      for (const [i, buffer] of buffers.entries()) entries.push({ binding: i + 1, resource: { buffer } });
      group = this.device.createBindGroup({ layout: layout.group, entries });
      this.#bindGroups.set(key, group);
    }
    return group;
  }

  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  #give(buffer: GPUBuffer): void {
    if (this.#encoder) {
      this.#releaseOnSubmit.push(buffer);
      this.#releaseOnSubmitBytes += buffer.size;
      return;
    }
    const list = this.#pool.get(buffer.size);
    if (list) list.push(buffer);
    else this.#pool.set(buffer.size, [buffer]);
    this.pooledBytes += buffer.size;
  }

  /** A storage buffer for tensor data, from the pool when one of the size is there. */
  alloc(bytes: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    let b = this.#pool.get(size)?.pop();
    if (b) this.pooledBytes -= size;
    else {
      this.check();
      b = this.device.createBuffer({ size, usage: STORAGE });
    }
    this.inUseBuffers++;
    this.inUseBytes += size;
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
    this.#uniforms ??= this.device.createBuffer({ size: this.#meta.byteLength, usage: UNIFORM });
    const slot = this.#pending;
    const bindGroup = this.#bindGroup(d.pipeline.layout, d.buffers, this.#uniforms);
    this.#meta.set(d.meta, slot * META_SLOTS);
    this.#encoder ??= this.device.createCommandEncoder();
    this.#pass ??= this.#encoder.beginComputePass();
    this.#pass.setPipeline(d.pipeline.compute);
    this.#pass.setBindGroup(0, bindGroup, this.#offsets, slot, 1);
    this.#pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
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
    if (this.#pending > 0 && this.#uniforms)
      this.device.queue.writeBuffer(this.#uniforms, 0, this.#meta.buffer, 0, this.#pending * UNIFORM_STRIDE);
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

  /** Destroys pooled buffers (in-use ones belong to live tensors) and the bind groups cached. */
  trim(): void {
    this.flush();
    this.#bindGroups.clear();
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
