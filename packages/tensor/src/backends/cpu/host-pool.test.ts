// The reuse of freed CPU storages: what is kept, that a reused output starts at zero, the budget, and that
// results through the backend stay right when every output is a recycled array.
import { afterEach, describe, expect, it } from 'vitest';
import { getBackend, setBackend } from '../../engine.js';
import { full } from '../../ops/creation.js';
import { matmul } from '../../ops/linalg.js';
import { createCpuBackend } from './cpu-backend.js';
import {
  clearRecycled,
  outputArray,
  outputF32,
  overwrittenF32,
  recycle,
  recycledBytes,
} from './host-pool.js';

const MIB = 1 << 20;

afterEach(() => clearRecycled());

describe('host pool', () => {
  it('hands a recycled array back, zeroed, to the next output of its type and length', () => {
    const a = outputF32(MIB / 4);
    a.fill(7);
    recycle(a);
    expect(recycledBytes()).toBe(MIB);
    expect(outputArray('i32', MIB / 4) === a).toBe(false);
    expect(outputF32(MIB / 4 + 4) === a).toBe(false);
    const b = outputF32(MIB / 4);
    expect(b === a).toBe(true);
    expect(b.every((v) => v === 0)).toBe(true);
    expect(recycledBytes()).toBe(0);
  });

  it('hands a recycled array back as it was to an output its kernel overwrites, else a zeroed new one', () => {
    const a = outputF32(MIB / 4);
    a.fill(7);
    recycle(a);
    const b = overwrittenF32(MIB / 4);
    expect(b === a).toBe(true);
    expect(b[0]).toBe(7);
    const c = overwrittenF32(MIB / 4);
    expect(c === a).toBe(false);
    expect(c.every((v) => v === 0)).toBe(true);
  });

  it('leaves small arrays and 16-bit encodings to the allocator', () => {
    recycle(new Float32Array(1000));
    recycle(new Uint16Array(MIB));
    expect(recycledBytes()).toBe(0);
  });

  it('keeps at most 256 MiB, dropping the oldest first', () => {
    const length = (128 * MIB) / 4;
    const arrays: Float32Array[] = Array.from({ length: 3 }, () => new Float32Array(length));
    for (const a of arrays) recycle(a);
    expect(recycledBytes()).toBe(256 * MIB);
    const taken = [outputF32(length), outputF32(length), outputF32(length)];
    expect(taken.map((t) => arrays.indexOf(t))).toEqual([2, 1, -1]);
  });

  it('backend outputs reuse freed storages and stay correct (a GEMM overwrites its recycled output)', () => {
    const previous = getBackend();
    const backend = createCpuBackend();
    setBackend(backend);
    const n = 512;
    const a = full([n, n], 1);
    const b = full([n, n], 2);
    const first = matmul(a, b);
    const expected = first.dataSync();
    first.dispose();
    expect(backend.memory()).toMatchObject({ pooledBytes: n * n * 4 });
    for (let i = 0; i < 3; i++) {
      const again = matmul(a, b);
      expect(backend.memory()).toMatchObject({ pooledBytes: 0 });
      expect(Array.from(again.dataSync()).every((v, j) => v === expected[j])).toBe(true);
      again.dispose();
    }
    a.dispose();
    b.dispose();
    backend.destroy?.();
    expect(backend.memory().pooledBytes).toBe(0);
    setBackend(previous);
  });
});
