// `expect(actual).toAllClose(expected, { rtol, atol })`: elementwise |a - e| <= atol + rtol * |e|,
// with shapes compared first. Accepts Tensors (read synchronously on CPU), typed arrays and nested arrays.
import { expect } from 'vitest';

interface Closeable {
  shape: readonly number[];
  dataSync(): ArrayLike<number | boolean>;
}
type Comparable = Closeable | ArrayLike<number> | number | unknown[];

function flatten(value: Comparable): { shape: number[] | null; values: number[] } {
  if (typeof value === 'number') return { shape: [], values: [value] };
  if (value !== null && typeof value === 'object' && 'dataSync' in value && 'shape' in value) {
    return { shape: [...value.shape], values: Array.from(value.dataSync(), Number) };
  }
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    // Element by element: spreading a typed array of a few hundred thousand overflows the stack.
    else if (ArrayBuffer.isView(v)) {
      const a = v as unknown as ArrayLike<number>;
      for (let i = 0; i < a.length; i++) out.push(Number(a[i]));
    } else out.push(Number(v));
  };
  walk(value);
  return { shape: null, values: out };
}

export interface AllCloseOptions {
  rtol?: number;
  atol?: number;
}

expect.extend({
  toAllClose(received: Comparable, expected: Comparable, options: AllCloseOptions = {}) {
    const rtol = options.rtol ?? 1e-5;
    const atol = options.atol ?? 1e-6;
    const a = flatten(received);
    const e = flatten(expected);
    if (a.shape && e.shape && a.shape.join(',') !== e.shape.join(',')) {
      return {
        pass: false,
        message: () => `shapes differ: received [${a.shape}] but expected [${e.shape}]`,
      };
    }
    if (a.values.length !== e.values.length) {
      return {
        pass: false,
        message: () => `sizes differ: received ${a.values.length} values but expected ${e.values.length}`,
      };
    }
    let worst = -1;
    let worstExcess = 0;
    for (let i = 0; i < a.values.length; i++) {
      const x = a.values[i] as number;
      const y = e.values[i] as number;
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      if (x === y) continue;
      const excess = Math.abs(x - y) - (atol + rtol * Math.abs(y));
      if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
        worst = i;
        worstExcess = excess;
      }
    }
    const pass = worst < 0;
    return {
      pass,
      message: () =>
        pass
          ? `expected values not to be close (rtol ${rtol}, atol ${atol})`
          : `values differ at flat index ${worst}: received ${a.values[worst]}, expected ${e.values[worst]} ` +
            `(rtol ${rtol}, atol ${atol}; ${a.values.length} values)`,
    };
  },
});

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: must match Vitest's own declaration
  interface Matchers<T = any> {
    toAllClose(expected: Comparable, options?: AllCloseOptions): T;
  }
}
