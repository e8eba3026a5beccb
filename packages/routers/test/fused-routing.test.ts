// Fused == unfused: `sigmoidRouting` (selection bias, group limit) and the group-limited `topKRouting` run on
// the fused `routerTopK`; they choose the very experts of the unfused reference (`unfused-routing.ts`) and give
// its weights and gradients, on random gates and on gates with tied experts and tied groups, on the CPU and
// on WebGPU (SwiftShader where there is no GPU; skipped with a visible line when there is no adapter).
import {
  Generator,
  getBackend,
  liveTensorCount,
  mul,
  setBackend,
  sum,
  type Tensor,
  tensor,
  tidy,
  type WebGPUBackend,
  zeros,
} from '@switchyard/tensor';
import { compareClose, webgpuForTests } from '@switchyard/tensor/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { disposeRouting, type GroupLimit, type Routing, sigmoidRouting, topKRouting } from '../src/index.js';
import { unfusedSigmoidRouting, unfusedTopKRouting } from './unfused-routing.js';

const gpu = await webgpuForTests('fused routing WebGPU tests');

const D = 6;

interface Config {
  e: number;
  topK: number;
  groupLimit?: Required<GroupLimit>;
}

const CONFIGS: [string, Config][] = [
  [
    'V3-like: 2 of 4 groups by their top-2 sums',
    { e: 16, topK: 4, groupLimit: { groups: 4, topGroups: 2, groupScoreTopN: 2 } },
  ],
  [
    'V2-like: 1 of 4 groups by their max',
    { e: 16, topK: 3, groupLimit: { groups: 4, topGroups: 1, groupScoreTopN: 1 } },
  ],
  [
    '3 of 8 groups by whole-group sums',
    { e: 16, topK: 5, groupLimit: { groups: 8, topGroups: 3, groupScoreTopN: 2 } },
  ],
  ['one expert per group', { e: 12, topK: 3, groupLimit: { groups: 12, topGroups: 4, groupScoreTopN: 1 } }],
  ['every group kept', { e: 16, topK: 4, groupLimit: { groups: 4, topGroups: 4, groupScoreTopN: 2 } }],
  ['no group limit', { e: 16, topK: 4 }],
];

/**
 * Values [rows, E] with repeated columns: column per + 1 copies column 1 (a tie across groups), and the last
 * group copies the group before it (tied groups), where per = E / groups.
 */
async function tiedColumns(
  g: Generator,
  rows: number,
  e: number,
  groups: number,
  std: number,
): Promise<Tensor> {
  const drawn = g.normal([rows, e], 0, std);
  const v = Array.from(await drawn.data(), Number);
  drawn.dispose();
  const per = e / groups;
  for (let r = 0; r < rows; r++) {
    const at = r * e;
    v[at + per + 1] = v[at + 1] as number;
    for (let j = 0; j < per; j++) v[at + (groups - 1) * per + j] = v[at + (groups - 2) * per + j] as number;
  }
  return tensor(v, { shape: rows === 1 ? [e] : [rows, e] });
}

interface Inputs {
  x_TD: Tensor;
  w_DE: Tensor;
  bias_E: Tensor;
  probe: Tensor;
}

/** Random tokens with a tied gate and bias, or a zero gate and bias (every score tied). */
async function inputs(seed: number, t: number, config: Config, zero: boolean): Promise<Inputs> {
  const g = new Generator(seed);
  const groups = config.groupLimit?.groups ?? 4;
  return {
    x_TD: g.normal([t, D]),
    w_DE: zero ? zeros([D, config.e]) : await tiedColumns(g, D, config.e, groups, 0.5),
    bias_E: zero ? zeros([config.e]) : await tiedColumns(g, 1, config.e, groups, 0.1),
    probe: g.normal([t * config.topK]),
  };
}

interface Outcome {
  experts: number[];
  weights: number[];
  probs: number[];
  gradW: number[];
}

