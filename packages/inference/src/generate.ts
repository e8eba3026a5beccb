// Shape letters: B batch, S positions, V vocabulary.
import { type Dispatcher, LocalDispatcher, MoELayer } from '@switchyard/moe';
import type { LatentAttentionMode } from '@switchyard/nn';
import { TransformerLM } from '@switchyard/presets';
import { SwitchyardError } from '@switchyard/tensor';
import { DecodeSession, type HostRouting } from './decode-session.js';
import type { ExpertCacheStats } from './expert-cache.js';
import { moeBlocks } from './moe-blocks.js';
import type { ExpertOffload } from './offload-experts.js';
import { type RoutingTrace, type TokenRouting, traceTokens } from './routing-trace.js';
import { checkSampling, pickToken, type Sampling } from './sampling.js';
import { StreamText } from './stream-text.js';
import type { TextTokenizer } from './tokenizer.js';

const OP = 'generate';

/** A prompt: token ids, or text when a tokenizer is given. For encoder-decoders it is the encoder's input. */
export type Prompt = readonly number[] | string;

/** Why a row stopped: its token budget, a stop token, or a stop string in its text. */
export type FinishReason = 'length' | 'stop-token' | 'stop-string';

export interface GenerateOptions {
  /** Tokens to generate per row at most (a positive integer). */
  maxNewTokens: number;
  /** `'greedy'` (default) or random sampling with temperature, top-k, top-p and a seeded generator. */
  sampling?: Sampling;
  /** Token ids that end a row (kept as its last token). Default: the tokenizer's EOS id, if any. */
  stopTokens?: readonly number[];
  /** Strings that end a row once its text contains one (the text is cut before it); need a tokenizer. */
  stopStrings?: readonly string[];
  /** Encodes text prompts, decodes the output to text, and supplies EOS and padding ids. */
  tokenizer?: TextTokenizer;
  /** Fed at padded positions (masked, so its value does not matter). Default: the tokenizer's pad id, else 0. */
  padId?: number;
  /** The first decoder token of an encoder-decoder. Default: the tokenizer's pad id, else 0 (T5's convention). */
  decoderStartId?: number;
  /**
   * Reuse keys and values across steps (default true). False runs the whole sequence at every step: slower,
   * and the same tokens, which is what it is for.
   */
  cache?: boolean;
  /** Attention over the latent cache of DeepSeek's multi-head latent attention. Default `'absorbed'`. */
  latentAttention?: LatentAttentionMode;
  /** Experts from this offload (see `offloadExperts`) instead of the model's weights. */
  offload?: ExpertOffload;
  /**
   * Run every MoE layer dropless for this generation (default false: the model's eval capacity factor applies,
   * as it was evaluated). With a capacity, which assignments an expert drops depends on the other tokens of
   * the forward (the batch, and every position when the cache is off), so batched, cached and uncached
   * generation can differ; dropless, a row generates the same tokens in all three.
   */
  dropless?: boolean;
  /** Record every token's experts and weights per MoE layer (`result.trace`, `step.routing`). Default false. */
  trace?: boolean;
  /** Add the tokenizer's special tokens (BOS, ...) when encoding text prompts. Default true. */
  addSpecialTokens?: boolean;
}

/** One generated position, as `generateStream` yields it. */
export interface GenerationStep {
  /** 0 for the first generated token. */
  readonly step: number;
  /** Per row: the new token, or null when the row had already finished. */
  readonly tokens: readonly (number | null)[];
  /** Per row: the new text (held back while it could still become a stop string), or null without a tokenizer. */
  readonly text: readonly string[] | null;
  /** Per row: why it finished at this step, or null. */
  readonly finished: readonly (FinishReason | null)[];
  /** With `trace`: per row, the routing of the tokens the model read to produce this step (the prompt, then the previous token). */
  readonly routing: readonly (readonly TokenRouting[])[] | null;
}

export interface GenerationResult {
  /** Per row, the generated ids (a stop token included). */
  readonly tokens: number[][];
  /** Per row, the decoded text (stop token left out, cut before a stop string), or null without a tokenizer. */
  readonly text: string[] | null;
  readonly finishReasons: FinishReason[];
  /** Prompt tokens per row (after encoding text). */
  readonly promptTokens: number[];
  /** With `trace`: every token the model read, per row. */
  readonly trace: RoutingTrace | null;
  /** With `offload`: what the expert cache did during this generation (residentBytes and peakBytes as of its end). */
  readonly experts: ExpertCacheStats | null;
}

