import type { GroupedExperts, SharedExperts } from '@switchyard/experts';
import type { TopKRouter } from '@switchyard/routers';
import { Generator, sum, type Tensor, tidy } from '@switchyard/tensor';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerTfjsWasm } from '../src/environment.js';
import type { MoEShape } from '../src/moe-shape.js';
import { switchyardMoE } from '../src/switchyard-moe.js';
import { type MoEHostWeights, TfjsMoE } from '../src/tfjs-moe.js';

const host = (t: Tensor) => Float32Array.from(t.dataSync() as Float32Array);

function hostWeights(layer: ReturnType<typeof switchyardMoE>): MoEHostWeights {
  const experts = layer.experts as GroupedExperts;
  const shared = layer.shared as SharedExperts | undefined;
  return {
    router: host((layer.router as TopKRouter).weight),
    w1: host(experts.w1),
    w3: host(experts.w3 as Tensor),
    w2: host(experts.w2),
    ...(shared
      ? { shared: { w1: host(shared.w1), w3: host(shared.w3 as Tensor), w2: host(shared.w2) } }
      : {}),
  };
}

const SHAPES: [string, MoEShape][] = [
  ['Mixtral-like', { tokens: 12, dModel: 8, dHidden: 16, experts: 4, topK: 2, shared: 0, normalize: true }],
  ['DeepSeek-like', { tokens: 10, dModel: 8, dHidden: 4, experts: 6, topK: 3, shared: 2, normalize: false }],
];

// The comparison is only fair if the TensorFlow.js composition computes the same layer as Switchyard.
describe('TfjsMoE', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await registerTfjsWasm();
  });

  for (const [name, shape] of SHAPES) {
    it.each(['cpu', 'wasm'])(
      `matches the Switchyard layer forward and backward (${name}, tfjs %s)`,
      async (backend) => {
        expect(await tf.setBackend(backend)).toBe(true);
        const generator = new Generator(3);
        const layer = switchyardMoE(shape, generator);
        const x = generator.normal([shape.tokens, shape.dModel]).requireGrad();
        const dy = generator.normal([shape.tokens, shape.dModel]);
        const y = tidy(() => {
          const out = layer.forward(x).y;
          sum(out.mul(dy)).backward();
          return out;
        });
        const router = (layer.router as TopKRouter).weight;

        const moe = new TfjsMoE(tf, shape, hostWeights(layer));
        const xTf = tf.variable(tf.tensor2d(host(x), [shape.tokens, shape.dModel]));
        const dyTf = tf.tensor2d(host(dy), [shape.tokens, shape.dModel]);
        const yTf = await moe.forward(xTf);
        expect(yTf.dataSync()).toAllClose(host(y), { atol: 1e-5, rtol: 1e-4 });
        const { value, grads } = await moe.grads(xTf, dyTf);
        expect(grads[xTf.name]?.dataSync()).toAllClose(host(x.grad as Tensor), { atol: 1e-5, rtol: 1e-4 });
        expect(grads[moe.router.name]?.dataSync()).toAllClose(host(router.grad as Tensor), {
          atol: 1e-5,
          rtol: 1e-4,
        });

        tf.dispose([yTf, value, ...Object.values(grads), xTf, dyTf]);
        moe.dispose();
        layer.zeroGrad();
        for (const t of [x, dy, y]) t.dispose();
        layer.dispose();
      },
    );
  }
});
