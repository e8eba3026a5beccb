import type { AnyHostArray } from '../../dtype.js';
import { sizeOf } from '../../shape.js';
import type { KernelInput, KernelOutput } from '../backend.js';
import { outputArray } from './host-pool.js';
import { WASM_MIN, wasmVector } from './wasm-vector.js';

type In = KernelInput<AnyHostArray>;

export function gatherKernel([x, idx]: readonly In[], _attrs: unknown, out: KernelOutput): AnyHostArray {
  const tx = x as In;
  const rows = tx.shape[0] as number;
  const width = sizeOf(tx.shape.slice(1));
  const ids = (idx as In).data;
  const dst = outputArray(out.dtype, ids.length * width);
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i] as number;
    if (r < 0 || r >= rows) continue;
    dst.set(tx.data.subarray(r * width, (r + 1) * width), i * width);
  }
  return dst;
}

export function scatterAddKernel(
  [src, idx]: readonly In[],
  { rows }: { rows: number },
  out: KernelOutput,
): AnyHostArray {
  const ids = (idx as In).data;
  const width = sizeOf(out.shape.slice(1));
  const dst = outputArray(out.dtype, rows * width);
  const s = (src as In).data;
  const wasm = s.length >= WASM_MIN ? wasmVector() : null;
  if (wasm && s instanceof Float32Array && dst instanceof Float32Array && ids instanceof Int32Array) {
    if (wasm.scatterAdd(dst, s, ids, rows, width)) return dst;
  }
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i] as number;
    if (r < 0 || r >= rows) continue;
    const d0 = r * width;
    const s0 = i * width;
    for (let j = 0; j < width; j++) dst[d0 + j] = (dst[d0 + j] as number) + (s[s0 + j] as number);
  }
  return dst;
}

export function bincountKernel([x]: readonly In[], { length }: { length: number }): AnyHostArray {
  const counts = new Int32Array(length);
  const v = (x as In).data;
  for (let i = 0; i < v.length; i++) {
    const b = v[i] as number;
    if (b >= 0 && b < length) counts[b] = (counts[b] as number) + 1;
  }
  return counts;
}