interface Checked {
  sampling: Sampling;
  stopTokens: Set<number>;
  stopStrings: string[];
  tokenizer: TextTokenizer | null;
  padId: number;
  decoderStartId: number;
  cache: boolean;
  latentAttention: LatentAttentionMode;
  offload: ExpertOffload | null;
  trace: boolean;
  dropless: boolean;
  maxNewTokens: number;
}

function invalid(detail: string): SwitchyardError {
  return new SwitchyardError('INVALID_ARGUMENT', OP, detail);
}

function checkId(name: string, id: unknown, vocab: number): number {
  if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocab) {
    throw invalid(`${name} must be a token id in [0, ${vocab}), got ${String(id)}`);
  }
  return id as number;
}

function checkOptions(model: TransformerLM, options: GenerateOptions): Checked {
  if (options === null || typeof options !== 'object')
    throw invalid('options must be an object with maxNewTokens');
  const vocab = model.vocabSize;
  const { maxNewTokens } = options;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
    throw invalid(`maxNewTokens must be a positive integer, got ${String(maxNewTokens)}`);
  }
  const tokenizer = options.tokenizer ?? null;
  if (tokenizer !== null && tokenizer.vocabSize > vocab) {
    throw invalid(`the tokenizer has ${tokenizer.vocabSize} ids but the model's vocabulary is ${vocab}`);
  }
  const stopTokens = options.stopTokens ?? (tokenizer?.eosId != null ? [tokenizer.eosId] : []);
  if (!Array.isArray(stopTokens)) throw invalid('stopTokens must be an array of token ids');
  stopTokens.forEach((id, i) => {
    checkId(`stopTokens[${i}]`, id, vocab);
  });
  const stopStrings = options.stopStrings ?? [];
  if (!Array.isArray(stopStrings) || stopStrings.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw invalid('stopStrings must be an array of non-empty strings');
  }
  if (stopStrings.length > 0 && tokenizer === null)
    throw invalid('stopStrings need a tokenizer to decode the text');
  const latentAttention = options.latentAttention ?? 'absorbed';
  if (latentAttention !== 'absorbed' && latentAttention !== 'expanded') {
    throw invalid(`latentAttention must be 'absorbed' or 'expanded', got ${String(latentAttention)}`);
  }
  const offload = options.offload ?? null;
  if (offload !== null && offload.model !== model) throw invalid('the offload was made for another model');
  return {
    sampling: checkSampling(options.sampling ?? 'greedy', OP),
    stopTokens: new Set(stopTokens),
    stopStrings: [...stopStrings],
    tokenizer,
    padId: checkId('padId', options.padId ?? tokenizer?.padId ?? 0, vocab),
    decoderStartId: checkId('decoderStartId', options.decoderStartId ?? tokenizer?.padId ?? 0, vocab),
    cache: options.cache ?? true,
    latentAttention,
    offload,
    trace: options.trace ?? false,
    dropless: options.dropless ?? false,
    maxNewTokens,
  };
}

function encodePrompts(
  prompts: readonly Prompt[],
  checked: Checked,
  vocab: number,
  special: boolean,
): number[][] {
  if (!Array.isArray(prompts) || prompts.length === 0) throw invalid('prompts must be a non-empty array');
  return prompts.map((prompt, b) => {
    let ids: number[];
    if (typeof prompt === 'string') {
      if (checked.tokenizer === null) throw invalid(`prompt ${b} is text: pass a tokenizer`);
      ids = checked.tokenizer.encode(prompt, { addSpecialTokens: special });
    } else if (Array.isArray(prompt)) ids = [...prompt];
    else throw invalid(`prompt ${b} must be an array of token ids or a string`);
    if (ids.length === 0)
      throw invalid(`prompt ${b} is empty: generation needs at least one token (e.g. BOS)`);
    ids.forEach((id, i) => {
      checkId(`token ${i} of prompt ${b}`, id, vocab);
    });
    return ids;
  });
}

/** Expert choice ranks every token of a batch, later ones included: refused for the causal decoder. */
function checkCausalRouting(model: TransformerLM): void {
  model.decoder.blocks.forEach((block, layer) => {
    if (!(block.ffn instanceof MoELayer)) return;
    const router = block.ffn.router as { requireCausal?: unknown };
    if (typeof router.requireCausal === 'function') {
      throw new SwitchyardError(
        'UNSUPPORTED',
        OP,
        `decoder block ${layer} routes by expert choice (${block.ffn.router.constructor.name}), which is not causal: each expert ranks every token of the batch, later ones included, so it cannot decode autoregressively; use a token-choice router (top-k, Switch, ...)`,
      );
    }
  });
}

/**
 * Puts every module in eval mode (no dropout, no router jitter or noise, the eval capacity factor) and, with
 * `dropless`, gives every MoE layer a dropless dispatcher; returns the undo.
 */
