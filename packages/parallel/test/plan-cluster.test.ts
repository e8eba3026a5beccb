// planCluster: every figure of a toy layout by hand, the published DeepSeek-V3 run as a sanity check, and
// clear errors for layouts that do not tile the cluster.
import { countParameters, getPreset } from '@switchyard/presets';
import { expectSwitchyardError } from '@switchyard/tensor/testing';
import { describe, expect, it } from 'vitest';
import { type ClusterSpec, type ParallelStrategy, type PlanModel, planCluster } from '../src/index.js';

const toy: PlanModel = {
  config: {
    name: 'toy',
    dModel: 4,
    embedding: { vocabSize: 10, tied: false },
    attention: { kind: 'mha', heads: 1, headDim: 4 },
    ffn: { dHidden: 8, gated: false },
    moe: { numExperts: 4, topK: 2, expert: { dHidden: 8, gated: false }, shared: null },
    encoder: null,
    decoder: { layers: 2, moeLayers: 'all' },
  },
  parameters: {
    total: 1000,
    activeExcludingEmbedding: 300,
    breakdown: { embedding: 40, outputHead: 40, experts: 512 },
  },
};
const cluster: ClusterSpec = {
  name: 'toy',
  devices: 4,
  devicesPerNode: 2,
  memoryBytes: 1e4,
  peakFlops: 1e6,
  intraNodeBandwidth: 100,
  interNodeBandwidth: 10,
};
const strategy: ParallelStrategy = { expertParallel: 2, globalBatch: 4, microBatch: 1, seqLen: 2 };

describe('planCluster', () => {
  it('computes a toy layout by hand', () => {
    const p = planCluster(toy, cluster, strategy);
    expect([p.dataParallel, p.expertDataParallel]).toEqual([4, 2]);
    // Dense: 1000 − 512 experts = 488 on every device; experts: 512 / EP 2 = 256.
    expect(p.parametersPerDevice).toBe(744);
    expect(p.memory.weights).toBe(744 * 2);
    expect(p.memory.gradients).toBe(744 * 4);
    expect(p.memory.optimizer).toBe((488 * 12) / 4 + (256 * 12) / 2);
    // Per token: attention 15·D·L = 120; MoE 2 layers × (K·(2D + 2F·2) + 2·K·D) = 192; × 2 tokens.
    expect(p.memory.activations).toBe((120 + 192) * 2);
    // Forward per token 2·300 + L·2·S·(qk + v) = 664; training 3×; 8 tokens over 4 devices.
    expect(p.flopsPerDevice).toBe((664 * 3 * 8) / 4);
    // 2 tokens per device × 2 MoE layers × forward and backward, K·(EP−1)/EP = 1 remote copy of D·(2 + 2) bytes.
    expect(p.allToAllBytes).toEqual({ intraNode: 2 * 2 * 2 * 16, interNode: 0 });
    expect(p.gradientSyncBytes).toBe(2 * (3 / 4) * 488 * 4 + 2 * (1 / 2) * 256 * 4);
    expect(p.time.compute).toBeCloseTo(3984 / 4e5, 12);
    expect(p.time.step).toBeCloseTo(3984 / 4e5 + 128 / 100, 12);
    expect(p.fitsInMemory).toBe(true);
  });

  it('spreads expert-parallel groups across nodes over the inter-node link, less with node-limited routing', () => {
    const wide = { ...cluster, devicesPerNode: 1 };
    const p = planCluster(toy, wide, strategy);
    expect(p.allToAllBytes).toEqual({ intraNode: 0, interNode: 128 });
    const capped = planCluster(
      toy,
      { ...wide, devices: 8 },
      { ...strategy, expertParallel: 4, globalBatch: 8, nodeLimit: 1 },
    );
    // A group over 4 nodes: K·(EP − 1)/EP = 1.5 remote copies per token, capped at M·(nodes − 1)/nodes = 0.75.
    expect(capped.allToAllBytes.interNode).toBeCloseTo(2 * 2 * 2 * 16 * (3 / 4), 9);
  });

  it('estimates the published DeepSeek-V3 run within its order of magnitude', () => {
    const v3 = getPreset('deepseek-v3');
    const p = planCluster(
      { config: v3, parameters: countParameters(v3) },
      {
        name: 'H800',
        devices: 2048,
        devicesPerNode: 8,
        memoryBytes: 80e9,
        peakFlops: 989e12,
        intraNodeBandwidth: 160e9,
        interNodeBandwidth: 50e9,
      },
      {
        expertParallel: 64,
        pipelineParallel: 16,
        zero: 1,
        globalBatch: 15360,
        microBatch: 1,
        seqLen: 4096,
        bytes: { optimizer: 8, activation: 1, dispatch: 1 },
        nodeLimit: 4,
        overlapAllToAll: true,
      },
    );
    expect([p.dataParallel, p.expertDataParallel]).toEqual([128, 2]);
    // 180K H800 GPU-hours per trillion tokens (DeepSeek-V3 report, Table 1: 2664K hours for 14.8T tokens).
    expect(p.deviceHoursPerTrillionTokens / 180e3).toBeGreaterThan(0.66);
    expect(p.deviceHoursPerTrillionTokens / 180e3).toBeLessThan(1.5);
    expect(p.fitsInMemory).toBe(true);
  });

  it('rejects layouts that do not tile the cluster, naming the numbers', () => {
    expectSwitchyardError(
      () => planCluster(toy, cluster, { ...strategy, expertParallel: 3 }),
      'INVALID_CONFIG',
      /3 does not divide 4/,
    );
    expectSwitchyardError(
      () => planCluster(toy, { ...cluster, devices: 12 }, { ...strategy, expertTensorParallel: 3 }),
      'INVALID_CONFIG',
      /ETP must divide the expert hidden width: 3 does not divide 8/,
    );
    expectSwitchyardError(
      () => planCluster(toy, cluster, { ...strategy, globalBatch: 6 }),
      'INVALID_CONFIG',
      /global batch/,
    );
    expectSwitchyardError(
      () =>
        planCluster(toy, { ...cluster, devices: 32 }, { ...strategy, pipelineParallel: 4, globalBatch: 32 }),
      'INVALID_CONFIG',
      /4 pipeline stages exceed the 2 layers/,
    );
    expectSwitchyardError(
      () => planCluster(toy, { ...cluster, devices: 0 }, strategy),
      'INVALID_CONFIG',
      /devices/,
    );
  });
});
