import { disposeRouting } from '@switchyard/routers';
import { tensor, tidy } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { disposeStats, LocalDispatcher, loadFigures, readStats, routingStats } from '../src/index.js';
import { type HandRouting, makeRouting } from './fixed-router.js';

async function statsOf(hand: HandRouting, capacityFactor?: number) {
  const x = tensor(Array.from({ length: hand.numTokens }, (_, t) => [t, t]).flat()).reshape([
    hand.numTokens,
    2,
  ]);
  const routing = makeRouting(hand);
  const dispatcher = new LocalDispatcher(capacityFactor === undefined ? {} : { capacityFactor });
  const stats = tidy(() => {
    const { routed_E, kept_E } = dispatcher.dispatch(x, routing, { training: true });
    return routingStats(routing, routed_E, kept_E);
  });
  const values = await readStats(stats);
  disposeStats(stats);
  disposeRouting(routing);
  x.dispose();
  return values;
}

describe('routing stats', () => {
  const skewed: HandRouting = {
    numTokens: 4,
    numExperts: 4,
    topK: 1,
    token: [0, 1, 2, 3],
    expert: [0, 0, 0, 1],
    weight: [1, 1, 1, 1],
  };

  it('report load, imbalance, dead experts and entropy of a skewed routing', async () => {
    const s = await statsOf(skewed);
    expect(s.tokensPerExpert).toEqual([3, 1, 0, 0]);
    expect(s.keptPerExpert).toEqual([3, 1, 0, 0]);
    expect(s.droppedFraction).toBe(0);
    expect(s.maxMeanLoad).toBeCloseTo(3, 6);
    expect(s.loadCV).toBeCloseTo(Math.sqrt(6 / 4), 6);
    expect(s.deadExperts).toBe(2);
    expect(s.routerEntropy).toBeCloseTo(Math.log(4), 5);
  });

  it('count dropped assignments under capacity', async () => {
    // C = ceil(4 / 4 * 1) = 1: expert 0 keeps one of three, expert 1 its one.
    const s = await statsOf(skewed, 1);
    expect(s.keptPerExpert).toEqual([1, 1, 0, 0]);
    expect(s.droppedFraction).toBeCloseTo(0.5, 6);
  });

  it('reach the balanced floor and the collapsed ceiling', async () => {
    const balanced = await statsOf({ ...skewed, expert: [0, 1, 2, 3] });
    expect(balanced.loadCV).toBe(0);
    expect(balanced.maxMeanLoad).toBe(1);
    expect(balanced.deadExperts).toBe(0);
    const oneHot = [1, 0, 0, 0];
    const collapsed = await statsOf({
      ...skewed,
      expert: [0, 0, 0, 0],
      probs: [oneHot, oneHot, oneHot, oneHot],
    });
    expect(collapsed.maxMeanLoad).toBe(4);
    expect(collapsed.routerEntropy).toBeCloseTo(0, 6);
    expect(collapsed.deadExperts).toBe(3);
  });

  it('count the assignments, and drop nothing from an empty batch', async () => {
    expect((await statsOf(skewed, 1)).assignments).toBe(4);
    const empty = await statsOf({ ...skewed, numTokens: 0, token: [], expert: [], weight: [] });
    expect(empty).toEqual({
      tokensPerExpert: [0, 0, 0, 0],
      keptPerExpert: [0, 0, 0, 0],
      assignments: 0,
      routerEntropy: 0,
      droppedFraction: 0,
      loadCV: 0,
      maxMeanLoad: 0,
      deadExperts: 4,
    });
  });

  it('derive the load figures on the host from the counts', () => {
    expect(loadFigures([6, 2, 0, 0], [4, 2, 0, 0], 8)).toEqual({
      droppedFraction: 0.25,
      loadCV: Math.sqrt(((6 - 2) ** 2 + 0 + 4 + 4) / 4) / 2,
      maxMeanLoad: 3,
      deadExperts: 2,
    });
  });
});
