// Shape letters: T tokens, D model width, F expert hidden width, E experts, K top-k, H shared hidden width,
// A assignments (T·K, token-major: a = t·K + k), R routed rows (the A assignments grouped by expert),
// N rows of one expert.
import type {
  NamedTensorMap,
  Rank,
  Scalar,
  Tensor,
  Tensor1D,
  Tensor2D,
  Variable,
} from '@tensorflow/tfjs-core';
import type { MoEShape } from './moe-shape.js';

type TF = typeof import('@tensorflow/tfjs-core');
type Weight = Variable<Rank.R2>;

let gradients: Promise<unknown> | null = null;

/**
 * tfjs-core alone registers no gradients; the @tensorflow/tfjs bundle imports this file for them. Imported on
 * first use: under Vitest a static side-effect import of it left the gradients unregistered.
 */
function loadGradients(): Promise<unknown> {
  gradients ??= import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  return gradients;
}

/** Host copies of a layer's weights, laid out as Switchyard stores them (used to check both agree). */
export interface MoEHostWeights {
  /** [D, E]. */
  router: Float32Array;
  /** [E, D, F]. */
  w1: Float32Array;
  /** [E, D, F], the SwiGLU gate's partner. */
  w3: Float32Array;
  /** [E, F, D]. */
  w2: Float32Array;
  /** The S shared experts as one SwiGLU MLP of width H = S·F: w1, w3 [D, H] and w2 [H, D]. */
  shared?: { w1: Float32Array; w3: Float32Array; w2: Float32Array };
}

/** How one batch's assignments are grouped by expert, decided on the host from the top-k choices. */
interface Plan {
  /** The assignment of each routed row: assignments sorted by expert (stable). */
  slot_R: Tensor1D;
  /** The routed row of each assignment (the inverse permutation). */
  row_A: Tensor1D;
  /** The experts that received rows, and how many each. */
  experts: number[];
  sizes: number[];
  /** The choices one-hot [T, K, E], to pick the kept probabilities differentiably (for gradients only). */
  choice_TKE: Tensor | null;
}

/**
 * The same MoE layer written as a competent TensorFlow.js user would, for the side-by-side comparison:
 * router matmul, softmax and `topk`; the choices read to the host (TensorFlow.js has no grouped matmul and
 * no dynamic shapes on the device); the token rows permuted into expert order with one `gather`, `split` per
 * expert, SwiGLU with three `matMul`s per expert, `concat`, and the inverse `gather` back to token order,
 * where the K outputs of a token are weighted and summed. Shared experts are one dense SwiGLU. Weights are one
 * `tf.variable` per expert matrix; gradients come from `tf.variableGrads`.
 *
 * TensorFlow.js differentiates `gather` with `unsortedSegmentSum`, which tfjs-backend-wasm does not implement,
 * so the differentiable path has no plain `gather`: the two permutations carry a `tf.customGrad` whose
 * gradient is the inverse permutation (a permutation's adjoint is a gather anyway), and the kept router
 * probabilities are picked with a one-hot [T, K, E] mask. The same code runs on tfjs-backend-cpu, -wasm and
 * -webgpu.
 */
export class TfjsMoE {
  readonly shape: MoEShape;
  readonly router: Weight;
  readonly w1: Weight[];
  readonly w3: Weight[];
  readonly w2: Weight[];
  readonly shared: { w1: Weight; w3: Weight; w2: Weight } | null;
  readonly #tf: TF;

  /**
   * @param weights the layer's weights; random normal ones (std sqrt(0.1 / fan-in), seeded) when absent.
   */
  constructor(tf: TF, shape: MoEShape, weights?: MoEHostWeights, seed = 0) {
    this.#tf = tf;
    this.shape = shape;
    const { dModel: d, dHidden: f, experts: e } = shape;
    const h = shape.shared * f;
    let nextSeed = seed;
    const param = (dims: [number, number], host?: Float32Array, offset = 0): Weight =>
      tf.tidy(() =>
        tf.variable(
          host
            ? tf.tensor2d(host.subarray(offset, offset + dims[0] * dims[1]), dims)
            : tf.randomNormal<Rank.R2>(dims, 0, Math.sqrt(0.1 / dims[0]), 'float32', nextSeed++),
        ),
      );
    this.router = param([d, e], weights?.router);
    this.w1 = [];
    this.w3 = [];
    this.w2 = [];
    for (let i = 0; i < e; i++) {
      this.w1.push(param([d, f], weights?.w1, i * d * f));
      this.w3.push(param([d, f], weights?.w3, i * d * f));
      this.w2.push(param([f, d], weights?.w2, i * f * d));
    }
    this.shared =
      h > 0
        ? {
            w1: param([d, h], weights?.shared?.w1),
            w3: param([d, h], weights?.shared?.w3),
            w2: param([h, d], weights?.shared?.w2),
          }
        : null;
  }

  /** Every weight, router first. */
  variables(): Weight[] {
    const shared = this.shared ? [this.shared.w1, this.shared.w3, this.shared.w2] : [];
    return [this.router, ...this.w1, ...this.w3, ...this.w2, ...shared];
  }

  /** x [T, D] -> y [T, D]. */
  async forward(x_TD: Tensor2D): Promise<Tensor2D> {
    const tf = this.#tf;
    const probs_TE = tf.tidy(() => tf.softmax(tf.matMul(x_TD, this.router)));
    const { values: p_TK, indices } = tf.topk(probs_TE, this.shape.topK);
    probs_TE.dispose();
    const plan = await this.#plan(indices, false);
    try {
      return tf.tidy(() =>
        this.#apply(x_TD, this.shape.normalize ? tf.div(p_TK, tf.sum(p_TK, 1, true)) : p_TK, plan),
      );
    } finally {
      p_TK.dispose();
      disposePlan(plan);
    }
  }

