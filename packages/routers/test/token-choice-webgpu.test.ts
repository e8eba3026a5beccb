// The token-choice routers on WebGPU (Dawn in Node; SwiftShader where there is no GPU) give the CPU's routing
// from the same parameters: the same experts and the same weights, in training (noise drawn from the
// counter-based generators, which both backends share) and in evaluation, without leaking. Runs whenever an adapter exists and prints a visible line
// when it skips; SWITCHYARD_REQUIRE_WEBGPU=1 turns a missing adapter into a failure.
import {
  type Backend,
  type DType,
  fromHost,
  Generator,
  getBackend,
  liveTensorCount,
  setBackend,
  type Tensor,
  type WebGPUBackend,
} from '@switchyard/tensor';
import { compareClose, webgpuForTests } from '@switchyard/tensor/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BalancedDebugRouter,
  DenseRouter,
  disposeRouting,
  GShardRouter,
  NoisyTopKRouter,
  type Router,
  SigmoidRouter,
  SwitchRouter,
  TopKRouter,
} from '../src/index.js';

const gpu = await webgpuForTests('routers WebGPU tests');
const available = gpu !== null;

const T = 8;
const D = 4;
const E = 8;

const routers: [string, (g: Generator) => Router][] = [
  ['TopKRouter', (g) => new TopKRouter({ dModel: D, numExperts: E, topK: 2, jitter: 0.01, generator: g })],
  [
    'TopKRouter device-limited, softmax after top-k',
    (g) =>
      new TopKRouter({
        dModel: D,
        numExperts: E,
        topK: 2,
        softmax: 'after-topk',
        groupLimit: { groups: 4, topGroups: 2 },
        generator: g,
      }),
  ],
  ['NoisyTopKRouter', (g) => new NoisyTopKRouter({ dModel: D, numExperts: E, topK: 2, generator: g })],
  ['SwitchRouter', (g) => new SwitchRouter({ dModel: D, numExperts: E, generator: g })],
  ['GShardRouter', (g) => new GShardRouter({ dModel: D, numExperts: E, generator: g })],
  [
    'SigmoidRouter group-limited',
    (g) =>
      new SigmoidRouter({
        dModel: D,
        numExperts: E,
        topK: 3,
        scale: 2.5,
        groupLimit: { groups: 4, topGroups: 2 },
        generator: g,
      }),
  ],
  ['DenseRouter', (g) => new DenseRouter({ dModel: D, numExperts: E, generator: g })],
  ['BalancedDebugRouter', () => new BalancedDebugRouter({ numExperts: E, topK: 2, dModel: D })],
];

interface HostRouting {
  experts: number[];
  weights: number[];
  logits: number[];
}

/**
 * Builds the router on `backend` from fixed seeds, loads `state` (the CPU router's parameters and buffers, so
 * both backends start from the same numbers) and routes `x` once in training and once in evaluation.
 */
async function routeOn(
  backend: Backend,
  make: (g: Generator) => Router,
  x: HostTensor,
  state: Map<string, HostTensor>,
): Promise<HostRouting[]> {
  const previous = getBackend();
  setBackend(backend);
  try {
    const router = make(new Generator(41));
    const onBackend = new Map([...state].map(([k, v]) => [k, fromHost(v.values, v.shape, v.dtype)]));
    router.loadStateDict(onBackend);
    for (const t of onBackend.values()) t.dispose();
    const x_TD = fromHost(x.values, x.shape, x.dtype);
    const before = liveTensorCount();
    const out: HostRouting[] = [];
    for (const training of [true, false]) {
      router.train(training);
      const r = router.route(x_TD);
      out.push({
        experts: Array.from(await r.expert_A.data(), Number),
        weights: Array.from(await r.weight_A.data(), Number),
        logits: Array.from(await r.logits_TE.data(), Number),
      });
      disposeRouting(r);
    }
    expect(liveTensorCount()).toBe(before);
    x_TD.dispose();
    router.dispose();
    return out;
  } finally {
    setBackend(previous);
  }
}

interface HostTensor {
  values: number[];
  shape: number[];
  dtype: DType;
}

function toHost(t: Tensor): HostTensor {
  return { values: Array.from(t.dataSync(), Number), shape: [...t.shape], dtype: t.dtype };
}

describe.runIf(available)(`token-choice routers on WebGPU (${gpu?.describe() ?? 'unavailable'})`, () => {
  const backend = gpu as WebGPUBackend;
  afterAll(() => backend.destroy());

  it('route as on the CPU from the same parameters, in training and in evaluation', async () => {
    const tight = { rtol: 1e-4, atol: 1e-5 };
    // Uniform draws (jitter, GShard's dispatch) are bit-identical across backends; normal draws (noisy
    // gating) agree to about 1e-4, since the GPU's log and sin differ in the last bits.
    const loose = { rtol: 1e-3, atol: 1e-3 };
    for (const [name, make] of routers) {
      const reference = make(new Generator(41));
      const state = new Map([...reference.stateDict()].map(([k, v]) => [k, toHost(v)]));
      reference.dispose();
      const x = toHost(new Generator(42).normal([T, D]));
      const cpu = await routeOn(getBackend(), make, x, state);
      const onGpu = await routeOn(backend, make, x, state);
      for (const mode of [0, 1]) {
        const [a, b] = [cpu[mode] as HostRouting, onGpu[mode] as HostRouting];
        const label = `${name} (${mode === 0 ? 'training' : 'evaluation'})`;
        const tol = name === 'NoisyTopKRouter' && mode === 0 ? loose : tight;
        expect(b.experts, label).toEqual(a.experts);
        const weights = compareClose(b.weights, a.weights, tol);
        expect(weights.ok, `${label} weights: ${weights.message}`).toBe(true);
        const logits = compareClose(b.logits, a.logits, tol);
        expect(logits.ok, `${label} logits: ${logits.message}`).toBe(true);
      }
    }
  });
});
