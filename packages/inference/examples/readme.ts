// README example: a tiny DeepSeek-V3 (multi-head latent attention with its compressed KV cache, sigmoid top-2
// routing, a shared expert) generates greedily and by sampling, streams tokens with the experts each read
// token went to, then runs again with its experts off the device under a budget smaller than the experts.
import { buildModel, tinyPreset } from '@switchyard/presets';
import { Generator } from '@switchyard/tensor';
import { expertBytes, generate, generateStream, HostExpertStore, offloadExperts } from '../src/index.js';

export async function readme(log: (line: string) => void = console.log): Promise<void> {
  const model = buildModel(tinyPreset('deepseek-v3'), { generator: new Generator(0) });
  const prompts = [
    [1, 5, 17, 301],
    [1, 42],
  ]; // left-padded into one batch; each row generates what it would alone

  const greedy = await generate(model, prompts, { maxNewTokens: 6 });
  log(`greedy   ${JSON.stringify(greedy.tokens)}`);
  const sampling = { temperature: 0.8, topK: 50, topP: 0.95, generator: new Generator(42) };
  const sampled = await generate(model, prompts, { maxNewTokens: 6, sampling });
  log(`sampled  ${JSON.stringify(sampled.tokens)}`);

  // Streaming, with the routing trace: the experts of the last MoE layer for each token read.
  for await (const step of generateStream(model, [[1, 5, 17, 301]], { maxNewTokens: 3, trace: true })) {
    const read = step.routing![0]!.map((t) => `${t.token}->[${t.layers.at(-1)!.experts.join(',')}]`);
    log(`step ${step.step}: read ${read.join(' ')}, wrote ${step.tokens[0]}`);
  }

  // Experts off the device: 8 experts x 3 MoE layers on the host, at most 4 experts on the device.
  const store = await HostExpertStore.fromModel(model);
  const one = expertBytes(store.layers[0]!);
  const offload = await offloadExperts(model, { store, budgetBytes: 4 * one });
  const offloaded = await generate(model, prompts, { maxNewTokens: 6, offload });
  const s = offloaded.experts!;
  log(
    `offloaded ${JSON.stringify(offloaded.tokens)} (same: ${JSON.stringify(offloaded.tokens) === JSON.stringify(greedy.tokens)})`,
  );
  log(
    `experts: ${s.requests} requests, hit rate ${(100 * s.hitRate).toFixed(0)}% (${s.prefetchHits} prefetched), ` +
      `${(s.bytesMoved / 1024).toFixed(0)} KiB moved, peak ${(s.peakBytes / 1024).toFixed(0)} of ${(s.budgetBytes / 1024).toFixed(0)} KiB`,
  );
  await offload.dispose();
  model.dispose();
}