/** Routes, reads the assignments back, and the gradient of Σ weight · probe with respect to the gate. */
async function outcome(route: (w_DE: Tensor) => Routing, w_DE: Tensor, probe: Tensor): Promise<Outcome> {
  const w = w_DE.detach().requireGrad();
  const r = route(w);
  const out = {
    experts: Array.from(await r.expert_A.data(), Number),
    weights: Array.from(await r.weight_A.data(), Number),
    probs: Array.from(await r.probs_TE.data(), Number),
  };
  const loss = tidy(() => sum(mul(r.weight_A, probe)));
  loss.backward();
  const gradW = Array.from(await (w.grad as Tensor).data(), Number);
  for (const t of [loss, w]) t.dispose();
  disposeRouting(r);
  return { ...out, gradW };
}

/** The weights come from the same scores; the gradients take another, equally exact, order of operations. */
const TOLERANCE = {
  weights: { rtol: 1e-6, atol: 1e-7 },
  probs: { rtol: 1e-6, atol: 1e-7 },
  gradW: { rtol: 1e-4, atol: 1e-6 },
};

function expectSame(fused: Outcome, reference: Outcome, label: string): void {
  expect(fused.experts, `${label}: experts`).toEqual(reference.experts);
  for (const key of ['weights', 'probs', 'gradW'] as const) {
    const report = compareClose(fused[key], reference[key], TOLERANCE[key]);
    expect(report.ok, `${label}: ${key} ${report.message}`).toBe(true);
  }
}

/** Every config, normalised or not, scaled or not, on tied random and all-tied inputs. */
async function compareAll(t: number, configs: [string, Config][]): Promise<void> {
  const before = liveTensorCount();
  let seed = 70;
  for (const [name, config] of configs) {
    for (const zero of [false, true]) {
      for (const normalize of [true, false]) {
        const scale = normalize ? 2.5 : 1;
        const { x_TD, w_DE, bias_E, probe } = await inputs(seed++, t, config, zero);
        const options = {
          topK: config.topK,
          normalize,
          scale,
          ...(config.groupLimit ? { groupLimit: config.groupLimit } : {}),
        };
        const label = `${name}, ${zero ? 'all tied' : 'tied columns'}, normalize ${normalize}`;
        expectSame(
          await outcome((w) => sigmoidRouting(x_TD, w, bias_E, options), w_DE, probe),
          await outcome((w) => unfusedSigmoidRouting(x_TD, w, bias_E, options), w_DE, probe),
          `sigmoid ${label}`,
        );
        expectSame(
          await outcome((w) => topKRouting(x_TD, w, options), w_DE, probe),
          await outcome((w) => unfusedTopKRouting(x_TD, w, options), w_DE, probe),
          `softmax ${label}`,
        );
        for (const v of [x_TD, w_DE, bias_E, probe]) v.dispose();
      }
    }
  }
  expect(liveTensorCount()).toBe(before);
}

describe('fused routing equals the unfused reference', () => {
  it('on the CPU', async () => {
    await compareAll(24, CONFIGS);
  });

  it('selects by s + b within the kept groups, on hand-made scores with ties', () => {
    tidy(() => {
      // Zero logits: every s is 0.5. Keys s + b: groups {0,1} 1.0 1.0, {2,3} 0.75 0.75, {4,5} 1.0 1.0,
      // {6,7} 0.5 1.0. Top-2 sums 2, 1.5, 2, 1.5: groups 0 and 2, then group 1 over the tied group 3.
      const bias = tensor([0.5, 0.5, 0.25, 0.25, 0.5, 0.5, 0, 0.5]);
      const r = sigmoidRouting(zeros([1, 3]), zeros([3, 8]), bias, {
        topK: 5,
        groupLimit: { groups: 4, topGroups: 3, groupScoreTopN: 2 },
      });
      expect(Array.from(r.expert_A.dataSync())).toEqual([0, 1, 4, 5, 2]);
      expect(Array.from(r.weight_A.dataSync())).toEqual([0.2, 0.2, 0.2, 0.2, 0.2].map(Math.fround));
    });
  });
});

describe.runIf(gpu !== null)(`fused routing on ${gpu?.describe() ?? 'WebGPU (unavailable)'}`, () => {
  const backend = gpu as WebGPUBackend;
  afterAll(() => backend.destroy());

  it('equals the unfused reference on the same backend', async () => {
    const previous = getBackend();
    setBackend(backend);
    try {
      await compareAll(
        6,
        CONFIGS.filter(([name]) => name !== 'every group kept'),
      );
    } finally {
      setBackend(previous);
    }
  });
});
