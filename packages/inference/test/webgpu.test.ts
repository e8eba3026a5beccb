// Generation on the WebGPU backend (Dawn in Node; SwiftShader where there is no GPU): a tiny DeepSeek-V3 (latent
// cache, asynchronous readbacks) generates the CPU backend's tokens, with its experts resident and offloaded.
// Skips with a visible line when no adapter exists; SWITCHYARD_REQUIRE_WEBGPU=1 makes that a failure.
import { buildModel, tinyPreset } from '@switchyard/presets';
import { Generator, getBackend, liveTensorCount, setBackend, type WebGPUBackend } from '@switchyard/tensor';
import { webgpuForTests } from '@switchyard/tensor/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, offloadExperts } from '../src/index.js';

const gpu = await webgpuForTests('WebGPU generation test');
const available = gpu !== null;

describe.runIf(available)(`generate on WebGPU (${gpu?.describe() ?? 'unavailable'})`, () => {
  afterAll(() => {
    (gpu as WebGPUBackend).destroy();
  });

  it('a tiny DeepSeek-V3 generates the CPU tokens, resident and with its experts offloaded', {
    timeout: 300_000,
  }, async () => {
    const prompts = [[5, 17, 301], [77]];
    const build = () => buildModel(tinyPreset('deepseek-v3'), { generator: new Generator(0) });
    const onCpu = build();
    const expected = await generate(onCpu, prompts, { maxNewTokens: 3 });
    onCpu.dispose();
    const previous = getBackend();
    setBackend(gpu as WebGPUBackend);
    try {
      const model = build();
      const before = liveTensorCount();
      const resident = await generate(model, prompts, { maxNewTokens: 3 });
      expect(resident.tokens).toEqual(expected.tokens);
      const offload = await offloadExperts(model, { budgetBytes: 2 ** 16 });
      const offloaded = await generate(model, prompts, { maxNewTokens: 3, offload });
      expect(offloaded.tokens).toEqual(expected.tokens);
      expect(offloaded.experts!.peakBytes).toBeLessThanOrEqual(2 ** 16);
      await offload.dispose();
      expect(liveTensorCount()).toBe(before - 9); // the model's 3 layers x (w1, w2, w3) were released
      model.dispose();
    } finally {
      setBackend(previous);
    }
  });
});
