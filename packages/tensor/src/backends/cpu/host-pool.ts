// Every CPU kernel writes a fresh output array, and the first write to a fresh multi-megabyte TypedArray
// faults in every page of it: a 32 MiB output cost 13 ms to fill the first time against 1.2 ms to refill a
// warm one (Node 20, Linux, the 2-core bench machine), which made the grouped weight gradients of a
// DeepSeek-shaped layer (64 experts x 512 x 256) spend a third of their time in page faults. Storages of at
// least MIN_BYTES that are freed are therefore kept here and handed out again to the next output of the same
// type and length, zeroed unless its kernel writes every element (`overwrittenF32`); at most MAX_BYTES are
// kept, the oldest dropped first.

import { type AnyHostArray, type DType, hostArray, hostArrayType } from '../../dtype.js';
import { forgetKept } from './packed-operands.js';

/** Arrays smaller than this are left to the allocator (they do not page-fault much, and churn more). */
const MIN_BYTES = 1 << 20;
/** The most bytes kept for reuse. */
const MAX_BYTES = 256 << 20;

const pool: AnyHostArray[] = [];
let pooledBytes = 0;

/**
 * A zero-filled array for a kernel's output (`hostArray`'s types): a freed one of the same type and length
 * when the pool has one.
 */
export function outputArray(dtype: DType, length: number): AnyHostArray {
  return takeRecycled(dtype, length)?.fill(0) ?? hostArray(dtype, length);
}

/** A zero-filled f32 array for a kernel's output; see `outputArray`. */
export function outputF32(length: number): Float32Array {
  return outputArray('f32', length) as Float32Array;
}

/**
 * An f32 array for an output its kernel writes in full: a recycled one comes back with its old values, not
 * zeroed. For the matrix products, whose outputs can dwarf their work: the grouped weight gradient of a
 * DeepSeek-shaped layer writes 64 experts x 512 x 256 floats from 48 rows an expert, and zeroing them first
 * took a seventh of its time.
 */
export function overwrittenF32(length: number): Float32Array {
  return (takeRecycled('f32', length) as Float32Array | null) ?? new Float32Array(length);
}

/** A freed array of `dtype`'s type and this length, taken out of the pool, or null. */
function takeRecycled(dtype: DType, length: number): AnyHostArray | null {
  const type = hostArrayType(dtype);
  if (length * type.BYTES_PER_ELEMENT < MIN_BYTES) return null;
  for (let i = pool.length - 1; i >= 0; i--) {
    const a = pool[i] as AnyHostArray;
    if (a.length === length && a.constructor === type) {
      pool.splice(i, 1);
      pooledBytes -= a.byteLength;
      return a;
    }
  }
  return null;
}

/**
 * Takes back an array no storage uses any more. It must not be read or written after this: the next output
 * of its type and length may be it.
 */
export function recycle(array: AnyHostArray | Uint16Array): void {
  if (array instanceof Float32Array) forgetKept(array);
  if (array instanceof Uint16Array || array.byteLength < MIN_BYTES) return;
  pool.push(array);
  pooledBytes += array.byteLength;
  while (pooledBytes > MAX_BYTES) pooledBytes -= (pool.shift() as AnyHostArray).byteLength;
}

/** Bytes held for reuse. */
export function recycledBytes(): number {
  return pooledBytes;
}

/** Drops every array held for reuse. */
export function clearRecycled(): void {
  pool.length = 0;
  pooledBytes = 0;
}
