// generate(): the KV cache (and MLA's latent cache) changes nothing but speed, left-padded batches decode as
// rows alone, sampling is reproducible from a seed, stop conditions, streaming, eval-mode routing, the routing
// trace and the expert-choice refusal.
import { type Dispatcher, MoELayer } from '@switchyard/moe';
import { Module } from '@switchyard/nn';
import type { PresetName } from '@switchyard/presets';
import { fromHost, Generator, liveTensorCount, noGrad, type Tensor, tidy } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { DecodeSession, generate, generateStream } from '../src/index.js';
import { expectRejects, makeDropless, referenceGreedy, tinyModel, withDecoderRouter } from './helpers.js';

const DECODER_ONLY: PresetName[] = [
  'mixtral-8x7b',
  'deepseekmoe-16b',
  'deepseek-v2',
  'deepseek-v2-lite',
  'deepseek-v3',
  'qwen1.5-moe-a2.7b',
  'olmoe-1b-7b',
  'dbrx',
  'glam-0.1b-64e',
];
const ENCODER_DECODER: PresetName[] = ['switch-base-8', 'st-moe-32b', 'gshard-600b'];
const PROMPTS = [
  [5, 17, 301, 42, 9],
  [77, 3, 250, 11, 480],
];

describe('decoder-only generation', () => {
  it.each(DECODER_ONLY)(
    '%s: greedy with the KV cache = without it = the plain TransformerLM.forward loop',
    async (name) => {
      const model = makeDropless(tinyModel(name));
      const reference = referenceGreedy(model, PROMPTS, 6);
      const before = liveTensorCount();
      const cached = await generate(model, PROMPTS, { maxNewTokens: 6 });
      const uncached = await generate(model, PROMPTS, { maxNewTokens: 6, cache: false });
      const expanded = await generate(model, PROMPTS, { maxNewTokens: 6, latentAttention: 'expanded' });
      expect(cached.tokens).toEqual(reference);
      expect(uncached.tokens).toEqual(reference);
      expect(expanded.tokens).toEqual(reference);
      expect(cached.finishReasons).toEqual(['length', 'length']);
      expect(cached.promptTokens).toEqual([5, 5]);
      expect(liveTensorCount()).toBe(before);
      model.dispose();
    },
  );

  it('the prefill logits equal TransformerLM.forward for every decoder-only family (latent cache absorbed)', async () => {
    for (const name of DECODER_ONLY) {
      const model = tinyModel(name).eval();
      const full = noGrad(() =>
        tidy(() => {
          const ids = fromHost(PROMPTS.flat(), [2, 5], 'i32');
          return model.forward({ ids }).logits.dataSync();
        }),
      );
      const session = new DecodeSession(model, { batch: 2 });
      const { logits } = await session.forward(
        PROMPTS,
        PROMPTS.map((p) => p.map(() => true)),
      );
      session.dispose();
      const v = model.vocabSize;
      let worst = 0;
      for (let b = 0; b < 2; b++) {
        for (let i = 0; i < v; i++)
          worst = Math.max(worst, Math.abs(logits[b * v + i]! - full[(b * 5 + 4) * v + i]!));
      }
      expect(worst, name).toBeLessThan(1e-4);
      model.dispose();
    }
  });

  it('sampling with one seed gives the same tokens with and without the cache; top-k 1 is greedy', async () => {
    const model = tinyModel('deepseek-v3');
    const sampling = (seed: number) => ({
      temperature: 1.5,
      topK: 40,
      topP: 0.9,
      generator: new Generator(seed),
    });
    const a = await generate(model, PROMPTS, { maxNewTokens: 8, sampling: sampling(7) });
    const b = await generate(model, PROMPTS, { maxNewTokens: 8, sampling: sampling(7), cache: false });
    const c = await generate(model, PROMPTS, { maxNewTokens: 8, sampling: sampling(8) });
    expect(b.tokens).toEqual(a.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
    const greedy = await generate(model, PROMPTS, { maxNewTokens: 8 });
    const topOne = await generate(model, PROMPTS, {
      maxNewTokens: 8,
      sampling: { topK: 1, temperature: 3, generator: new Generator(1) },
    });
    expect(topOne.tokens).toEqual(greedy.tokens);
    model.dispose();
  });

  it.each(['mixtral-8x7b', 'deepseek-v3', 'glam-0.1b-64e'] as PresetName[])(
    '%s: a left-padded batch generates, row by row, what each prompt generates alone',
    async (name) => {
      const model = tinyModel(name);
      const prompts = [
        [5, 17, 301, 42, 9, 66, 120],
        [77, 3],
        [250, 11, 480, 8],
      ];
      const batch = await generate(model, prompts, { maxNewTokens: 6, dropless: true });
      const uncached = await generate(model, prompts, { maxNewTokens: 6, dropless: true, cache: false });
      expect(uncached.tokens).toEqual(batch.tokens);
      for (const [row, prompt] of prompts.entries()) {
        const alone = await generate(model, [prompt], { maxNewTokens: 6, dropless: true });
        expect(batch.tokens[row]).toEqual(alone.tokens[0]);
      }
      model.dispose();
    },
  );

  it('stops a row at a stop token (kept as its last token) while the others go on to maxNewTokens', async () => {
    const model = tinyModel('mixtral-8x7b');
    const free = await generate(model, PROMPTS, { maxNewTokens: 6 });
    const stop = free.tokens[0]![2]!;
    const stopped = await generate(model, PROMPTS, { maxNewTokens: 6, stopTokens: [stop] });
    const first = free.tokens[0]!.indexOf(stop);
    expect(stopped.tokens[0]).toEqual(free.tokens[0]!.slice(0, first + 1));
    expect(stopped.finishReasons[0]).toBe('stop-token');
    const second = free.tokens[1]!.indexOf(stop);
    expect(stopped.tokens[1]).toEqual(second === -1 ? free.tokens[1] : free.tokens[1]!.slice(0, second + 1));
    model.dispose();
  });

  it('streams each step through an async iterator; breaking early frees everything and restores modes', async () => {
    const model = tinyModel('olmoe-1b-7b');
    model.train();
    const whole = await generate(model, PROMPTS, { maxNewTokens: 5 });
    expect(model.training).toBe(true);
    const before = liveTensorCount();
    const seen: (number | null)[][] = [];
    for await (const step of generateStream(model, PROMPTS, { maxNewTokens: 5 })) {
      expect(step.step).toBe(seen.length);
      seen.push([...step.tokens]);
      expect(model.training).toBe(false);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => whole.tokens.map((row) => row[i]!)));
    for await (const step of generateStream(model, PROMPTS, { maxNewTokens: 50 })) {
      if (step.step === 1) break;
    }
    expect(liveTensorCount()).toBe(before);
    expect(model.training).toBe(true);
    expect(model.namedModules().every(([, m]) => m.training)).toBe(true);
    model.dispose();
  });

  it('routes in eval mode: the eval capacity factor, no jitter; a model left in training mode generates the same', async () => {
    const model = tinyModel('switch-base-8');
    const calls: boolean[] = [];
    for (const stack of [model.encoder!, model.decoder]) {
      for (const block of stack.blocks) {
        if (!(block.ffn instanceof MoELayer)) continue;
        const inner = block.ffn.dispatcher;
        const spy: Dispatcher = {
          dispatch: (x, routing, options) => {
            calls.push(options.training);
            return inner.dispatch(x, routing, options);
          },
          combine: (y, meta) => inner.combine(y, meta),
        };
        block.ffn.dispatcher = spy;
      }
    }
    model.train();
    const inTraining = await generate(model, PROMPTS, { maxNewTokens: 4 });
    model.eval();
    const inEval = await generate(model, PROMPTS, { maxNewTokens: 4 });
    expect(inTraining.tokens).toEqual(inEval.tokens);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((training) => training === false)).toBe(true);
    model.dispose();
  });

  it('traces every token read: K experts and weights per MoE layer, as TransformerLM.forward routes them', async () => {
    const model = tinyModel('mixtral-8x7b').eval();
    const prompt = PROMPTS[0]!;
    const { trace, tokens } = await generate(model, [prompt], { maxNewTokens: 4, trace: true });
    const row = trace![0]!;
    expect(row.map((t) => t.token)).toEqual([...prompt, ...tokens[0]!.slice(0, 3)]);
    expect(row.map((t) => t.position)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(row.map((t) => t.source)).toEqual([
      ...prompt.map(() => 'prompt'),
      'generated',
      'generated',
      'generated',
    ]);
    const forward = noGrad(() =>
      tidy(() => {
        const out = model.forward({ ids: fromHost(prompt, [1, 5], 'i32') });
        return out.moe.map((m) => Array.from(m.routing.expert_A.dataSync()));
      }),
    );
    expect(row[0]!.layers.map((l) => l.layer)).toEqual([0, 1, 2, 3]);
    row.slice(0, 5).forEach((token, t) => {
      token.layers.forEach((l, i) => {
        expect(l.experts).toEqual(forward[i]!.slice(t * 2, t * 2 + 2));
        expect(l.weights.reduce((a, w) => a + w, 0)).toBeCloseTo(1, 5);
      });
    });
    model.dispose();
  });

  it('streams the trace of the tokens read for each step', async () => {
    const model = tinyModel('deepseek-v3');
    const steps = [];
    for await (const step of generateStream(model, [[4, 5, 6], [7]], { maxNewTokens: 3, trace: true }))
      steps.push(step);
    expect(steps[0]!.routing!.map((r) => r.length)).toEqual([3, 1]);
    expect(steps[1]!.routing!.map((r) => r.map((t) => t.position))).toEqual([[3], [1]]);
    expect(steps[1]!.routing![0]![0]!.layers.map((l) => l.layer)).toEqual([1, 2, 3]);
    model.dispose();
  });

  it('refuses expert choice in the decoder: up front, and at run time for a routing of that kind', async () => {
    const base = tinyModel('mixtral-8x7b');
    const moe = base.decoder.blocks[1]!.ffn as MoELayer;
    class ExpertChoiceLike extends Module {
      readonly numExperts = moe.router.numExperts;
      constructor(readonly causalFlag: boolean) {
        super();
      }
      route(x: Tensor): ReturnType<MoELayer['router']['route']> {
        return { ...moe.router.route(x), kind: 'expert-choice' };
      }
    }
    class DeclaredExpertChoice extends ExpertChoiceLike {
      requireCausal(): this {
        return this;
      }
    }
    const declared = withDecoderRouter(base, 1, new DeclaredExpertChoice(true));
    await expectRejects(
      generate(declared, PROMPTS, { maxNewTokens: 2 }),
      'UNSUPPORTED',
      /decoder block 1 routes by expert choice/,
    );
    const before = liveTensorCount();
    const undeclared = withDecoderRouter(base, 1, new ExpertChoiceLike(false));
    await expectRejects(generate(undeclared, PROMPTS, { maxNewTokens: 2 }), 'UNSUPPORTED', /not causal/);
    expect(liveTensorCount()).toBe(before);
    base.dispose();
  });

  it('rejects bad arguments with errors that name them', async () => {
    const model = tinyModel('mixtral-8x7b');
    const bad: [unknown, unknown, RegExp][] = [
      [PROMPTS, { maxNewTokens: 0 }, /maxNewTokens must be a positive integer/],
      [[], { maxNewTokens: 2 }, /prompts must be a non-empty array/],
      [[[1, 2], []], { maxNewTokens: 2 }, /prompt 1 is empty/],
      [[[1, 512]], { maxNewTokens: 2 }, /token 1 of prompt 0 must be a token id in \[0, 512\)/],
      [['text'], { maxNewTokens: 2 }, /pass a tokenizer/],
      [PROMPTS, { maxNewTokens: 2, stopStrings: ['x'] }, /stopStrings need a tokenizer/],
      [PROMPTS, { maxNewTokens: 2, stopTokens: [-1] }, /stopTokens\[0\]/],
      [PROMPTS, { maxNewTokens: 2, sampling: { temperature: 1 } }, /needs a generator/],
      [
        PROMPTS,
        { maxNewTokens: 2, sampling: { topP: 0, generator: new Generator(0) } },
        /topP must be in \(0, 1\]/,
      ],
      [
        PROMPTS,
        { maxNewTokens: 2, sampling: { temperature: 0, generator: new Generator(0) } },
        /use 'greedy'/,
      ],
      [PROMPTS, { maxNewTokens: 2, latentAttention: 'compressed' }, /latentAttention/],
    ];
    for (const [prompts, options, pattern] of bad) {
      await expectRejects(
        generate(model, prompts as number[][], options as { maxNewTokens: number }),
        'INVALID_ARGUMENT',
        pattern,
      );
    }
    await expectRejects(
      generate({} as never, PROMPTS, { maxNewTokens: 1 }),
      'INVALID_ARGUMENT',
      /must be a TransformerLM/,
    );
    model.dispose();
  });
});

