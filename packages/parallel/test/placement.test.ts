// Expert placements: their layouts, load-aware replication of hot experts, and the real placement feeding
// device-limited routing and the DeepSeek device- and communication-balance losses.
import { communicationBalanceLoss, deviceBalanceLoss } from '@switchyard/losses';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import { Generator, tidy } from '@switchyard/tensor';
import { expectSwitchyardError } from '@switchyard/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  contiguousPlacement,
  ExpertPlacement,
  loadAwarePlacement,
  roundRobinPlacement,
} from '../src/index.js';

const maxOverMean = (loads: number[]) =>
  Math.max(...loads) / (loads.reduce((a, b) => a + b, 0) / loads.length);

describe('placements', () => {
  it('contiguous and round-robin layouts', () => {
    expect(contiguousPlacement(8, 4).slots).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
    ]);
    expect(contiguousPlacement(8, 3).slots).toEqual([
      [0, 1],
      [2, 3, 4],
      [5, 6, 7],
    ]);
    expect(roundRobinPlacement(8, 3).slots).toEqual([
      [0, 3, 6],
      [1, 4, 7],
      [2, 5],
    ]);
    expect(roundRobinPlacement(8, 4).deviceOfExpert()).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(contiguousPlacement(8, 4).replicated).toBe(false);
  });

  it('load-aware placement replicates hot experts and balances the ranks', () => {
    const load = [900, 40, 35, 30, 500, 20, 15, 10];
    const naive = contiguousPlacement(8, 4);
    const aware = loadAwarePlacement(load, 4, { slotsPerRank: 3 });
    expect(aware.slots.every((s) => s.length <= 3)).toBe(true);
    expect(aware.hosts[0]!.length).toBeGreaterThan(1);
    expect(aware.hosts[4]!.length).toBeGreaterThan(1);
    expect(aware.hosts[7]!.length).toBe(1);
    // Every rank holds some expert's primary replica, so the losses' layout names every device.
    expect(new Set(aware.deviceOfExpert())).toEqual(new Set([0, 1, 2, 3]));
    expect(maxOverMean(aware.rankLoads(load))).toBeLessThan(1.3);
    expect(maxOverMean(naive.rankLoads(load))).toBeGreaterThan(2);
    // Deterministic, and without spare slots it only permutes the experts.
    expect(loadAwarePlacement(load, 4, { slotsPerRank: 3 }).slots).toEqual(aware.slots);
    expect(loadAwarePlacement(load, 4).replicated).toBe(false);
  });

  it('serves a replicated expert on the source rank when it holds a replica', () => {
    const p = new ExpertPlacement(4, [[0, 1], [0, 2], [3]]);
    expect(p.hostFor(0, 1)).toBe(1);
    expect(p.hostFor(0, 0)).toBe(0);
    expect(p.hostFor(0, 2)).toBe(0);
    expect(p.hostFor(3, 0)).toBe(2);
  });

  it('rejects inconsistent placements with the offending expert or rank', () => {
    expectSwitchyardError(
      () => new ExpertPlacement(4, [[0, 1], [2]]),
      'INVALID_ARGUMENT',
      /expert 3 is hosted by no rank/,
    );
    expectSwitchyardError(
      () => new ExpertPlacement(2, [[0, 1], []]),
      'INVALID_ARGUMENT',
      /rank 1 hosts no expert/,
    );
    expectSwitchyardError(() => new ExpertPlacement(2, [[0, 0, 1]]), 'INVALID_ARGUMENT', /twice/);
    expectSwitchyardError(
      () => contiguousPlacement(2, 4),
      'INVALID_ARGUMENT',
      /2 experts cannot give each of 4 ranks/,
    );
    expectSwitchyardError(() => loadAwarePlacement([1, 2], 2, { slotsPerRank: 0 }), 'INVALID_ARGUMENT');
    expectSwitchyardError(() => loadAwarePlacement([1, -2], 2), 'INVALID_ARGUMENT', /loads must be >= 0/);
  });
});

describe('the real placement in routing and losses', () => {
  const generator = new Generator(3);
  const x = generator.normal([64, 8]);

  it('device-limited routing keeps every token on at most M ranks of a contiguous placement', () => {
    const placement = contiguousPlacement(16, 4);
    const router = new TopKRouter({
      dModel: 8,
      numExperts: 16,
      topK: 4,
      groupLimit: placement.routerGroupLimit(2),
      generator,
    });
    const routing = router.route(x);
    const expert = routing.expert_A.dataSync();
    for (let t = 0; t < 64; t++) {
      const ranks = new Set(Array.from(expert.subarray(t * 4, t * 4 + 4), (e) => placement.hostFor(e, 0)));
      expect(ranks.size).toBeLessThanOrEqual(2);
    }
    disposeRouting(routing);
    expectSwitchyardError(
      () => roundRobinPlacement(16, 4).routerGroupLimit(2),
      'INVALID_CONFIG',
      /contiguous blocks/,
    );
  });

  it('device and communication balance losses see where experts really live', () => {
    const router = new TopKRouter({ dModel: 8, numExperts: 8, topK: 2, generator });
    const routing = router.route(x);
    const expert = routing.expert_A.dataSync();
    const probs = routing.probs_TE.dataSync();
    for (const placement of [
      contiguousPlacement(8, 4),
      roundRobinPlacement(8, 4),
      loadAwarePlacement([5, 1, 1, 1, 4, 1, 1, 1], 4),
    ]) {
      const device = placement.deviceOfExpert();
      // The DeepSeek-V2 formulas by hand, over the real devices.
      const f = new Array(8).fill(0);
      const sent = new Array(4).fill(0);
      for (let t = 0; t < 64; t++) {
        const pair = [expert[2 * t]!, expert[2 * t + 1]!];
        for (const e of pair) f[e] += 8 / (2 * 64);
        for (const d of new Set(pair.map((e) => device[e]!))) sent[d] += 4 / (2 * 64);
      }
      const p = new Array(8).fill(0);
      for (let t = 0; t < 64; t++) for (let e = 0; e < 8; e++) p[e] += probs[t * 8 + e]! / 64;
      let deviceLoss = 0;
      let commLoss = 0;
      for (let d = 0; d < 4; d++) {
        const members = [...device.keys()].filter((e) => device[e] === d);
        const fd = members.reduce((a, e) => a + f[e], 0) / members.length;
        const pd = members.reduce((a, e) => a + p[e], 0);
        deviceLoss += fd * pd;
        commLoss += sent[d] * pd;
      }
      const layout = { deviceOfExpert: device };
      const [dev, comm] = tidy(() => [
        deviceBalanceLoss(routing, { ...layout, coefficient: 1 }).itemSync(),
        communicationBalanceLoss(routing, { ...layout, maxDevicesPerToken: 2, coefficient: 1 }).itemSync(),
      ]);
      expect(dev).toBeCloseTo(deviceLoss, 5);
      expect(comm).toBeCloseTo(commLoss, 5);
    }
    disposeRouting(routing);
  });
});
