// The Trainer on a tiny MoE language model built from nn/moe blocks (CPU): training, balancing, gradient
// accumulation, evaluation, the aux-loss-free bias update, the global-batch loss and early failure.
import { switchLoadBalancingLoss } from '@switchyard/losses';
import type { SigmoidRouter } from '@switchyard/routers';
import {
  add,
  concat,
  full,
  Generator,
  liveTensorCount,
  noGrad,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
  tidy,
} from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { progressionBatch, progressionBatches, TinyLM, type TinyLMConfig } from '../examples/tiny-moe-lm.js';
import {
  adamw,
  type Batch,
  BatchLoader,
  ByteTokenizer,
  cosineSchedule,
  disposeTensors,
  type EvalLog,
  languageModelObjective,
  moeLayers,
  type Objective,
  Optimizer,
  PackedDataset,
  type StepLog,
  sgd,
  syntheticMixture,
  Trainer,
} from '../src/index.js';

const SIZE = { vocab: 16, dModel: 16, layers: 2, heads: 2, numExperts: 4, topK: 2, dHidden: 16 };
const DATA = { batch: 8, seq: 12, vocab: 16 };

function build(overrides: Partial<TinyLMConfig> = {}) {
  return new TinyLM({ ...SIZE, seed: 0, ...overrides });
}

async function train(
  model: TinyLM,
  steps: number,
  config: Partial<ConstructorParameters<typeof Trainer>[0]> = {},
) {
  const optimizer = new Optimizer(model, adamw(), {
    lr: cosineSchedule({ peak: 1e-2, warmupSteps: 5, totalSteps: Math.max(steps, 5) }),
  });
  const logs: StepLog[] = [];
  const trainer = new Trainer({
    model,
    optimizer,
    ...config,
    callbacks: { onStep: (log) => void logs.push(log), ...config.callbacks },
  });
  await trainer.fit(progressionBatches(new Generator(1), DATA), { steps });
  optimizer.dispose();
  return logs;
}