describe('encoder-decoder generation', () => {
  it.each(ENCODER_DECODER)(
    '%s: encodes once, caches self- and cross-attention: equal to the uncached and the plain forward loop',
    async (name) => {
      const model = makeDropless(tinyModel(name));
      const reference = referenceGreedy(model, PROMPTS, 5);
      const before = liveTensorCount();
      const cached = await generate(model, PROMPTS, { maxNewTokens: 5 });
      const uncached = await generate(model, PROMPTS, { maxNewTokens: 5, cache: false });
      expect(cached.tokens).toEqual(reference);
      expect(uncached.tokens).toEqual(reference);
      expect(liveTensorCount()).toBe(before);
      model.dispose();
    },
  );

  it('pads encoder inputs on the right: a batch generates what each input generates alone', async () => {
    const model = tinyModel('st-moe-32b');
    const prompts = [
      [5, 17, 301, 42, 9, 66],
      [77, 3],
    ];
    const batch = await generate(model, prompts, { maxNewTokens: 5, dropless: true, trace: true });
    for (const [row, prompt] of prompts.entries()) {
      const alone = await generate(model, [prompt], { maxNewTokens: 5, dropless: true });
      expect(batch.tokens[row]).toEqual(alone.tokens[0]);
    }
    const trace = batch.trace![1]!;
    expect(trace.filter((t) => t.stack === 'encoder').map((t) => t.token)).toEqual([77, 3]);
    expect(trace.find((t) => t.stack === 'decoder')).toMatchObject({
      token: 0,
      position: 0,
      source: 'prompt',
    });
    model.dispose();
  });
});

