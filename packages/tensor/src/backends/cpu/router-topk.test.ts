// The CPU routerTopK selection: from WASM_MIN scores (no bias, no group limit) every row is selected by the
// WebAssembly `topk` kernel; each row alone (fewer scores) takes the JavaScript selection. Both must choose the
// same experts in the same order, NaN first, ties (±0 included) to the lower index.
import { describe, expect, it } from 'vitest';
import { philoxFill } from '../../philox.js';
import type { PrimitiveAttrs } from '../../primitives.js';
import { routerTopKKernel } from './router-topk.js';
import { WASM_MIN, wasmVector } from './wasm-vector.js';

const attrs = (k: number, normalize: boolean): PrimitiveAttrs['routerTopK'] => ({
  k,
  score: 'none',
  normalize,
  bias: false,
  groups: 1,
  topGroups: 1,
  groupScoreTopN: 1,
});

function select(x: Float32Array, t: number, e: number, k: number, normalize: boolean): Float32Array {
  return routerTopKKernel([{ data: x, shape: [t, e], dtype: 'f32' }], attrs(k, normalize), {
    shape: [t, 2 * k],
    dtype: 'f32',
  }) as Float32Array;
}

/** Uniform scores with NaN, ±0, ±Infinity and repeated values sprinkled in. */
function scores(t: number, e: number, seed: number): Float32Array {
  const x = new Float32Array(t * e);
  philoxFill(x, 'uniform', seed, 0, 0, -1, 1);
  const special = [Number.NaN, -0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.5, 0.5];
  for (let i = 0; i < x.length; i += 7) x[i] = special[(i / 7) % special.length] as number;
  return x;
}

describe('cpu routerTopK selection', () => {
  it.each([
    [4096, 256, 4],
    [300, 7, 3],
    [400, 3, 3],
    [200, 64, 6],
    [1100, 1, 1],
    [40, 1000, 8],
    [64, 33, 33],
  ])('[%i, %i], k = %i: the WebAssembly rows equal the JavaScript selection row by row', (t, e, k) => {
    expect(wasmVector()).not.toBeNull();
    expect(t * e).toBeGreaterThanOrEqual(WASM_MIN);
    expect(e).toBeLessThan(WASM_MIN);
    const x = scores(t, e, t + e);
    for (const normalize of [false, true]) {
      const whole = select(x, t, e, k, normalize);
      let mismatches = 0;
      for (let r = 0; r < t; r++) {
        const one = select(x.slice(r * e, (r + 1) * e), 1, e, k, normalize);
        for (let c = 0; c < 2 * k; c++) if (!Object.is(one[c], whole[r * 2 * k + c])) mismatches++;
      }
      expect(mismatches).toBe(0);
    }
  });

  it('a row of NaN, -0 and +0 picks NaN first, then the ties by index', () => {
    const row = [0, -0, Number.NaN, 1, -0, Number.NaN, 0, 0.5];
    const x = new Float32Array(Array.from({ length: 200 }, () => row).flat());
    const out = select(x, 200, 8, 6, false);
    for (let r = 0; r < 200; r++)
      expect(Array.from(out.slice(r * 12 + 6, r * 12 + 12))).toEqual([2, 5, 3, 7, 0, 1]);
  });
});
