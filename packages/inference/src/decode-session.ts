// The forward pass of a TransformerLM block by block, for decoding: KV caches per decoder block (the latent
// cache for multi-head latent attention), cross-attention over an encoder output computed once, left padding
// with per-row positions, and MoE layers whose experts may come from an ExpertOffload (awaited between
// layers). Shape letters: B batch, S new positions, T positions so far, D model width, V vocabulary,
// A assignments, R routed rows, E experts.
import { type DispatchMeta, MoELayer } from '@switchyard/moe';
import { KVCache, type LatentAttentionMode, LatentKVCache, MultiHeadLatentAttention } from '@switchyard/nn';
import { type Block, type Stack, sinusoidalPositions, type TransformerLM } from '@switchyard/presets';
import {
  add,
  embedding,
  fromHost,
  matmul,
  mul,
  noGrad,
  reshape,
  SwitchyardError,
  slice,
  Tensor,
  tidy,
} from '@switchyard/tensor';
import type { ExpertLayerInfo, StackName } from './expert-store.js';
import { stackedExperts } from './moe-blocks.js';
import type { ExpertOffload } from './offload-experts.js';
import { activeExperts, expertKeys, runOffloadedExperts } from './run-offloaded-experts.js';

const OP = 'DecodeSession';

/** One MoE layer's routing of the tokens of one forward, on the host. */
export interface HostRouting {
  readonly stack: StackName;
  readonly layer: number;
  /** Which token (row-major over the [B, S] positions of the forward) each assignment moves. */
  readonly token_A: Int32Array;
  readonly expert_A: Int32Array;
  readonly weight_A: Float32Array;
}

export interface DecodeSessionOptions {
  /** Rows decoded together (B). */
  batch: number;
  /**
   * How latent attention reads its cache (default `'absorbed'`, DeepSeek's inference form); `'expanded'`
   * re-expands the cached latents with the operations of the forward without a cache.
   */
  latentAttention?: LatentAttentionMode;
  /** Experts from an `ExpertOffload` of this model instead of the model's own weights. */
  offload?: ExpertOffload | null;
  /** Read each MoE layer's routing back to the host (for traces). Default false. */
  routing?: boolean;
}

/** The routing fields a block hands back (the rest of the routing and the stats are freed in its scope). */
interface RoutingTensors {
  token_A: Tensor;
  expert_A: Tensor;
  weight_A: Tensor;
}

/** The caches of one decoder block: self-attention, and cross-attention in an encoder-decoder. */
interface BlockCaches {
  self: KVCache | LatentKVCache;
  cross: KVCache | null;
}

interface StackInputs {
  keyMask: Tensor | null;
  positionOffsets: number[] | null;
  context: Tensor | null;
  contextMask: Tensor | null;
  caches: BlockCaches[] | null;
}

function checkGrid(name: string, grid: readonly (readonly (number | boolean)[])[], batch: number): number {
  const width = grid[0]?.length ?? 0;
  if (grid.length !== batch || grid.some((row) => row.length !== width) || width === 0) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      OP,
      `${name} must be ${batch} rows of one non-zero length, got ${grid.length} rows of lengths [${grid.map((r) => r.length).join(', ')}]`,
    );
  }
  return width;
}

function boolTensor(rows: readonly (readonly boolean[])[]): Tensor {
  return fromHost(
    rows.flatMap((r) => r.map((v) => (v ? 1 : 0))),
    [rows.length, rows[0]?.length ?? 0],
    'bool',
  );
}

/**
 * Runs a `TransformerLM` (built by `buildModel`, or loaded) position by position for generation. The decoder
 * keeps one cache per block (`KVCache`, or a `LatentKVCache` for multi-head latent attention) and one
 * cross-attention cache per block of an encoder-decoder, so each `forward` reads only the new positions.
 * Rows are left-padded: a row's leading masked positions are padding, and its positions (rotary, learned or
 * sinusoidal) start at its first real token, so a row decodes as it would alone. MoE layers run in the
 * model's mode (use eval: no jitter or noise, the eval capacity factor); with an `offload`, their experts
 * come from its cache, loaded between layers.
 *
 * `generate` drives one; use it directly for custom decoding loops (speculative decoding, scoring).
 *
 * @example
 * ```ts
 * const session = new DecodeSession(model.eval(), { batch: 1 });
 * const first = await session.forward([[5, 6, 7]], [[true, true, true]]); // prefill: logits of position 2
 * const next = await session.forward([[9]], [[true]]);                     // one step: position 3
 * session.dispose();
 * ```
 */
