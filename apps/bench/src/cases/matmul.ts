import { Generator, matmul } from '@switchyard/tensor';
import type { BenchCase } from '../bench-case.js';

const SIZES = [256, 512, 1024, 2048];

/** The largest size run on a software WebGPU adapter (SwiftShader needs minutes per 2048² product). */
const SOFTWARE_GPU_MAX = { full: 1024, quick: 512 };

/** `matmul-N`: one dense f32 N×N by N×N product, in GFLOP/s (2·N³ FLOPs per run). */
export const matmulCases: BenchCase[] = SIZES.map((n) => ({
  name: `matmul-${n}`,
  unit: 'GFLOP/s',
  quick: n <= 1024,
  impls: ['switchyard', 'tfjs'],
  prepare(ctx) {
    const max = ctx.quick ? SOFTWARE_GPU_MAX.quick : SOFTWARE_GPU_MAX.full;
    if (ctx.backend === 'webgpu' && ctx.softwareGpu && n > max) {
      return { skip: `larger than ${max}² on a software adapter` };
    }
    const shape = `${n}x${n}x${n}`;
    const work = 2 * n ** 3;
    if (ctx.impl === 'tfjs') {
      const { tf } = ctx;
      const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
      const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
      return {
        shape,
        work,
        run: () => tf.matMul(a, b).dispose(),
        dispose: () => tf.dispose([a, b]),
      };
    }
    const generator = new Generator(1);
    const a = generator.normal([n, n]);
    const b = generator.normal([n, n]);
    return {
      shape,
      work,
      run: () => matmul(a, b).dispose(),
      dispose: () => {
        a.dispose();
        b.dispose();
      },
    };
  },
}));
