import { liveTensorCount } from '@switchyard/tensor';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Impl, Measurable } from '../src/bench-case.js';
import { type MoEMode, moeCase, scaledTokens } from '../src/moe-case.js';
import { activeMatmuls, matmulFlops } from '../src/moe-shape.js';

const SHAPE = { tokens: 128, dModel: 8, dHidden: 16, experts: 4, topK: 2, shared: 1, normalize: true };

describe('moeCase', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  for (const mode of ['fwd', 'fwdbwd'] as MoEMode[]) {
    for (const impl of ['switchyard', 'tfjs', 'ideal'] as Impl[]) {
      it(`runs ${impl} ${mode} on the CPU and frees what it made`, async () => {
        const c = moeCase({ name: 'moe-tiny', quick: true, mode, shape: SHAPE });
        const ours = liveTensorCount();
        const theirs = tf.memory().numTensors;
        const m = (await c.prepare({
          impl,
          backend: 'cpu',
          quick: false,
          softwareGpu: false,
          tf,
        })) as Measurable;
        expect(m.shape).toBe('T=16 D=8 F=16 E=4 K=2 S=1');
        expect(m.work).toBe(16);
        await m.run();
        await m.run();
        m.dispose();
        expect(liveTensorCount()).toBe(ours);
        expect(tf.memory().numTensors).toBe(theirs);
      });
    }
  }

  it('skips on a software WebGPU adapter in --quick only', async () => {
    const ctx = { impl: 'switchyard' as const, backend: 'webgpu' as const, softwareGpu: true, tf };
    const tiny = moeCase({ name: 'moe-tiny', quick: true, mode: 'fwd', shape: SHAPE });
    expect(await tiny.prepare({ ...ctx, quick: true })).toHaveProperty('skip');
    const full = await tiny.prepare({ ...ctx, quick: false });
    expect(full).not.toHaveProperty('skip');
    if (!('skip' in full)) full.dispose();
  });

  it('scales tokens per backend and keeps a floor', () => {
    const ctx = { quick: false, softwareGpu: false };
    expect(scaledTokens(4096, { ...ctx, backend: 'webgpu' })).toBe(4096);
    expect(scaledTokens(4096, { ...ctx, backend: 'cpu' })).toBe(512);
    expect(scaledTokens(4096, { ...ctx, backend: 'wasm' })).toBe(512);
    expect(scaledTokens(4096, { ...ctx, quick: true, backend: 'cpu' })).toBe(128);
    expect(scaledTokens(4096, { ...ctx, backend: 'webgpu', softwareGpu: true })).toBe(64);
    expect(scaledTokens(1024, { quick: true, softwareGpu: true, backend: 'webgpu' })).toBe(16);
    expect(scaledTokens(4096, { ...ctx, backend: 'cpu' }, true)).toBe(4096);
    expect(scaledTokens(4096, { ...ctx, quick: true, backend: 'wasm' }, true)).toBe(1024);
    expect(scaledTokens(4096, { ...ctx, backend: 'webgpu', softwareGpu: true }, true)).toBe(64);
  });

  it('with fullCpuTokens, runs the full T on the CPU and skips tfjs-backend-cpu', async () => {
    const full = moeCase({
      name: 'moe-full',
      quick: true,
      mode: 'fwd',
      shape: SHAPE,
      fullCpuTokens: { tfjsCpuSkip: 'too slow' },
    });
    const ctx = { quick: false, softwareGpu: false, backend: 'cpu', tf } as const;
    expect(await full.prepare({ ...ctx, impl: 'tfjs' })).toEqual({ skip: 'too slow' });
    const ours = (await full.prepare({ ...ctx, impl: 'switchyard' })) as Measurable;
    expect(ours.shape).toBe('T=128 D=8 F=16 E=4 K=2 S=1');
    ours.dispose();
  });

  it('counts the active FLOPs: backward adds two products per forward product', () => {
    const flops = (backward: boolean) =>
      activeMatmuls(SHAPE, backward).reduce((n, s) => n + matmulFlops(s), 0);
    const { tokens: t, dModel: d, dHidden: f, experts: e, topK: k } = SHAPE;
    const forward = 2 * t * d * e + 3 * 2 * t * k * d * f + 3 * 2 * t * d * f;
    expect(flops(false)).toBe(forward);
    expect(flops(true)).toBe(3 * forward);
  });
});