export class DecodeSession {
  readonly model: TransformerLM;
  readonly batch: number;
  readonly latentAttention: LatentAttentionMode;
  readonly offload: ExpertOffload | null;
  readonly routing: boolean;
  #caches: BlockCaches[];
  /** The decoder's key mask so far, per row. */
  #keyMask: boolean[][];
  /** Leading padding of each row (fixed by the first forward). */
  #pads: number[] | null = null;
  #context: Tensor | null = null;
  #contextMask: Tensor | null = null;

  constructor(model: TransformerLM, options: DecodeSessionOptions) {
    if (options === null || typeof options !== 'object') {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        OP,
        'options must be { batch, latentAttention?, offload?, routing? }',
      );
    }
    if (!Number.isInteger(options.batch) || options.batch < 1) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        OP,
        `batch must be a positive integer, got ${String(options.batch)}`,
      );
    }
    const mode = options.latentAttention ?? 'absorbed';
    if (mode !== 'absorbed' && mode !== 'expanded') {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        OP,
        `latentAttention must be 'absorbed' or 'expanded', got ${String(mode)}`,
      );
    }
    const offload = options.offload ?? null;
    if (offload !== null && offload.model !== model) {
      throw new SwitchyardError('INVALID_ARGUMENT', OP, 'the offload was made for another model');
    }
    this.model = model;
    this.batch = options.batch;
    this.latentAttention = mode;
    this.offload = offload;
    this.routing = options.routing ?? false;
    this.#caches = this.#freshCaches();
    this.#keyMask = Array.from({ length: this.batch }, () => []);
  }

  /** Decoder positions held (T). */
  get length(): number {
    return this.#keyMask[0]?.length ?? 0;
  }

  /** Whether the encoder has run (encoder-decoders). */
  get encoded(): boolean {
    return this.#context !== null;
  }

  /**
   * Runs the encoder of an encoder-decoder once over `ids` [B, S_enc] (`mask` false for padding) and keeps its
   * output for the decoder's cross-attention, forgetting any decoder positions. Returns the encoder's MoE
   * routings when `routing` is on.
   */
  async encode(
    ids: readonly (readonly number[])[],
    mask: readonly (readonly boolean[])[],
  ): Promise<HostRouting[]> {
    const encoder = this.model.encoder;
    if (encoder === null)
      throw new SwitchyardError('INVALID_ARGUMENT', OP, 'a decoder-only model has no encoder');
    const s = checkGrid('encoder ids', ids, this.batch);
    if (checkGrid('encoder mask', mask, this.batch) !== s) {
      throw new SwitchyardError(
        'SHAPE_MISMATCH',
        OP,
        'the encoder mask must have the shape of the encoder ids',
      );
    }
    // A new encoder output starts a new sequence: the decoder's caches (cross-attention included) go.
    this.dispose();
    const padded = mask.some((row) => row.some((v) => !v));
    const keyMask = padded ? boolTensor(mask) : null;
    const x = this.#embed(ids);
    try {
      const out = await this.#runStack(encoder, x, 0, {
        keyMask,
        positionOffsets: null,
        context: null,
        contextMask: null,
        caches: null,
      });
      this.#context = out.h;
      this.#contextMask = keyMask;
      return out.routing;
    } catch (err) {
      keyMask?.dispose();
      throw err;
    } finally {
      x.dispose();
    }
  }

  /**
   * Feeds new decoder positions: `ids` [B, S] with `mask` [B, S] (false marks padding, which only the first
   * call may have, on the left). Returns the next-token logits of the last position of each row (B·V values,
   * row-major) and, when `routing` is on, every decoder MoE layer's routing of these B·S tokens.
   */
  async forward(
    ids: readonly (readonly number[])[],
    mask: readonly (readonly boolean[])[],
  ): Promise<{ logits: Float32Array; routing: HostRouting[] }> {
    const s = checkGrid('ids', ids, this.batch);
    if (checkGrid('mask', mask, this.batch) !== s) {
      throw new SwitchyardError('SHAPE_MISMATCH', OP, 'the mask must have the shape of the ids');
    }
    if (this.model.encoder !== null && this.#context === null) {
      throw new SwitchyardError('INVALID_ARGUMENT', OP, 'an encoder-decoder needs encode() before forward()');
    }
    const start = this.length;
    if (this.#pads === null) {
      this.#pads = mask.map((row) => {
        const first = row.indexOf(true);
        return first === -1 ? row.length : first;
      });
    }
    mask.forEach((row, b) => {
      this.#keyMask[b]!.push(...row);
    });
    const pads = this.#pads;
    const padded = this.#keyMask.some((row) => row.some((v) => !v));
    const keyMask = padded ? boolTensor(this.#keyMask) : null;
    const x = this.#embed(ids);
    try {
      const { h, routing } = await this.#runStack(this.model.decoder, x, start, {
        keyMask,
        positionOffsets: pads.some((p) => p > 0) ? pads.map((p) => -p) : null,
        context: this.#context,
        contextMask: this.#contextMask,
        caches: this.#caches,
      });
      const logits = noGrad(() =>
        tidy(() => {
          const d = this.model.dModel;
          const last = slice(h, [0, s - 1, 0], [this.batch, 1, d]);
          const scaled = this.model.headScale === 1 ? last : mul(last, this.model.headScale);
          const head = this.model.head;
          return head ? head.forward(scaled) : matmul(scaled, this.model.embedding.weight, { transB: true });
        }),
      );
      h.dispose();
      try {
        return { logits: (await logits.data()) as Float32Array, routing };
      } finally {
        logits.dispose();
      }
    } finally {
      x.dispose();
      keyMask?.dispose();
    }
  }

  /** Forgets the decoder positions (caches and mask); the encoder output stays. */
  reset(): void {
    for (const c of this.#caches) {
      c.self.dispose();
      c.cross?.dispose();
    }
    this.#caches = this.#freshCaches();
    this.#keyMask = Array.from({ length: this.batch }, () => []);
    this.#pads = null;
  }

  /** Frees the caches and the encoder output. */
  dispose(): void {
    this.reset();
    this.#context?.dispose();
    this.#contextMask?.dispose();
    this.#context = null;
    this.#contextMask = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #freshCaches(): BlockCaches[] {
    return this.model.decoder.blocks.map((block) => ({
      self:
        block.attention instanceof MultiHeadLatentAttention
          ? new LatentKVCache({ mode: this.latentAttention })
          : new KVCache(),
      cross: block.crossAttention ? new KVCache() : null,
    }));
  }

  #embed(ids: readonly (readonly number[])[]): Tensor {
    const vocab = this.model.vocabSize;
    ids.forEach((row, b) => {
      row.forEach((id, i) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new SwitchyardError(
            'INVALID_ARGUMENT',
            OP,
            `token ${i} of row ${b} is ${id}, outside the vocabulary [0, ${vocab})`,
          );
        }
      });
    });
    return noGrad(() =>
      tidy(() =>
        this.model.embedding.forward(fromHost(ids.flat(), [ids.length, ids[0]?.length ?? 0], 'i32')),
      ),
    );
  }

  /** Absolute positions (sinusoidal or learned) of the new positions start..start+S-1 of each row. */
  #positions(stack: Stack, x: Tensor, start: number, offsets: number[] | null): Tensor {
    if (!stack.sinusoidal && !stack.positions) return x;
    const [b, s, d] = x.shape as [number, number, number];
    const ids = Array.from({ length: b * s }, (_, i) => {
      const row = Math.floor(i / s);
      return Math.max(0, start + (i % s) + (offsets?.[row] ?? 0));
    });
    const last = Math.max(...ids);
    if (stack.positions && last >= stack.positions.vocab) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        OP,
        `the ${stack.name} has ${stack.positions.vocab} learned positions, position ${last} was asked for`,
      );
    }
    return tidy(() => {
      const ids_BS = fromHost(ids, [b, s], 'i32');
      let h = x;
      if (stack.sinusoidal) h = add(h, embedding(sinusoidalPositions(last + 1, d), ids_BS));
      if (stack.positions) h = add(h, embedding(stack.positions.weight, ids_BS));
      return h;
    });
  }

  async #runStack(
    stack: Stack,
    x: Tensor,
    start: number,
    inputs: StackInputs,
  ): Promise<{ h: Tensor; routing: HostRouting[] }> {
    let h = noGrad(() => this.#positions(stack, x, start, inputs.positionOffsets));
    const routing: HostRouting[] = [];
    try {
      for (const [layer, block] of stack.blocks.entries()) {
        const info = block.ffn instanceof MoELayer ? this.offload?.layerOf(block.ffn) : undefined;
        const cache = inputs.caches?.[layer] ?? null;
        const out = info
          ? await this.#offloadedBlock(stack, layer, block, h, inputs, cache, info)
          : this.#residentBlock(stack, block, h, inputs, cache);
        if (h !== x) h.dispose();
        h = out.y;
        if (out.routing) {
          const r = out.routing;
          try {
            if (this.routing) routing.push(await readRouting(stack.name, layer, r));
          } finally {
            for (const t of [r.token_A, r.expert_A, r.weight_A]) t.dispose();
          }
        }
      }
      const normed = noGrad(() => tidy(() => stack.norm.forward(h)));
      return { h: normed, routing };
    } finally {
      if (h !== x) h.dispose();
    }
  }

  /** Self-attention (with its cache), then cross-attention: x [B, S, D] -> h [B, S, D]. */
  #attend(block: Block, x: Tensor, inputs: StackInputs, cache: BlockCaches | null): Tensor {
    const shared = {
      ...(inputs.keyMask ? { keyMask: inputs.keyMask } : {}),
      ...(inputs.positionOffsets ? { positionOffsets: inputs.positionOffsets } : {}),
    };
    const normed = block.attentionNorm.forward(x);
    let attended: Tensor;
    if (block.attention instanceof MultiHeadLatentAttention) {
      attended = block.attention.forward(normed, { ...shared, ...(cache ? { cache: cache.self } : {}) });
    } else {
      const self = cache?.self;
      attended = block.attention.forward(normed, {
        ...shared,
        ...(self instanceof KVCache ? { cache: self } : {}),
      });
    }
    let h = add(x, attended);
    if (block.crossAttention && block.crossNorm) {
      if (!inputs.context)
        throw new SwitchyardError('INTERNAL', OP, 'a decoder block needs the encoder output');
      h = add(
        h,
        block.crossAttention.forward(block.crossNorm.forward(h), {
          context: inputs.context,
          ...(inputs.contextMask ? { keyMask: inputs.contextMask } : {}),
          ...(cache?.cross ? { cache: cache.cross } : {}),
        }),
      );
    }
    return h;
  }

  /** A block whose feed-forward runs on the model's own weights, all on the device in one scope. */
  #residentBlock(
    stack: Stack,
    block: Block,
    x: Tensor,
    inputs: StackInputs,
    cache: BlockCaches | null,
  ): { y: Tensor; routing: RoutingTensors | null } {
    return noGrad(() =>
      tidy(() => {
        let h = this.#attend(block, x, inputs, cache);
        const normed = block.ffnNorm.forward(h);
        let routing: RoutingTensors | null = null;
        if (block.ffn instanceof MoELayer) {
          const out = block.ffn.forward(normed);
          checkCausal(stack, out.routing.kind);
          h = add(h, out.y);
          routing = {
            token_A: out.routing.token_A,
            expert_A: out.routing.expert_A,
            weight_A: out.routing.weight_A,
          };
        } else h = add(h, block.ffn.forward(normed));
        if (block.extraFFN && block.extraNorm) h = add(h, block.extraFFN.forward(block.extraNorm.forward(h)));
        return { y: h, routing };
      }),
    );
  }

  /**
   * A block whose MoE experts come from the offload cache: attention, routing and dispatch on the device;
   * the active experts' counts read back; this layer's experts (and the next MoE layer's likely ones) loaded
   * while the experts run one by one; then combine, shared experts and the rest of the block.
   */
  async #offloadedBlock(
    stack: Stack,
    layer: number,
    block: Block,
    x: Tensor,
    inputs: StackInputs,
    cache: BlockCaches | null,
    info: ExpertLayerInfo,
  ): Promise<{ y: Tensor; routing: RoutingTensors }> {
    const moe = block.ffn as MoELayer;
    const offload = this.offload as ExpertOffload;
    const next = offload.prefetch ? nextMoEBlock(stack, layer) : null;
    const nextInfo = next ? offload.layerOf(next.ffn as MoELayer) : undefined;
    const a = noGrad(() =>
      tidy(() => {
        const h = this.#attend(block, x, inputs, cache);
        const d = h.shape[2] as number;
        const x_TD = reshape(block.ffnNorm.forward(h), [-1, d]);
        const routing = moe.router.route(x_TD);
        checkCausal(stack, routing.kind);
        const dispatched = moe.dispatcher.dispatch(x_TD, routing, { training: moe.training });
        const predicted_A =
          next && nextInfo
            ? (next.ffn as MoELayer).router.route(reshape(next.ffnNorm.forward(h), [-1, d])).expert_A
            : null;
        return {
          h,
          x_TD,
          routed_RD: dispatched.routed_RD,
          counts_E: dispatched.counts_E,
          kept_E: dispatched.kept_E,
          meta: { ...dispatched.meta },
          routing: { token_A: routing.token_A, expert_A: routing.expert_A, weight_A: routing.weight_A },
          predicted_A,
        };
      }),
    );
    const own = new Set([a.routing.token_A, a.routing.expert_A, a.routing.weight_A]);
    const metaTensors = Object.values(a.meta).filter((v): v is Tensor => v instanceof Tensor && !own.has(v));
    const temporaries = [a.h, a.x_TD, a.routed_RD, a.counts_E, a.kept_E, a.predicted_A, ...metaTensors];
    let y_RD: Tensor | null = null;
    try {
      const [counts, kept, predicted] = await Promise.all([
        a.counts_E.data(),
        a.kept_E.data(),
        a.predicted_A ? a.predicted_A.data() : null,
      ]);
      const needed = activeExperts(info, kept);
      const protect = expertKeys(info, needed);
      offload.cache.fetch(info, needed, protect);
      if (predicted && nextInfo) {
        offload.cache.prefetch(
          nextInfo,
          [...new Set(predicted)].sort((p, q) => p - q),
          protect,
        );
      }
      const experts = stackedExperts({ stack: stack.name, layer, block, moe }, OP);
      y_RD = await runOffloadedExperts(info, experts, offload.cache, a.routed_RD, counts, kept, protect);
      const done = y_RD;
      const y = noGrad(() =>
        tidy(() => {
          let y_TD = moe.dispatcher.combine(done, a.meta as DispatchMeta);
          if (moe.shared) y_TD = add(y_TD, moe.shared.forward(a.x_TD));
          let h = add(a.h, reshape(y_TD, a.h.shape));
          if (block.extraFFN && block.extraNorm)
            h = add(h, block.extraFFN.forward(block.extraNorm.forward(h)));
          return h;
        }),
      );
      return { y, routing: a.routing };
    } catch (err) {
      for (const t of [a.routing.token_A, a.routing.expert_A, a.routing.weight_A]) t.dispose();
      throw err;
    } finally {
      y_RD?.dispose();
      for (const t of temporaries) t?.dispose();
    }
  }
}

/** The next block of `stack` after `layer` whose feed-forward is an MoE layer, or null. */
function nextMoEBlock(stack: Stack, layer: number): Block | null {
  return stack.blocks.slice(layer + 1).find((b) => b.ffn instanceof MoELayer) ?? null;
}

/** Expert choice ranks every token of the batch, later ones included: it cannot decode causally. */
function checkCausal(stack: Stack, kind: 'token-choice' | 'expert-choice'): void {
  if (stack.name === 'decoder' && kind === 'expert-choice') {
    throw new SwitchyardError(
      'UNSUPPORTED',
      OP,
      'a decoder MoE layer routed by expert choice, which is not causal (each expert ranks every token of the batch, later ones included): it cannot decode autoregressively; use a token-choice router',
    );
  }
}

async function readRouting(stack: StackName, layer: number, r: RoutingTensors): Promise<HostRouting> {
  const [token_A, expert_A, weight_A] = await Promise.all([
    r.token_A.data(),
    r.expert_A.data(),
    r.weight_A.data(),
  ]);
  return {
    stack,
    layer,
    token_A: token_A as Int32Array,
    expert_A: expert_A as Int32Array,
    weight_A: weight_A as Float32Array,
  };
}
