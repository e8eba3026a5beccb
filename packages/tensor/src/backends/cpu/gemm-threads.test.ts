// GEMM worker threads: a product split by rows or by columns between the caller and a worker gives the same
// bits as on one thread, a failing worker is reported, and the backend option is validated and torn down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackend, setBackend } from '../../engine.js';
import { SwitchyardError } from '../../errors.js';
import { tensor } from '../../ops/creation.js';
import { matmul } from '../../ops/linalg.js';
import { philoxFill } from '../../philox.js';
import { createCpuBackend } from './cpu-backend.js';
import { compareSplit, randomBatch, stackedBatch } from './gemm-fixtures.js';
import { GemmThreads, threadsUnavailable } from './gemm-threads.js';
import { keptBytes } from './packed-operands.js';
import { type WasmGemm, wasmGemm } from './wasm-gemm.js';
import { sharedMaxPages, shareWasmMemory, wasmMemory } from './wasm-memory.js';
import { wasmVector } from './wasm-vector.js';

const canThread = wasmGemm() !== null && threadsUnavailable() === null;
/** The GEMM compiled against the shared memory, once the first describe has switched to it. */
let gemm: WasmGemm;

function filled(length: number, seed: number): number[] {
  const array = new Float32Array(length);
  philoxFill(array, 'uniform', seed, 0, 0, -1, 1);
  return Array.from(array);
}

describe.skipIf(!canThread)('the shared memory', () => {
  it('replaces the unshared one once: kept operands dropped, kernels recompiled, products still right', () => {
    expect(sharedMaxPages()).toBeUndefined();
    const [before, unshared] = [wasmGemm(), wasmMemory()];
    const batch = stackedBatch(
      new Float32Array(filled(64 * 256, 1)),
      new Float32Array(filled(256 * 256, 2)),
      64,
      256,
      256,
      false,
      true,
    );
    const reference = { ...batch, c: new Float32Array(batch.c.length) };
    (before as WasmGemm).run({ ...batch, c: new Float32Array(batch.c.length) });
    (before as WasmGemm).run(reference);
    expect(keptBytes()).toBeGreaterThan(0);
    expect(shareWasmMemory()).toBe(true);
    expect(sharedMaxPages()).toBe(65536);
    expect(wasmMemory()).not.toBe(unshared);
    const sharedMemory = wasmMemory();
    expect(sharedMemory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(keptBytes()).toBe(0);
    gemm = wasmGemm() as WasmGemm;
    expect(gemm).not.toBe(before);
    expect(wasmVector()).not.toBeNull();
    const shared = { ...batch, c: new Float32Array(batch.c.length) };
    gemm.run(shared);
    expect(shared.c).toEqual(reference.c);
    // Once shared, it stays the same memory.
    expect(shareWasmMemory()).toBe(true);
    expect(wasmMemory()).toBe(sharedMemory);
  });
});

describe.skipIf(!canThread)('GEMM worker threads', () => {
  let pool: GemmThreads;
  beforeAll(async () => {
    pool = new GemmThreads(2, gemm.module, wasmMemory());
    for (let i = 0; i < 200 && pool.ready() < 1; i++) await new Promise((r) => setTimeout(r, 25));
  });
  afterAll(() => pool.destroy());

  it('starts its worker in the background', () => {
    expect(pool.threads).toBe(2);
    expect(pool.ready()).toBe(1);
  });

  const shapes: [string, number, number, number, number, boolean][] = [
    ['rows (A the larger operand)', 300, 72, 200, 1, false],
    ['columns (B the larger operand)', 5, 1040, 300, 1, false],
    ['columns, B transposed', 3, 1030, 517, 1, true],
    ['many products (a grouped product)', 64, 128, 256, 12, false],
    ['rows, odd sizes, B transposed', 203, 37, 301, 2, true],
  ];
  for (const [name, m, n, k, experts, transB] of shapes) {
    it(`splits ${name} with the same bits as one thread`, () => {
      const seen = compareSplit(gemm, pool, randomBatch(m, n, k, experts, transB, m + n + k));
      expect(seen.posted.length).toBeGreaterThan(0);
      expect(seen.posted.every((p) => p === 2)).toBe(true);
      expect(Number.isNaN(seen.split[0] as number)).toBe(false);
      expect(seen.same).toBe(true);
    });
  }

  it('keeps small products on the calling thread', () => {
    const seen = compareSplit(gemm, pool, randomBatch(8, 16, 32, 1, false, 3));
    expect(seen.posted).toEqual([]);
    expect(seen.same).toBe(true);
  });

  it('reports a failure on either side instead of returning a partial product', () => {
    const fine = [0, 0, 0, 1, 1, 1, 512, 32, 32, 32, 32];
    // A's address (2 GiB) lies past the end of the memory, which these tests never grow that far: it traps.
    const trapping = [0x7fff_fff0, 0, 0, 1, 1, 1, 512, 32, 32, 32, 32];
    expect(() => pool.run((...args: number[]) => void args, [fine, trapping])).toThrow(
      expect.objectContaining({ code: 'INTERNAL', message: '[matmul] a GEMM worker thread failed' }),
    );
    // A part that throws on the calling thread is rethrown once the worker's part is done.
    expect(() =>
      pool.run(() => {
        throw new Error('boom');
      }, [fine, fine]),
    ).toThrow('boom');
    // The pool still works afterwards.
    const seen = compareSplit(gemm, pool, randomBatch(300, 72, 200, 1, false, 9));
    expect(seen.posted).toEqual([2]);
    expect(seen.same).toBe(true);
  });
});

describe('createCpuBackend({ threads })', () => {
  it.each([0, -1, 1.5, Number.NaN])('rejects threads: %s', (threads) => {
    expect(() => createCpuBackend({ threads })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('threads') }),
    );
  });

  it.skipIf(!canThread)('multiplies on two threads, and on one after destroy()', async () => {
    const backend = createCpuBackend({ threads: 2 });
    expect(backend.describe()).toContain('on 2 threads');
    const previous = getBackend();
    setBackend(backend);
    try {
      const a = tensor(filled(256 * 192, 1), { shape: [256, 192] });
      const b = tensor(filled(192 * 160, 2), { shape: [192, 160] });
      setBackend(createCpuBackend());
      const expected = matmul(
        tensor(filled(256 * 192, 1), { shape: [256, 192] }),
        tensor(filled(192 * 160, 2), { shape: [192, 160] }),
      ).dataSync();
      setBackend(backend);
      await new Promise((r) => setTimeout(r, 200));
      expect(matmul(a, b).dataSync()).toEqual(expected);
      backend.destroy?.();
      expect(matmul(a, b).dataSync()).toEqual(expected);
    } finally {
      setBackend(previous);
    }
  });

  it.skipIf(canThread)('says why threads are unavailable', () => {
    expect(() => createCpuBackend({ threads: 2 })).toThrow(SwitchyardError);
  });
});