function enterInference(model: TransformerLM, dropless: boolean): () => void {
  const modules = [model, ...model.namedModules().map(([, m]) => m)];
  const flags = modules.map((m) => m.training);
  const layers = dropless ? moeBlocks(model).map(({ moe }) => moe) : [];
  const dispatchers = layers.map((moe) => moe.dispatcher);
  model.eval();
  for (const moe of layers) moe.dispatcher = new LocalDispatcher();
  return () => {
    modules.forEach((m, i) => {
      m.training = flags[i] as boolean;
    });
    layers.forEach((moe, i) => {
      moe.dispatcher = dispatchers[i] as Dispatcher;
    });
  };
}

/** The counters of `after` minus `before`; bytes resident, peak and budget as of `after`. */
function statsSince(before: ExpertCacheStats, after: ExpertCacheStats): ExpertCacheStats {
  const d = (k: keyof ExpertCacheStats) => after[k] - before[k];
  const requests = d('requests');
  const hits = d('hits');
  return {
    requests,
    hits,
    prefetchHits: d('prefetchHits'),
    misses: d('misses'),
    hitRate: requests === 0 ? 0 : hits / requests,
    prefetches: d('prefetches'),
    wastedPrefetches: d('wastedPrefetches'),
    evictions: d('evictions'),
    bytesMoved: d('bytesMoved'),
    residentBytes: after.residentBytes,
    peakBytes: after.peakBytes,
    budgetBytes: after.budgetBytes,
  };
}

/**
 * Generates continuations of a batch of prompts with a model built by `buildModel` (or loaded), yielding
 * each new position as it is decided: an async iterator, so a UI can stream tokens and text. Returns the
 * whole result when done (`generate` collects it for you).
 *
 * - Decoder-only models read the prompts left-padded into one batch (each row keeps its own positions, so
 *   a row generates what it would alone), fill the KV caches once, then feed one token per step; multi-head
 *   latent attention caches only its compressed latent and rotary key. Encoder-decoders (T5 style) encode
 *   the prompts once and decode from `decoderStartId`, reusing the cross-attention keys and values.
 * - Each row picks its token greedily or by sampling (temperature, top-k, top-p) with the seeded generator
 *   of `sampling`; it stops at `maxNewTokens`, a stop token, or a stop string.
 * - The model runs in eval mode (restored afterwards): no dropout, no router jitter or noise, the eval
 *   capacity factor (or none with `dropless`). Decoder MoE layers routed by expert choice are refused
 *   (UNSUPPORTED): it is not causal.
 * - With `offload`, experts come from the offload's cache; with `trace`, every token's experts are recorded.
 *
 * Breaking out of the loop early frees everything.
 *
 * @example
 * ```ts
 * for await (const step of generateStream(model, ['Once upon'], { maxNewTokens: 20, tokenizer })) {
 *   process.stdout.write(step.text![0]!);
 * }
 * ```
 */
