// The WebGPU reduction kernels against the CPU kernels, on every plan `reducePlan` picks: one thread per output
// (short rows, leading and middle axes), one workgroup per long row, and the permuted forms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuKernels } from '../src/backends/cpu/kernels.js';
import { type GpuDeviceInfo, requestGpuDevice } from '../src/backends/webgpu/device.js';
import { reduceKernels, reducePlan, SPLIT_CHUNK } from '../src/backends/webgpu/kernels/reduce.js';
import { GpuRuntime } from '../src/backends/webgpu/runtime.js';
import type { DType } from '../src/dtype.js';
import { sizeOf } from '../src/shape.js';

let info: GpuDeviceInfo | undefined;
let rt: GpuRuntime;
let kernels: ReturnType<typeof reduceKernels>;
const gpu = await requestGpuDevice().catch((e: Error) => e);
const available = !(gpu instanceof Error);
if (!available) console.warn(`WebGPU reduce tests skipped: ${gpu.message}`);

/** Deterministic values in [-1, 1) from a 32-bit LCG, with ties (rounded to 1/8) so arg order matters. */
function values(seed: number, n: number, dtype: DType): Float32Array | Int32Array {
  let s = seed >>> 0;
  const out = dtype === 'i32' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = s / 2 ** 31 - 1;
    out[i] = dtype === 'i32' ? Math.floor(v * 50) : i % 3 === 0 ? Math.round(v * 8) / 8 : v;
  }
  return out;
}

const keptShape = (shape: number[], axes: number[]) => shape.filter((_, i) => !axes.includes(i));

async function check(shape: number[], axes: number[], fn: 'sum' | 'max' | 'min', dtype: DType = 'f32') {
  const x = values(shape.length * 31 + axes.length, sizeOf(shape), dtype);
  if (dtype === 'f32' && x.length > 5 && fn !== 'sum') x[5] = Number.NaN;
  const out = { shape: keptShape(shape, axes), dtype };
  const cpu = cpuKernels.reduce([{ data: x, shape, dtype }], { fn, axes, keepDims: false }, out);
  const xb = rt.upload(x);
  const y = kernels.reduce([{ data: xb, shape, dtype }], { fn, axes, keepDims: false }, out);
  const n = sizeOf(out.shape);
  const bytes = n === 0 ? new ArrayBuffer(0) : await rt.read(y, n * 4);
  const got = dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
  rt.free(xb);
  rt.free(y);
  expect(got.length).toBe(cpu.length);
  for (let i = 0; i < n; i++) {
    const c = cpu[i] as number;
    if (fn === 'sum' && dtype === 'f32')
      expect(Math.abs((got[i] as number) - c)).toBeLessThan(1e-4 * (1 + Math.abs(c)));
    else expect(got[i]).toBe(c);
  }
}

async function checkArg(shape: number[], axis: number, fn: 'max' | 'min', nanAt: number[] = [9]) {
  const x = values(shape.length * 7 + axis, sizeOf(shape), 'f32') as Float32Array;
  for (const i of nanAt) if (i < x.length) x[i] = Number.NaN;
  const out = { shape: keptShape(shape, [axis]), dtype: 'i32' as const };
  const cpu = cpuKernels.argReduce([{ data: x, shape, dtype: 'f32' }], { fn, axis, keepDims: false }, out);
  const xb = rt.upload(x);
  const y = kernels.argReduce([{ data: xb, shape, dtype: 'f32' }], { fn, axis, keepDims: false }, out);
  const got = new Int32Array(await rt.read(y, sizeOf(out.shape) * 4));
  rt.free(xb);
  rt.free(y);
  expect([...got]).toEqual([...cpu]);
}

