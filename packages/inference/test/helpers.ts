// Test helpers: tiny models, a reference greedy loop over TransformerLM.forward, async error checks and a
// tiny byte-level BPE tokenizer.json.
import { LocalDispatcher, MoELayer } from '@switchyard/moe';
import type { Module } from '@switchyard/nn';
import {
  Block,
  buildModel,
  type PresetName,
  Stack,
  scalePreset,
  TransformerLM,
  tinyPreset,
} from '@switchyard/presets';
import { type ErrorCode, fromHost, Generator, noGrad, SwitchyardError, tidy } from '@switchyard/tensor';
import { expect } from 'vitest';

/** The tiny variant of a preset built with fresh weights from `seed`. */
export function tinyModel(name: PresetName, seed = 0): TransformerLM {
  return buildModel(tinyPreset(name), { generator: new Generator(seed) });
}

/** A tiny Mixtral with E experts and top-2 (more experts than the tiny preset's 8, for offloading). */
export function mixtralWith(numExperts: number, seed = 0): TransformerLM {
  const config = scalePreset(tinyPreset('mixtral-8x7b'), {
    name: `mixtral-${numExperts}e`,
    moe: { numExperts },
  });
  return buildModel(config, { generator: new Generator(seed) });
}

/** Gives every MoE layer a dropless dispatcher (capacity drops depend on the batch: references need none). */
export function makeDropless(model: TransformerLM): TransformerLM {
  for (const stack of [model.encoder, model.decoder]) {
    for (const block of stack?.blocks ?? [])
      if (block.ffn instanceof MoELayer) block.ffn.dispatcher = new LocalDispatcher();
  }
  return model;
}

/**
 * Greedy decoding the plain way, with no cache and none of this package's code: the whole sequence through
 * `TransformerLM.forward` at every step, the argmax of the last position. Rows must have equal lengths; an
 * encoder-decoder reads `prompts` in the encoder and starts its decoder from token 0.
 */
export function referenceGreedy(model: TransformerLM, prompts: number[][], steps: number): number[][] {
  model.eval();
  const encoderDecoder = model.encoder !== null;
  const rows = encoderDecoder ? prompts.map(() => [0]) : prompts.map((p) => [...p]);
  const start = rows[0]!.length;
  const v = model.vocabSize;
  for (let step = 0; step < steps; step++) {
    const s = rows[0]!.length;
    const logits = noGrad(() =>
      tidy(() => {
        const ids = fromHost(rows.flat(), [rows.length, s], 'i32');
        const encoderIds = encoderDecoder
          ? fromHost(prompts.flat(), [prompts.length, prompts[0]!.length], 'i32')
          : undefined;
        return model.forward({ ids, ...(encoderIds ? { encoderIds } : {}) }).logits.dataSync();
      }),
    );
    rows.forEach((row, b) => {
      const at = (b * s + s - 1) * v;
      let best = 0;
      for (let i = 1; i < v; i++) if (logits[at + i]! > logits[at + best]!) best = i;
      row.push(best);
    });
  }
  return rows.map((r) => r.slice(start));
}

/** Awaits `promise` and checks it rejects with a SwitchyardError of `code` whose message matches `pattern`. */
export async function expectRejects(
  promise: Promise<unknown>,
  code: ErrorCode,
  pattern: RegExp,
): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SwitchyardError);
  expect((caught as SwitchyardError).code).toBe(code);
  expect((caught as SwitchyardError).message).toMatch(pattern);
}

/**
 * A copy of `model` (sharing its weights) whose decoder block `layer` routes with `router` (for the
 * expert-choice refusal: no such preset exists, so the test assembles one).
 */
export function withDecoderRouter(
  model: TransformerLM,
  layer: number,
  router: Module & MoELayer['router'],
): TransformerLM {
  const blocks = model.decoder.blocks.map((block, i) => {
    if (i !== layer || !(block.ffn instanceof MoELayer)) return block;
    const ffn = new MoELayer({ router, experts: block.ffn.experts, dispatcher: block.ffn.dispatcher });
    return new Block({
      attentionNorm: block.attentionNorm,
      attention: block.attention,
      cross: null,
      ffnNorm: block.ffnNorm,
      ffn,
      extra: null,
    });
  });
  const d = model.decoder;
  const decoder = new Stack({
    name: 'decoder',
    sinusoidal: d.sinusoidal,
    positions: d.positions,
    relativeBias: d.relativeBias,
    blocks,
    norm: d.norm,
  });
  return new TransformerLM({
    embedding: model.embedding,
    encoder: null,
    decoder,
    head: model.head,
    headScale: model.headScale,
  });
}

/** The 256 byte-level characters of GPT-2's byte-to-unicode table, in byte order. */
function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  for (let i = 33; i <= 126; i++) printable.push(i);
  for (let i = 161; i <= 172; i++) printable.push(i);
  for (let i = 174; i <= 255; i++) printable.push(i);
  const chars = new Map<number, string>(printable.map((b) => [b, String.fromCodePoint(b)]));
  let extra = 0;
  for (let b = 0; b < 256; b++) if (!chars.has(b)) chars.set(b, String.fromCodePoint(256 + extra++));
  return Array.from({ length: 256 }, (_, b) => chars.get(b) as string);
}

/**
 * A tiny byte-level BPE `tokenizer.json` (GPT-2 style): <pad> 0, <s> 1, </s> 2, the 256 bytes from 3, and a
 * few merges ("he", "ll", "hell", "hello", "Ġw", "Ġworld" ...), 270 ids in all, with a template adding <s>.
 */
export function tinyTokenizerJSON(): Record<string, unknown> {
  const alphabet = byteLevelAlphabet();
  const vocab: Record<string, number> = { '<pad>': 0, '<s>': 1, '</s>': 2 };
  alphabet.forEach((c, i) => {
    vocab[c] = 3 + i;
  });
  const merges = [
    'h e',
    'l l',
    'he ll',
    'hell o',
    'Ġ w',
    'o r',
    'Ġw or',
    'l d',
    'Ġwor ld',
    'Ġ t',
    'h e',
    'Ġt he',
  ];
  let next = 3 + alphabet.length;
  for (const m of merges) {
    const token = m.replace(' ', '');
    if (!(token in vocab)) vocab[token] = next++;
  }
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** The tokenizer_config.json that goes with `tinyTokenizerJSON`. */
export const TINY_TOKENIZER_CONFIG = {
  bos_token: '<s>',
  eos_token: '</s>',
  pad_token: '<pad>',
  tokenizer_class: 'PreTrainedTokenizerFast',
};
