import type { AnyHostArray } from '../../dtype.js';
import { type Shape, sizeOf, stridesOf } from '../../shape.js';
import type { KernelInput, KernelOutput } from '../backend.js';
import { broadcastPlan, nextRow } from './broadcast.js';
import { outputArray } from './host-pool.js';

type In = KernelInput<AnyHostArray>;

/** Copies `src` of `shape` into a new array with axes permuted by `perm`. */
export function permute(src: AnyHostArray, shape: Shape, perm: readonly number[]): AnyHostArray {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p] as number);
  const n = src.length;
  const dst = new (src.constructor as new (n: number) => AnyHostArray)(n);
  const inStrides = stridesOf(shape);
  const strides = perm.map((p) => inStrides[p] as number);
  const counter = new Array<number>(rank).fill(0);
  const inner = rank > 0 ? (outShape[rank - 1] as number) : 1;
  const innerStride = rank > 0 ? (strides[rank - 1] as number) : 0;
  let flat = 0;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0; j < inner; j++) dst[o + j] = src[flat + j * innerStride] as number;
    for (let d = rank - 2; d >= 0; d--) {
      counter[d] = (counter[d] as number) + 1;
      flat += strides[d] as number;
      if ((counter[d] as number) < (outShape[d] as number)) break;
      flat -= (strides[d] as number) * (outShape[d] as number);
      counter[d] = 0;
    }
  }
  return dst;
}

export function transposeKernel([x]: readonly In[], { perm }: { perm: number[] }): AnyHostArray {
  return permute((x as In).data, (x as In).shape, perm);
}

/**
 * Copies a box of `size` from `src` (at `srcStart`) into `dst` (at `dstStart`). Size-1 dims are dropped and
 * neighbouring dims merged where both sides stay contiguous across them, so slicing or concatenating along
 * a leading axis is one block copy and the rest are rows copied without per-element index arithmetic.
 */
function copyBox(
  src: AnyHostArray,
  srcShape: Shape,
  srcStart: readonly number[],
  dst: AnyHostArray,
  dstShape: Shape,
  dstStart: readonly number[],
  size: Shape,
): void {
  const ss = stridesOf(srcShape);
  const ds = stridesOf(dstShape);
  let s = 0;
  let d = 0;
  for (let i = 0; i < size.length; i++) {
    s += (srcStart[i] as number) * (ss[i] as number);
    d += (dstStart[i] as number) * (ds[i] as number);
  }
  // Merged dims, innermost first: size and the element stride on each side.
  const dims: number[] = [];
  const sStr: number[] = [];
  const dStr: number[] = [];
  for (let i = size.length - 1; i >= 0; i--) {
    const n = size[i] as number;
    if (n === 1) continue;
    const k = dims.length - 1;
    const si = ss[i] as number;
    const di = ds[i] as number;
    if (
      k >= 0 &&
      si === (sStr[k] as number) * (dims[k] as number) &&
      di === (dStr[k] as number) * (dims[k] as number)
    )
      dims[k] = (dims[k] as number) * n;
    else {
      dims.push(n);
      sStr.push(si);
      dStr.push(di);
    }
  }
  if (dims.length === 0 || sStr[0] !== 1 || dStr[0] !== 1) {
    // A single element, or an innermost dim that is not contiguous (a size-1 last axis): rows of one.
    dims.unshift(1);
    sStr.unshift(1);
    dStr.unshift(1);
  }
  const len = dims[0] as number;
  const rank = dims.length;
  let rows = 1;
  for (let i = 1; i < rank; i++) rows *= dims[i] as number;
  const counter = new Int32Array(rank);
  for (let r = 0; r < rows; r++) {
    if (len >= 64) dst.set(src.subarray(s, s + len), d);
    else for (let j = 0; j < len; j++) dst[d + j] = src[s + j] as number;
    for (let i = 1; i < rank; i++) {
      const c = (counter[i] as number) + 1;
      if (c < (dims[i] as number)) {
        counter[i] = c;
        s += sStr[i] as number;
        d += dStr[i] as number;
        break;
      }
      counter[i] = 0;
      s -= (sStr[i] as number) * (c - 1);
      d -= (dStr[i] as number) * (c - 1);
    }
  }
}

export function sliceKernel(
  [x]: readonly In[],
  { begin, size }: { begin: number[]; size: number[] },
  out: KernelOutput,
): AnyHostArray {
  const t = x as In;
  const dst = outputArray(out.dtype, sizeOf(size));
  if (dst.length > 0)
    copyBox(
      t.data,
      t.shape,
      begin,
      dst,
      size,
      size.map(() => 0),
      size,
    );
  return dst;
}

export function padKernel(
  [x]: readonly In[],
  { before }: { before: number[] },
  out: KernelOutput,
): AnyHostArray {
  const t = x as In;
  const dst = outputArray(out.dtype, sizeOf(out.shape));
  if (t.data.length > 0)
    copyBox(
      t.data,
      t.shape,
      t.shape.map(() => 0),
      dst,
      out.shape,
      before,
      t.shape,
    );
  return dst;
}

export function concatKernel(
  inputs: readonly In[],
  { axis }: { axis: number },
  out: KernelOutput,
): AnyHostArray {
  const dst = outputArray(out.dtype, sizeOf(out.shape));
  let offset = 0;
  for (const t of inputs) {
    const start = out.shape.map((_, i) => (i === axis ? offset : 0));
    if (t.data.length > 0)
      copyBox(
        t.data,
        t.shape,
        t.shape.map(() => 0),
        dst,
        out.shape,
        start,
        t.shape,
      );
    offset += t.shape[axis] as number;
  }
  return dst;
}

export function broadcastToKernel([x]: readonly In[], _attrs: unknown, out: KernelOutput): AnyHostArray {
  const t = x as In;
  const n = sizeOf(out.shape);
  const dst = outputArray(out.dtype, n);
  if (n === 0) return dst;
  const plan = broadcastPlan([t.shape], out.shape);
  const { row, rows } = plan;
  const strides = plan.strides[0] as readonly number[];
  const contiguous = strides[strides.length - 1] === 1;
  const counter = new Int32Array(plan.dims.length);
  const offset = new Int32Array(1);
  for (let r = 0, o = 0; r < rows; r++, o += row) {
    const s = offset[0] as number;
    if (contiguous) dst.set(t.data.subarray(s, s + row), o);
    else dst.fill(t.data[s] as number, o, o + row);
    nextRow(plan, counter, offset);
  }
  return dst;
}
