import type { MoEPlacement } from '@switchyard/moe';

/**
 * The simplest `MoEPlacement` selecting exactly the MoE layers of `mask`: `'all'`, then `{ firstDense }`, then
 * `{ every, offset }` (smallest period), else the explicit `{ layers }`. Deterministic, so an imported config
 * exported and imported again compares equal.
 */
export function placementFromMask(mask: readonly boolean[]): MoEPlacement {
  if (mask.length > 0 && mask.every(Boolean)) return 'all';
  const firstMoE = mask.indexOf(true);
  if (firstMoE > 0 && mask.slice(firstMoE).every(Boolean)) return { firstDense: firstMoE };
  for (let every = 2; every <= mask.length; every++) {
    for (let offset = 0; offset < every; offset++) {
      if (mask.every((isMoE, i) => isMoE === (i % every === offset))) return { every, offset };
    }
  }
  return { layers: mask.flatMap((isMoE, i) => (isMoE ? [i] : [])) };
}
