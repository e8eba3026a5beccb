// Shape letters: B batch, S sequence, T = B·S tokens, D model width, E experts, V vocabulary.
//
// Compose a custom MoE stack from parts: hash routing in the lower layers (Roller et al. 2021: no router to
// train, every token id has a fixed expert), expert choice above (Zhou et al. 2022: each expert takes its top
// C tokens, so the load is balanced by construction) with DeepSeek-style fine-grained routed experts beside
// always-on shared experts. Expert choice looks at the whole batch, so this stack is an encoder (attention is
// not causal).
import { fineGrained, GroupedExperts, SharedExperts } from '@switchyard/experts';
import { disposeStats, MoELayer, readStats, TransformerBlock } from '@switchyard/moe';
import { Embedding } from '@switchyard/nn';
import { disposeRouting, ExpertChoiceRouter, HashRouter } from '@switchyard/routers';
import { Generator } from '@switchyard/tensor';

const B = 2;
const S = 16;
const D = 16;
const V = 64;

export async function main(log: (line: string) => void = console.log): Promise<number[][]> {
  const gen = new Generator(0);
  const embed = new Embedding(V, D, { generator: gen });

  // Lower layers: 4 experts of width 32, each token id hashed to one of them.
  const hashLayer = () =>
    new MoELayer({
      router: new HashRouter({ numExperts: 4, hash: 'random', vocabSize: V, generator: gen }),
      experts: new GroupedExperts({
        numExperts: 4,
        dModel: D,
        dHidden: 32,
        activation: 'gelu',
        generator: gen,
      }),
    });
  // Upper layers: the same 4 x 32 budget cut into 8 experts of width 16 (DeepSeekMoE's fine-grained
  // segmentation), picked by expert choice with capacity factor 2, plus 2 always-on shared experts.
  const routed = fineGrained({ numExperts: 4, dHidden: 32, topK: 1 }, 2);
  const expertChoiceLayer = () =>
    new MoELayer({
      router: new ExpertChoiceRouter({
        dModel: D,
        numExperts: routed.numExperts,
        capacityFactor: routed.topK,
        generator: gen,
      }),
      experts: new GroupedExperts({
        numExperts: routed.numExperts,
        dModel: D,
        dHidden: routed.dHidden,
        activation: 'silu',
        gated: true,
        generator: gen,
      }),
      shared: new SharedExperts({
        dModel: D,
        dHidden: routed.dHidden,
        numShared: 2,
        activation: 'silu',
        gated: true,
        generator: gen,
      }),
    });
  const moe = [hashLayer(), hashLayer(), expertChoiceLayer(), expertChoiceLayer()];
  const blocks = moe.map(
    (ffn) => new TransformerBlock({ dModel: D, heads: 2, causal: false, ffn, generator: gen }),
  );

  const ids = gen.randint([B, S], 0, V);
  for (const layer of moe) {
    if (layer.router instanceof HashRouter) layer.router.setTokenIds(ids);
  }
  let h = embed.forward(ids);
  const loads: number[][] = [];
  for (const [i, block] of blocks.entries()) {
    const { y, moe: out } = block.forward(h);
    h.dispose();
    h = y;
    if (!out) continue;
    const stats = await readStats(out.stats);
    loads.push(stats.tokensPerExpert);
    log(
      `layer ${i} ${out.routing.kind === 'expert-choice' ? 'expert choice' : 'hash         '} ` +
        `tokens/expert [${stats.tokensPerExpert}] max/mean ${stats.maxMeanLoad.toFixed(2)}`,
    );
    disposeRouting(out.routing);
    disposeStats(out.stats);
  }
  log(`output ${JSON.stringify(h.shape)}, ${blocks.reduce((n, b) => n + b.parameterCount(), 0)} parameters`);

  h.dispose();
  ids.dispose();
  embed.dispose();
  for (const block of blocks) block.dispose();
  return loads;
}
