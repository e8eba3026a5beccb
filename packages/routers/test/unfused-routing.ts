// The unfused routing paths, kept as the numerical reference for the fused `routerTopK` that `sigmoidRouting`
// and `topKRouting` run on: the selection written with separate ops (sigmoid or softmax, add, the
// group-limited top-k of `groupLimitedTopK`), the weights gathered from the scores, normalised and scaled.
// Shape letters: T tokens, D model width, E experts, K top-k.
import {
  add,
  cast,
  div,
  matmul,
  mul,
  noGrad,
  sigmoid,
  softmax,
  sum,
  type Tensor,
  takeAlongAxis,
  tidy,
} from '@switchyard/tensor';
import { type GroupLimit, groupLimitedTopK, type Routing } from '../src/index.js';
import { tokenChoiceRouting } from '../src/token-choice.js';

function chosenWeights(s_TE: Tensor, expert_TK: Tensor, normalize: boolean, scale: number): Tensor {
  let weight_TK = takeAlongAxis(s_TE, expert_TK, -1);
  if (normalize) weight_TK = div(weight_TK, sum(weight_TK, -1, true));
  return scale === 1 ? weight_TK : mul(weight_TK, scale);
}

/** `sigmoidRouting` unfused: s = sigmoid(x W), experts = group-limited TopK(s + b), weights from s. */
export function unfusedSigmoidRouting(
  x_TD: Tensor,
  w_DE: Tensor,
  bias_E: Tensor,
  options: { topK: number; normalize: boolean; scale: number; groupLimit?: Required<GroupLimit> },
): Routing {
  return tidy(() => {
    const logits_TE = matmul(cast(x_TD, 'f32'), cast(w_DE, 'f32'));
    const s_TE = sigmoid(logits_TE);
    const key_TE = noGrad(() => add(s_TE, cast(bias_E, 'f32')));
    const expert_TK = groupLimitedTopK(key_TE, options.topK, options.groupLimit);
    const weight_TK = chosenWeights(s_TE, expert_TK, options.normalize, options.scale);
    return tokenChoiceRouting({ logits_TE, probs_TE: s_TE, expert_TK, weight_TK });
  });
}

/** `topKRouting` with the softmax before the top-k, unfused: experts = group-limited TopK(softmax(x W)). */
export function unfusedTopKRouting(
  x_TD: Tensor,
  w_DE: Tensor,
  options: { topK: number; normalize: boolean; scale: number; groupLimit?: Required<GroupLimit> },
): Routing {
  return tidy(() => {
    const logits_TE = matmul(cast(x_TD, 'f32'), cast(w_DE, 'f32'));
    const probs_TE = softmax(logits_TE, -1);
    const expert_TK = groupLimitedTopK(probs_TE, options.topK, options.groupLimit);
    const weight_TK = chosenWeights(probs_TE, expert_TK, options.normalize, options.scale);
    return tokenChoiceRouting({ logits_TE, probs_TE, expert_TK, weight_TK });
  });
}
