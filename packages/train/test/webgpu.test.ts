// The Trainer on the WebGPU backend (Dawn in Node; SwiftShader where there is no GPU): a short run of the tiny
// MoE language model whose loss falls, with balanced routing and flat memory. Skips with a visible line when
// no adapter exists; SWITCHYARD_REQUIRE_WEBGPU=1 makes that a failure.
import { Generator, getBackend, liveTensorCount, setBackend, type WebGPUBackend } from '@switchyard/tensor';
import { webgpuForTests } from '@switchyard/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressionBatch, progressionBatches, TinyLM } from '../examples/tiny-moe-lm.js';
import { adamw, Optimizer, type StepLog, Trainer } from '../src/index.js';

const gpu = await webgpuForTests('WebGPU trainer test');
const available = gpu !== null;

describe.runIf(available)(`Trainer on WebGPU (${gpu?.describe() ?? 'unavailable'})`, () => {
  const backend = gpu as WebGPUBackend;
  let previous = getBackend();
  beforeAll(() => {
    previous = getBackend();
    setBackend(backend);
  });
  afterAll(() => {
    setBackend(previous);
    backend.destroy();
  });

  it('trains the tiny MoE LM: the loss falls, max/mean load stays below 1.5, memory stays flat', async () => {
    const before = liveTensorCount();
    const model = new TinyLM({
      vocab: 16,
      dModel: 16,
      layers: 1,
      heads: 2,
      numExperts: 4,
      topK: 2,
      dHidden: 16,
      seed: 0,
    });
    const optimizer = new Optimizer(model, adamw(), { lr: 2e-2 });
    const logs: StepLog[] = [];
    const memory: string[] = [];
    const trainer = new Trainer({
      model,
      optimizer,
      clipNorm: 1,
      // A short run: a stronger balance term than the papers' 1e-2 settles the load within a few steps.
      loss: { balance: [{ loss: 'switch', coefficient: 0.1 }] },
      callbacks: {
        onStep: (log) => {
          logs.push(log);
          memory.push(JSON.stringify({ live: liveTensorCount(), ...backend.memory() }));
        },
      },
    });
    await trainer.fit(progressionBatches(new Generator(1), { batch: 8, seq: 8, vocab: 16 }), { steps: 12 });
    // The load of 64-token steps is noisy: measure it on 4 held-out batches, merged, in eval mode.
    const evalGen = new Generator(9);
    const held = await trainer.evaluate(
      [0, 1, 2, 3].map(() => progressionBatch(evalGen, { batch: 8, seq: 8, vocab: 16 })),
    );
    const [first, last] = [logs[0]!, logs.at(-1)!];
    console.log(
      `WebGPU: loss ${first.loss.total.toFixed(3)} -> ${last.loss.total.toFixed(3)} in ${logs.length} steps, ` +
        `held-out max/mean load ${held.routing[0]!.maxMeanLoad.toFixed(2)}, ${Math.round(last.tokensPerSecond)} tokens/s`,
    );
    expect(last.loss.task).toBeLessThan(0.7 * first.loss.task);
    expect(held.routing[0]!.maxMeanLoad).toBeLessThan(1.5);
    expect(held.loss.task).toBeLessThan(0.7 * first.loss.task);
    expect(new Set(memory.slice(1)).size).toBe(1);
    optimizer.dispose();
    model.dispose();
    expect(liveTensorCount()).toBe(before);
  });
});