describe('reducePlan', () => {
  it('short rows, leading and middle axes fold one line per thread without a copy', () => {
    expect(reducePlan([4096, 4], [1])).toMatchObject({ kind: 'lines', permute: false, n: 4, inner: 1 });
    expect(reducePlan([4, 64, 512], [0])).toMatchObject({
      kind: 'lines',
      permute: false,
      n: 4,
      inner: 32768,
    });
    expect(reducePlan([4, 16, 64], [0, 1])).toMatchObject({
      kind: 'lines',
      permute: false,
      n: 64,
      inner: 64,
    });
    expect(reducePlan([3, 5, 7], [1])).toMatchObject({ kind: 'lines', permute: false, n: 5, inner: 7 });
  });
  it('long rows take a workgroup each; scattered or long leading axes with few outputs are permuted', () => {
    expect(reducePlan([8, 512], [1])).toMatchObject({ kind: 'rows', permute: false, n: 512 });
    expect(reducePlan([64, 64], [0, 1])).toMatchObject({ kind: 'rows', permute: false, n: 4096, outputs: 1 });
    expect(reducePlan([4, 3, 5], [0, 2])).toMatchObject({ kind: 'lines', permute: true, n: 20 });
    expect(reducePlan([5000, 2], [0])).toMatchObject({ kind: 'rows', permute: true, n: 5000, outputs: 2 });
  });
  it('a whole large tensor, or a few very long rows, reduce in two stages of 2048-element chunks', () => {
    expect(reducePlan([1000, 1000], [0, 1])).toMatchObject({
      kind: 'split',
      permute: false,
      n: 1e6,
      outputs: 1,
      chunks: Math.ceil(1e6 / SPLIT_CHUNK),
    });
    expect(reducePlan([3, 8300], [1])).toMatchObject({
      kind: 'split',
      permute: false,
      outputs: 3,
      chunks: 5,
    });
    expect(reducePlan([9000, 2], [0])).toMatchObject({ kind: 'split', permute: true, outputs: 2, chunks: 5 });
    expect(reducePlan([8191], [0])).toMatchObject({ kind: 'rows', chunks: 1 });
    expect(reducePlan([200, 9000], [1])).toMatchObject({ kind: 'rows' }); // enough rows to fill the device
  });
});

describe.runIf(available)('webgpu reduce kernels on every plan', () => {
  beforeAll(() => {
    info = gpu as GpuDeviceInfo;
    rt = new GpuRuntime(info.device);
    kernels = reduceKernels(rt);
  });
  afterAll(() => {
    rt?.trim();
    info?.destroy();
  });

  const cases: [number[], number[]][] = [
    [[37, 5], [1]], // short rows
    [[4, 33, 20], [0]], // leading axis (batched weight gradients)
    [[3, 5, 7], [1]], // middle axis
    [
      [4, 6, 10],
      [0, 1],
    ], // leading block
    [
      [4, 3, 5],
      [0, 2],
    ], // scattered axes, short
    [
      [3, 70, 2],
      [0, 2],
    ], // scattered axes, long
    [[6, 130], [1]], // long rows
    [[1100, 2], [0]], // long leading axis, few outputs
    [
      [5, 1, 1],
      [1, 2],
    ], // size-1 reduced axes
    [[4, 0, 3], [1]], // empty reduced extent
    [[200], [0]], // everything
    [
      [90, 100],
      [0, 1],
    ], // everything, split in two stages (5 chunks, the last one partial)
    [[3, 8300], [1]], // a few long rows, split
    [[9000, 2], [0]], // a long leading axis with few outputs: permuted, then split
  ];
  for (const [shape, axes] of cases) {
    for (const fn of ['sum', 'max', 'min'] as const) {
      if (sizeOf(axes.map((a) => shape[a] as number)) === 0 && fn !== 'sum') continue;
      it(`${fn} of [${shape}] over [${axes}]`, () => check(shape, axes, fn));
    }
  }
  it('i32 sums and maxima, short rows and leading axes, and split in two stages', async () => {
    await check([9, 6], [1], 'sum', 'i32');
    await check([9, 6, 4], [0], 'max', 'i32');
    await check([9000], [0], 'sum', 'i32');
    await check([9000], [0], 'min', 'i32');
  });
  for (const fn of ['max', 'min'] as const) {
    it(`split arg${fn}: the first NaN across chunks, then ties to the lower index across chunks`, async () => {
      await checkArg([2, 9000], 1, fn, [6000, 12000, 2500]); // row 0: NaNs at 2500 and 6000 (chunks 1 and 2); row 1: at 3000
      await checkArg([9001], 0, fn, []);
    });
  }
  for (const [shape, axis] of [
    [[40, 7], 1],
    [[6, 9, 5], 0],
    [[3, 11, 4], 1],
    [[5, 150], 1],
  ] as [number[], number][]) {
    for (const fn of ['max', 'min'] as const) {
      it(`arg${fn} of [${shape}] along ${axis} (ties to the lower index, NaN first)`, () =>
        checkArg(shape, axis, fn));
    }
  }
});