export async function* generateStream(
  model: TransformerLM,
  prompts: readonly Prompt[],
  options: GenerateOptions,
): AsyncGenerator<GenerationStep, GenerationResult, undefined> {
  if (!(model instanceof TransformerLM))
    throw invalid('model must be a TransformerLM (buildModel or a loader)');
  const c = checkOptions(model, options);
  const vocab = model.vocabSize;
  const rows = encodePrompts(prompts, c, vocab, options.addSpecialTokens ?? true);
  checkCausalRouting(model);
  const b = rows.length;
  const encoderDecoder = model.encoder !== null;
  const restore = enterInference(model, c.dropless);
  const session = new DecodeSession(model, {
    batch: b,
    latentAttention: c.latentAttention,
    offload: c.offload,
    routing: c.trace,
  });
  const before = c.offload?.stats() ?? null;
  try {
    const trace: RoutingTrace = rows.map(() => []);
    const record = (part: TokenRouting[][]) => {
      part.forEach((tokens, row) => {
        trace[row]!.push(...tokens);
      });
      return part;
    };
    let ids: number[][];
    let mask: boolean[][];
    if (encoderDecoder) {
      const width = Math.max(...rows.map((r) => r.length));
      const encIds = rows.map((r) => [...r, ...Array<number>(width - r.length).fill(c.padId)]);
      const encMask = rows.map((r) => Array.from({ length: width }, (_, i) => i < r.length));
      const routing = await session.encode(encIds, encMask);
      if (c.trace) {
        record(
          traceTokens(routing, encIds, encMask, {
            stack: 'encoder',
            source: 'prompt',
            fromColumn: 0,
            position: (_, col) => col,
          }),
        );
      }
      ids = rows.map(() => [c.decoderStartId]);
      mask = rows.map(() => [true]);
    } else {
      const width = Math.max(...rows.map((r) => r.length));
      ids = rows.map((r) => [...Array<number>(width - r.length).fill(c.padId), ...r]);
      mask = rows.map((r) => Array.from({ length: width }, (_, i) => i >= width - r.length));
    }
    const pads = mask.map((row) => row.indexOf(true));
    const position = (row: number, col: number) => col - (pads[row] as number);
    let { logits, routing } = await session.forward(ids, mask);
    let stepRouting = c.trace
      ? record(
          traceTokens(routing, ids, mask, { stack: 'decoder', source: 'prompt', fromColumn: 0, position }),
        )
      : null;
    const generated: number[][] = rows.map(() => []);
    const reasons: (FinishReason | null)[] = rows.map(() => null);
    const texts = c.tokenizer
      ? rows.map(() => new StreamText(c.tokenizer as TextTokenizer, c.stopStrings))
      : null;
    for (let step = 0; ; step++) {
      let uniforms: ArrayLike<number> | null = null;
      if (c.sampling !== 'greedy') {
        const u = c.sampling.generator.uniform([b]);
        try {
          uniforms = await u.data();
        } finally {
          u.dispose();
        }
      }
      const last = step === c.maxNewTokens - 1;
      const finished: (FinishReason | null)[] = rows.map(() => null);
      const tokens = rows.map((_, row) => {
        if (reasons[row] !== null) return null;
        const token = pickToken(logits, row * vocab, vocab, c.sampling, (uniforms?.[row] as number) ?? 0);
        generated[row]!.push(token);
        if (c.stopTokens.has(token)) finished[row] = 'stop-token';
        return token;
      });
      const text = texts?.map((t, row) => {
        if (tokens[row] === null) return '';
        const out = generated[row]!;
        const visible = finished[row] === 'stop-token' ? out.slice(0, -1) : out;
        const { delta, stopped } = t.update(visible, finished[row] !== null || last);
        if (stopped && finished[row] === null) finished[row] = 'stop-string';
        return delta;
      });
      finished.forEach((reason, row) => {
        if (reason === null && last && reasons[row] === null) finished[row] = 'length';
        if (finished[row] !== null) reasons[row] = finished[row] as FinishReason;
      });
      yield { step, tokens, text: text ?? null, finished, routing: stepRouting };
      if (last || reasons.every((r) => r !== null)) break;
      const next = tokens.map((t) => [t ?? c.padId]);
      const nextMask = tokens.map((t) => [t !== null]);
      const column = ids[0]!.length;
      ids = ids.map((row, r) => [...row, ...(next[r] as number[])]);
      mask = mask.map((row, r) => [...row, ...(nextMask[r] as boolean[])]);
      let forwarded: { logits: Float32Array; routing: HostRouting[] };
      if (c.cache) forwarded = await session.forward(next, nextMask);
      else {
        session.reset();
        forwarded = await session.forward(ids, mask);
      }
      ({ logits, routing } = forwarded);
      stepRouting = c.trace
        ? record(
            traceTokens(routing, c.cache ? next : ids, c.cache ? nextMask : mask, {
              stack: 'decoder',
              source: 'generated',
              fromColumn: c.cache ? 0 : column,
              position: c.cache ? (row) => column - (pads[row] as number) : position,
            }),
          )
        : null;
    }
    return {
      tokens: generated,
      text: texts ? texts.map((t) => t.final ?? t.emitted) : null,
      finishReasons: reasons.map((r) => r ?? 'length'),
      promptTokens: rows.map((r) => r.length),
      trace: c.trace ? trace : null,
      experts: before && c.offload ? statsSince(before, c.offload.stats()) : null,
    };
  } finally {
    session.dispose();
    restore();
  }
}

/**
 * Generates continuations of a batch of prompts and returns them whole: `generateStream` collected. See
 * `generateStream` for what it does and `GenerateOptions` for the choices.
 *
 * @example
 * ```ts
 * const model = buildModel(tinyPreset('mixtral-8x7b'), { generator: new Generator(0) });
 * const { tokens } = await generate(model, [[1, 2, 3], [4, 5]], { maxNewTokens: 8 });
 * const sampled = await generate(model, [[1, 2, 3]], {
 *   maxNewTokens: 8,
 *   sampling: { temperature: 0.8, topK: 50, topP: 0.95, generator: new Generator(42) },
 * });
 * ```
 */
export async function generate(
  model: TransformerLM,
  prompts: readonly Prompt[],
  options: GenerateOptions,
): Promise<GenerationResult> {
  const steps = generateStream(model, prompts, options);
  for (;;) {
    const next = await steps.next();
    if (next.done) return next.value;
  }
}
