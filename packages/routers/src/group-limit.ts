import { checkInt } from '@switchyard/nn';
// Shape letters: T tokens, E experts, G groups (devices or nodes), N experts per group, M kept groups, K top-k.
import {
  arange,
  equal,
  greater,
  noGrad,
  reshape,
  sum,
  type Tensor,
  tidy,
  topk,
  unsqueeze,
  where,
} from '@switchyard/tensor';
import { configError } from './router-checks.js';

/**
 * Device-limited (DeepSeek-V2) or group-limited (DeepSeek-V3) selection: the E experts are laid out
 * contiguously in `groups` groups of N = E / groups (expert e lives in group ⌊e / N⌋); each token first keeps
 * the `topGroups` (M) groups with the highest group score, then takes its top K experts among their M·N
 * experts only. Bounds how many devices (V2) or nodes (V3) a token's activations are sent to.
 *
 * - DeepSeek-V2 (device-limited, softmax scores): group score = the max affinity in the group
 *   (`groupScoreTopN: 1`); V2 used M = 3 of 8 devices.
 * - DeepSeek-V3 (node-limited, sigmoid scores + bias): the paper ranks a group by "the sum of the highest
 *   K/M affinities" in it; the released code (`noaux_tc`) sums the top 2, which equals K/M for V3's own
 *   configuration (K = 8, M = 4). We follow the code and default to 2 for `SigmoidRouter`
 *   (`groupScoreTopN: 2`); set `groupScoreTopN: K / M` to follow the text for other shapes. V3 used M = 4 of 8.
 */
export interface GroupLimit {
  /** Number of groups (devices or nodes), dividing numExperts. */
  groups: number;
  /** M: how many groups each token may use, in [1, groups]. */
  topGroups: number;
  /**
   * A group's score is the sum of its `groupScoreTopN` highest selection scores: 1 is the max (V2), 2 is
   * V3's released code. Default: 1 for `TopKRouter`, 2 for `SigmoidRouter`.
   */
  groupScoreTopN?: number;
}

/** Validates a group limit against E and K; returns it with every field set. */
export function resolveGroupLimit(
  router: string,
  limit: GroupLimit,
  numExperts: number,
  topK: number,
  defaultTopN: number,
): Required<GroupLimit> {
  if (limit === null || typeof limit !== 'object')
    throw configError(router, `groupLimit must be an object, got ${String(limit)}`);
  const groups = checkInt(router, 'groupLimit.groups', limit.groups);
  if (numExperts % groups !== 0)
    throw configError(router, `groupLimit.groups (${groups}) must divide numExperts (${numExperts})`);
  const perGroup = numExperts / groups;
  const topGroups = checkInt(router, 'groupLimit.topGroups', limit.topGroups);
  if (topGroups > groups)
    throw configError(router, `groupLimit.topGroups (${topGroups}) exceeds groupLimit.groups (${groups})`);
  if (topK > topGroups * perGroup) {
    throw configError(
      router,
      `topK (${topK}) exceeds the ${topGroups * perGroup} experts of groupLimit.topGroups (${topGroups}) groups of ${perGroup}`,
    );
  }
  const groupScoreTopN = checkInt(
    router,
    'groupLimit.groupScoreTopN',
    limit.groupScoreTopN ?? Math.min(defaultTopN, perGroup),
  );
  if (groupScoreTopN > perGroup) {
    throw configError(
      router,
      `groupLimit.groupScoreTopN (${groupScoreTopN}) exceeds the ${perGroup} experts per group`,
    );
  }
  return { groups, topGroups, groupScoreTopN };
}

/**
 * Indices [T, K] (i32) of the K largest entries of `key_TE` per token, restricted to the experts of the
 * `topGroups` best groups when a limit is given (ties to the lower index, groups and experts alike). Not
 * differentiable: routers gather their combine weights from the scores with these indices. Written with
 * `topk`, `sum` and `where`: the fused `routerTopK` (its `groupLimit`) selects the same experts in one kernel
 * and serves `sigmoidRouting` and `topKRouting`'s `'before-topk'` path; this one selects on any key (the
 * logits of `'after-topk'`) and is their reference.
 */
export function groupLimitedTopK(key_TE: Tensor, k: number, limit?: Required<GroupLimit>): Tensor {
  return noGrad(() =>
    tidy(() => {
      if (!limit || limit.topGroups === limit.groups) return topk(key_TE, k).indices;
      const [t, e] = key_TE.shape as [number, number];
      const n = e / limit.groups;
      const key_TGN = reshape(key_TE, [t, limit.groups, n]);
      const groupScore_TG = sum(topk(key_TGN, limit.groupScoreTopN).values, -1);
      const chosen_TM = topk(groupScore_TG, limit.topGroups).indices;
      // allowed[t, g] = g is among the M chosen groups of token t.
      const hits_TMG = equal(unsqueeze(chosen_TM, -1), arange(limit.groups));
      const allowed_TG1 = unsqueeze(greater(sum(hits_TMG, 1), 0), -1);
      const masked_TE = reshape(where(allowed_TG1, key_TGN, Number.NEGATIVE_INFINITY), [t, e]);
      return topk(masked_TE, k).indices;
    }),
  );
}
