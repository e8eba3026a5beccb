import type { AnyHostArray, DType } from '../dtype.js';
import type { KernelPrim, PrimitiveAttrs } from '../primitives.js';
import type { Shape } from '../shape.js';

export type BackendName = 'cpu' | 'webgpu';

/** What a kernel sees of one input: its storage handle, shape and dtype. */
export interface KernelInput<H> {
  readonly data: H;
  readonly shape: Shape;
  readonly dtype: DType;
}

/** The output a kernel must produce; shape and dtype were computed and validated by the op. */
export interface KernelOutput {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** A kernel computes; it does not validate user input (ops did that). */
export type Kernel<P extends KernelPrim, H> = (
  inputs: readonly KernelInput<H>[],
  attrs: PrimitiveAttrs[P],
  out: KernelOutput,
) => H;

/** One typed table per backend: a missing kernel is a compile error. */
export type KernelTable<H> = { readonly [P in KernelPrim]: Kernel<P, H> };

export interface BackendMemory {
  /** Storage buffers currently allocated by this backend. */
  buffers: number;
  /** Bytes held by those buffers. */
  bytes: number;
  /** Bytes of freed buffers kept for reuse, where the backend keeps any (CPU: arrays of 1 MiB or more). */
  pooledBytes?: number;
  /**
   * Bytes of packed matrix operands kept for later products, where the backend keeps any (CPU: B operands
   * multiplied more than once, such as weights in an inference loop).
   */
  packedBytes?: number;
}

/** A backend stores tensors as opaque handles and runs primitives on them. */
export interface Backend<H = unknown> {
  readonly name: BackendName;
  /** Copies host values (floats as f32, whatever the storage dtype) into a new storage of `dtype`. */
  upload(values: AnyHostArray, dtype: DType): H;
  /** Reads a storage back in host format (floats as Float32Array). */
  read(handle: H, dtype: DType, size: number): Promise<AnyHostArray>;
  /** Synchronous read, only where the backend can honour it (CPU). */
  readSync?(handle: H, dtype: DType, size: number): AnyHostArray;
  /** Releases a storage. */
  free(handle: H): void;
  /** Runs one primitive. */
  run<P extends KernelPrim>(
    prim: P,
    inputs: readonly KernelInput<H>[],
    attrs: PrimitiveAttrs[P],
    out: KernelOutput,
  ): H;
  memory(): BackendMemory;
  /** A line saying what this backend runs on, e.g. the adapter name. */
  describe(): string;
  /**
   * Releases what the backend holds: a device (WebGPU: tensors on it become unusable), or the freed arrays kept
   * for reuse (CPU: tensors stay usable).
   */
  destroy?(): void;
}