  /**
   * The gradients of sum(y · dy_TD) for x (a trainable variable) and every weight, keyed by variable name.
   * The routing decision (which experts) is taken first, outside the gradient function, because it is read
   * to the host; the router matmul is then recomputed inside so its weight gets its gradient.
   */
  async grads(x_TD: Weight, dy_TD: Tensor2D): Promise<{ value: Scalar; grads: NamedTensorMap }> {
    await loadGradients();
    const tf = this.#tf;
    const { tokens: t, topK: k, experts: e } = this.shape;
    const logits_TE = tf.matMul(x_TD, this.router);
    const { values, indices } = tf.topk(logits_TE, k);
    logits_TE.dispose();
    values.dispose();
    const plan = await this.#plan(indices, true);
    try {
      return tf.variableGrads(() => {
        const probs_TE = tf.softmax(tf.matMul(x_TD, this.router));
        let w_TK: Tensor = tf.sum(tf.mul(tf.reshape(probs_TE, [t, 1, e]), plan.choice_TKE as Tensor), 2);
        if (this.shape.normalize) w_TK = tf.div(w_TK, tf.sum(w_TK, 1, true));
        return tf.sum(tf.mul(this.#apply(x_TD, w_TK, plan), dy_TD));
      }, [x_TD, ...this.variables()]);
    } finally {
      disposePlan(plan);
    }
  }

  /** Frees every weight. */
  dispose(): void {
    this.#tf.dispose(this.variables());
  }

  /** Reads the top-k experts [T, K] to the host (and disposes them) and groups the assignments by expert. */
  async #plan(expert_TK: Tensor, oneHot: boolean): Promise<Plan> {
    const tf = this.#tf;
    const e = this.shape.experts;
    const expert_A = (await expert_TK.data()) as Int32Array;
    const choice_TKE = oneHot ? tf.oneHot(expert_TK as Tensor2D, e) : null;
    expert_TK.dispose();
    const counts = new Int32Array(e);
    for (const x of expert_A) counts[x] = (counts[x] as number) + 1;
    const next = new Int32Array(e);
    for (let i = 1; i < e; i++) next[i] = (next[i - 1] as number) + (counts[i - 1] as number);
    const slot_R = new Int32Array(expert_A.length);
    const row_A = new Int32Array(expert_A.length);
    for (let a = 0; a < expert_A.length; a++) {
      const x = expert_A[a] as number;
      const r = next[x] as number;
      next[x] = r + 1;
      slot_R[r] = a;
      row_A[a] = r;
    }
    const experts: number[] = [];
    for (let i = 0; i < e; i++) if ((counts[i] as number) > 0) experts.push(i);
    return {
      slot_R: tf.tensor1d(slot_R, 'int32'),
      row_A: tf.tensor1d(row_A, 'int32'),
      experts,
      sizes: experts.map((i) => counts[i] as number),
      choice_TKE,
    };
  }

  /** Rows of `x` in the order `to`, a permutation; the gradient applies the inverse permutation `from`. */
  #permute(x: Tensor2D, to: Tensor1D, from: Tensor1D): Tensor2D {
    const tf = this.#tf;
    return tf.customGrad((input) => ({
      value: tf.gather(input as Tensor, to),
      gradFunc: (dy: Tensor) => tf.gather(dy, from),
    }))(x) as Tensor2D;
  }

  /** The routed experts on their rows, the K outputs of each token weighted by `w_TK` and summed, + shared. */
  #apply(x_TD: Tensor2D, w_TK: Tensor, plan: Plan): Tensor2D {
    const tf = this.#tf;
    const { tokens: t, topK: k, dModel: d } = this.shape;
    const swiglu = (x: Tensor2D, w1: Weight, w3: Weight, w2: Weight): Tensor2D => {
      const a = tf.matMul(x, w1);
      return tf.matMul(tf.mul(tf.mul(a, tf.sigmoid(a)), tf.matMul(x, w3)), w2);
    };
    const x_AD = tf.reshape(tf.broadcastTo(tf.reshape(x_TD, [t, 1, d]), [t, k, d]), [t * k, d]) as Tensor2D;
    const x_RD = this.#permute(x_AD, plan.slot_R, plan.row_A);
    const pieces = plan.experts.length === 1 ? [x_RD] : tf.split(x_RD, plan.sizes, 0);
    const ys = plan.experts.map((e, i) =>
      swiglu(pieces[i] as Tensor2D, this.w1[e] as Weight, this.w3[e] as Weight, this.w2[e] as Weight),
    );
    const y_RD = ys.length === 1 ? (ys[0] as Tensor2D) : tf.concat(ys, 0);
    const y_AD = this.#permute(y_RD, plan.row_A, plan.slot_R);
    let y_TD = tf.sum(tf.mul(tf.reshape(y_AD, [t, k, d]), tf.reshape(w_TK, [t, k, 1])), 1) as Tensor2D;
    if (this.shared) y_TD = tf.add(y_TD, swiglu(x_TD, this.shared.w1, this.shared.w3, this.shared.w2));
    return y_TD;
  }
}

function disposePlan(plan: Plan): void {
  plan.slot_R.dispose();
  plan.row_A.dispose();
  plan.choice_TKE?.dispose();
}