describe('DecodeSession', () => {
  it('decodes step by step in a custom loop; encode() starts over; bad calls are clear errors', async () => {
    const model = tinyModel('switch-base-8').eval();
    const session = new DecodeSession(model, { batch: 1 });
    await expectRejects(
      session.forward([[0]], [[true]]),
      'INVALID_ARGUMENT',
      /needs encode\(\) before forward\(\)/,
    );
    await session.encode([[5, 17, 301]], [[true, true, true]]);
    const first = await session.forward([[0]], [[true]]);
    await session.forward([[9]], [[true]]);
    expect(session.length).toBe(2);
    await session.encode([[5, 17, 301]], [[true, true, true]]);
    expect(session.length).toBe(0);
    const again = await session.forward([[0]], [[true]]);
    expect(Array.from(again.logits)).toEqual(Array.from(first.logits));
    await expectRejects(
      session.forward([[0, 1]], [[true]]),
      'SHAPE_MISMATCH',
      /mask must have the shape of the ids/,
    );
    await expectRejects(session.forward([[0], [1]], [[true], [true]]), 'SHAPE_MISMATCH', /must be 1 rows/);
    await expectRejects(session.forward([[600]], [[true]]), 'INVALID_ARGUMENT', /token 0 of row 0 is 600/);
    session.dispose();
    expect(() => new DecodeSession(model, { batch: 0 })).toThrow(/batch must be a positive integer/);
    model.dispose();
  });
});
