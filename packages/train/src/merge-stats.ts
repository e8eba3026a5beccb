import { loadFigures, type MoEStatsValues } from '@switchyard/moe';
import { SwitchyardError } from '@switchyard/tensor';

/**
 * Combines one layer's stats over the micro-batches of a step as if they were one batch: counts and
 * assignments add up, the load figures (CV, max/mean, dead experts, dropped fraction) are recomputed from the
 * summed counts and the router entropy is averaged. One micro-batch is returned as it is.
 */
export function mergeStats(list: readonly MoEStatsValues[]): MoEStatsValues {
  const [first] = list;
  if (!first) throw new SwitchyardError('INTERNAL', 'mergeStats', 'needs at least one entry');
  if (list.length === 1) return first;
  const add = (key: 'tokensPerExpert' | 'keptPerExpert') =>
    first[key].map((_, e) => list.reduce((s, v) => s + (v[key][e] ?? 0), 0));
  const tokensPerExpert = add('tokensPerExpert');
  const keptPerExpert = add('keptPerExpert');
  const assignments = list.reduce((s, v) => s + v.assignments, 0);
  return {
    tokensPerExpert,
    keptPerExpert,
    assignments,
    routerEntropy: list.reduce((s, v) => s + v.routerEntropy, 0) / list.length,
    ...loadFigures(tokensPerExpert, keptPerExpert, assignments),
  };
}