describe('Trainer on the CPU', () => {
  it('trains a tiny MoE language model: the loss falls and balanced routing stays below 1.5 max/mean', async () => {
    const before = liveTensorCount();
    const model = build();
    const logs = await train(model, 80, { clipNorm: 1 });
    const first = logs[0]!;
    const last = logs.at(-1)!;
    console.log(
      `CPU: loss ${first.loss.total.toFixed(3)} -> ${last.loss.total.toFixed(3)} in ${logs.length} steps, ` +
        `max/mean load ${last.routing.map((r) => r.maxMeanLoad.toFixed(2)).join(', ')}, ` +
        `${Math.round(last.tokensPerSecond)} tokens/s`,
    );
    expect(first.loss.task).toBeGreaterThan(2.3); // about ln 16 at the start
    expect(last.loss.task).toBeLessThan(0.35 * first.loss.task);
    for (const log of logs.slice(-10)) {
      for (const layer of log.routing) expect(layer.maxMeanLoad).toBeLessThan(1.5);
    }
    // The log carries what a dashboard needs.
    expect(last.step).toBe(80);
    expect(last.tokens).toBe(DATA.batch * DATA.seq);
    expect(first.lr).toBeCloseTo(2e-3); // warmup: 1e-2 · 1/5
    expect(last.gradNorm).toBeGreaterThan(0);
    expect(last.routing.map((r) => [r.layer, r.stack])).toEqual([
      [0, 'decoder'],
      [1, 'decoder'],
    ]);
    for (const r of last.routing) {
      expect(r.tokensPerExpert.reduce((a, b) => a + b, 0)).toBe(DATA.batch * DATA.seq * SIZE.topK);
    }
    // ST-MoE defaults: Switch balance 1e-2 (≈ 1e-2 when balanced) and z-loss 1e-3, averaged over layers.
    expect(last.loss.balance).toBeGreaterThan(0.0099);
    expect(last.loss.balance).toBeLessThan(0.0125);
    expect(last.loss.total).toBeCloseTo(last.loss.task + last.loss.balance + last.loss.zLoss, 5);
    model.dispose();
    expect(liveTensorCount()).toBe(before);
  });

  it('aux-loss-free balancing: sigmoid routers get their expert bias updated after every step', async () => {
    const model = build({ router: 'sigmoid' });
    const biases = () =>
      moeLayers(model).map(([, l]) => Array.from((l.router as SigmoidRouter).expertBias.dataSync()));
    const logs = await train(model, 1, { loss: { balance: [] } });
    // One step of b += γ · sign(mean − load) with γ = 1e-3: every entry is 0 or ±1e-3, and it moved.
    for (const b of biases()) {
      for (const x of b) expect([-1e-3, 0, 1e-3].some((v) => Math.abs(x - v) < 1e-9)).toBe(true);
      expect(b.some((x) => x !== 0)).toBe(true);
    }
    expect(logs[0]!.loss.balance).toBe(0);
    const frozen = build({ router: 'sigmoid' });
    await train(frozen, 1, { loss: { balance: [] }, biasUpdate: false });
    for (const [, l] of moeLayers(frozen)) {
      expect(Array.from((l.router as SigmoidRouter).expertBias.dataSync())).toEqual([0, 0, 0, 0]);
    }
    model.dispose();
    frozen.dispose();
  });

  it('aux-loss-free balancing keeps max/mean load below 1.5 over a run', async () => {
    const model = build({ router: 'sigmoid' });
    const logs = await train(model, 60, { loss: { balance: [] }, biasUpdate: { rate: 0.01 } });
    expect(logs.at(-1)!.loss.task).toBeLessThan(0.5 * logs[0]!.loss.task);
    for (const layer of logs.at(-1)!.routing) expect(layer.maxMeanLoad).toBeLessThan(1.5);
    model.dispose();
  });

  it('gradient accumulation over two half batches makes the same step as the whole batch', async () => {
    const gen = new Generator(4);
    const halves = [0, 1].map(() => progressionBatch(gen, DATA));
    const whole: Batch = tidy(() => ({
      ids: concat(
        halves.map((h) => h.ids),
        0,
      ),
      labels: concat(
        halves.map((h) => h.labels),
        0,
      ),
    }));
    const step = async (micro: Batch[]) => {
      const model = build();
      const optimizer = new Optimizer(model, sgd(), { lr: 0.5 });
      const trainer = new Trainer({
        model,
        optimizer,
        loss: { balance: [], zLoss: 0 },
        disposeBatches: false,
      });
      const log = await trainer.trainStep(micro);
      const weights = model.namedParameters().map(([, p]) => Array.from(p.dataSync() as Float32Array));
      model.dispose();
      return { log, weights: weights.flat() };
    };
    const a = await step([whole]);
    const b = await step(halves);
    expect(b.log.tokens).toBe(a.log.tokens);
    expect(b.log.loss.total).toBeCloseTo(a.log.loss.total, 5);
    expect(b.log.gradNorm).toBeCloseTo(a.log.gradNorm, 5);
    expect(b.weights).toAllClose(a.weights, { rtol: 1e-4, atol: 1e-6 });
    // Routing stats merge over the micro-batches: the counts add up to the whole batch's.
    expect(b.log.routing[0]!.tokensPerExpert).toEqual(a.log.routing[0]!.tokensPerExpert);
    const { routerEntropy: _a, ...merged } = b.log.routing[0]!;
    const { routerEntropy: _b, ...wholeStats } = a.log.routing[0]!;
    expect(merged).toEqual(wholeStats);
    disposeTensors([halves, whole]);
  });

  it('global-batch balance: the pre-pass counts the whole step, so the loss is the Switch loss of the whole batch', async () => {
    const before = liveTensorCount();
    const gen = new Generator(8);
    const halves = [0, 1].map(() => progressionBatch(gen, DATA));
    const model = build();
    const whole = tidy(() => ({
      ids: concat(
        halves.map((h) => h.ids),
        0,
      ),
    }));
    const reference = noGrad(() =>
      tidy(() => {
        const out = model.forward(whole);
        const values = out.moe.map((l) => switchLoadBalancingLoss(l.routing).itemSync());
        return values.reduce((a, b) => a + b, 0) / values.length;
      }),
    );
    const run = async (globalBatchCounts: 'running' | 'prepass') => {
      const optimizer = new Optimizer(model, sgd(), { lr: 1e-9 });
      const trainer = new Trainer({
        model,
        optimizer,
        loss: { balance: ['global-batch'], zLoss: 0 },
        globalBatchCounts,
        disposeBatches: false,
      });
      return (await trainer.trainStep(halves)).loss.balance;
    };
    expect(await run('prepass')).toBeCloseTo(reference, 6);
    expect(Math.abs((await run('running')) - reference)).toBeGreaterThan(1e-6);
    const fresh = build();
    const logs = await train(fresh, 40, { loss: { balance: ['global-batch'] }, accumulation: 2 });
    for (const layer of logs.at(-1)!.routing) expect(layer.maxMeanLoad).toBeLessThan(1.5);
    disposeTensors([halves, whole]);
    for (const m of [model, fresh]) m.dispose();
    expect(liveTensorCount()).toBe(before);
  });

  it('evaluates in eval mode without gradients every N steps and restores training mode', async () => {
    const model = build();
    const evals: EvalLog[] = [];
    const evalGen = new Generator(99);
    const logs = await train(model, 20, {
      eval: { every: 10, data: () => [0, 1].map(() => progressionBatch(evalGen, DATA)) },
      callbacks: { onEval: (log) => void evals.push(log) },
    });
    expect(logs).toHaveLength(20);
    expect(evals.map((e) => [e.step, e.batches, e.tokens])).toEqual([
      [10, 2, 2 * DATA.batch * DATA.seq],
      [20, 2, 2 * DATA.batch * DATA.seq],
    ]);
    expect(evals[1]!.loss.task).toBeLessThan(evals[0]!.loss.task);
    expect(evals[0]!.routing).toHaveLength(2);
    expect(model.training).toBe(true);
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
    model.dispose();
  });

  it('fails early on a NaN loss, naming the step, the micro-batch and the part; nothing is updated', async () => {
    const before = liveTensorCount();
    const model = build();
    const optimizer = new Optimizer(model, adamw(), { lr: 1e-2 });
    const trainer = new Trainer({ model, optimizer, accumulation: 2 });
    const data = progressionBatches(new Generator(1), DATA);
    await trainer.fit(data, { steps: 2 });
    tidy(() => model.head.weight.assign(full(model.head.weight.shape, Number.NaN)));
    const snapshot = model.embed.weight.dataSync().slice();
    await expect(trainer.fit(data, { steps: 1 })).rejects.toThrow(
      /\[Trainer\] step 3 \(micro-batch 1 of 2\): the loss is NaN; the task loss is NaN/,
    );
    expect(trainer.step).toBe(2);
    expect(model.embed.weight.dataSync()).toEqual(snapshot);
    expect(model.parameters().every((p) => p.grad === null)).toBe(true);
    optimizer.dispose();
    model.dispose();
    expect(liveTensorCount()).toBe(before);
  });

  it('names the MoE layer whose router z-loss overflows', async () => {
    const model = build();
    const router = moeLayers(model)[1]![1].router as unknown as { weight: Tensor };
    tidy(() => router.weight.assign(full(router.weight.shape, 1e25)));
    const optimizer = new Optimizer(model, adamw(), { lr: 1e-2 });
    const trainer = new Trainer({ model, optimizer });
    await expect(trainer.fit(progressionBatches(new Generator(1), DATA), { steps: 1 })).rejects.toThrow(
      /step 1 \(micro-batch 1 of 1\): the loss is Infinity; decoder MoE layer 1: router z-loss Infinity/,
    );
    optimizer.dispose();
    model.dispose();
  });

  it('fails early on a non-finite gradient with a finite loss, naming the parameter', async () => {
    const before = liveTensorCount();
    const model = build();
    const [name, target] = model.namedParameters().find(([n]) => n.endsWith('ffn.experts.w1'))!;
    const base = languageModelObjective();
    // sqrt(‖p − p‖²) is 0, but its gradient is 0 · ∞ = NaN, and it reaches p only.
    const objective: Objective = {
      usesGlobalLoad: false,
      loss: (out, batch, context) => {
        const parts = base.loss(out, batch, context);
        return { ...parts, total: add(parts.total, sqrt(sum(square(sub(target, target.detach()))))) };
      },
    };
    const optimizer = new Optimizer(model, adamw(), { lr: 1e-2 });
    const trainer = new Trainer({ model, optimizer, objective });
    const snapshot = target.dataSync().slice();
    await expect(trainer.fit(progressionBatches(new Generator(1), DATA), { steps: 1 })).rejects.toThrow(
      new RegExp(`step 1: the gradient norm is NaN; non-finite gradients in 1 parameter\\(s\\): ${name}$`),
    );
    expect(target.dataSync()).toEqual(snapshot);
    expect(optimizer.stepCount).toBe(0);
    optimizer.dispose();
    model.dispose();
    expect(liveTensorCount()).toBe(before);
  });

  it("takes the data package's BatchLoader as it is: padding masks, ignore labels, batches disposed", async () => {
    const before = liveTensorCount();
    const tokenizer = new ByteTokenizer();
    const dataset = PackedDataset.fromSamples(syntheticMixture({ samples: 40, seed: 0 }), {
      tokenizer,
      seqLen: 16,
      packing: 'document',
    });
    const loader = new BatchLoader(dataset, { batchSize: 4, seed: 0 });
    const model = build({ vocab: tokenizer.vocabSize, layers: 1 });
    const optimizer = new Optimizer(model, adamw(), { lr: 1e-2 });
    const logs: StepLog[] = [];
    const trainer = new Trainer({
      model,
      optimizer,
      accumulation: 2,
      loss: { balance: ['switch', 'sequence'] },
      callbacks: { onStep: (log) => void logs.push(log) },
    });
    const last = await trainer.fit(loader, { steps: 4 });
    expect(last?.step).toBe(4);
    expect(last?.tokens).toBe(2 * 4 * 16);
    expect(logs.every((l) => Number.isFinite(l.loss.total) && l.loss.layers.length === 1)).toBe(true);
    expect(logs.at(-1)!.loss.task).toBeLessThan(logs[0]!.loss.task);
    optimizer.dispose();
    model.dispose();
    expect(liveTensorCount()).toBe(before);
  });
});
