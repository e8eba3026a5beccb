// Builds the same MoE layer on every rank and on one device, runs a step on both, and reads everything
// back to the host for comparison. The loss is Σ y ⊙ target, linear in y, so the single-device gradient is
// the sum of the ranks' gradients.
import { GroupedExperts, SharedExperts } from '@switchyard/experts';
import { type CapacityConfig, disposeStats, LocalDispatcher, MoELayer } from '@switchyard/moe';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import { concat, fromHost, Generator, mul, sum, type Tensor, tidy } from '@switchyard/tensor';
import {
  allReduceGradients,
  type Communicator,
  type ExpertParallelGroups,
  ExpertParallelLayer,
  type ExpertPlacement,
  withBackend,
} from '../src/index.js';

export interface LayerSpec {
  dModel: number;
  numExperts: number;
  topK: number;
  dHidden: number;
  gated?: boolean;
  shared?: boolean;
  seed: number;
}

/** The layer every rank builds: same config, same seed. */
export function buildLayer(spec: LayerSpec, capacity: CapacityConfig = {}): MoELayer {
  const generator = new Generator(spec.seed);
  const { dModel, numExperts, topK, dHidden } = spec;
  return new MoELayer({
    router: new TopKRouter({ dModel, numExperts, topK, normalize: true, generator }),
    experts: new GroupedExperts({
      numExperts,
      dModel,
      dHidden,
      activation: 'silu',
      gated: spec.gated ?? true,
      generator,
    }),
    dispatcher: new LocalDispatcher(capacity),
    ...(spec.shared
      ? { shared: new SharedExperts({ dModel, dHidden, activation: 'silu', gated: true, generator }) }
      : {}),
  });
}

/** Tokens and targets of each rank, as host rows [T_r · D]. */
export function rankData(seed: number, tokens: readonly number[], d: number) {
  const g = new Generator(seed);
  return tokens.map((t) => ({
    x: g.normal([t, d]).dataSync() as Float32Array,
    target: g.normal([t, d]).dataSync() as Float32Array,
  }));
}

export interface StepResult {
  y: Float32Array;
  xGrad: Float32Array;
  /** Gradients by parameter name (experts: the rank's shard). */
  grads: Map<string, Float32Array>;
}

async function collect(layer: MoELayer, y: Tensor, x: Tensor): Promise<StepResult> {
  const grads = new Map<string, Float32Array>();
  for (const [name, p] of layer.namedParameters()) {
    grads.set(name, ((await p.grad?.data()) ?? new Float32Array(p.size)) as Float32Array);
  }
  return { y: (await y.data()) as Float32Array, xGrad: (await x.grad?.data()) as Float32Array, grads };
}

/** One step of the single-device layer on every rank's tokens concatenated in rank order. */
export function referenceStep(
  spec: LayerSpec,
  data: ReturnType<typeof rankData>,
  capacity: CapacityConfig = {},
  training = true,
): StepResult {
  const read = (t: Tensor | null) => t?.dataSync() as Float32Array;
  const layer = buildLayer(spec, capacity);
  layer.train(training);
  const d = spec.dModel;
  const xs = data.map((r) => fromHost(r.x, [r.x.length / d, d], 'f32'));
  const ts = data.map((r) => fromHost(r.target, [r.target.length / d, d], 'f32'));
  const x = concat(xs, 0).requireGrad();
  const target = concat(ts, 0);
  const out = layer.forward(x);
  tidy(() => sum(mul(out.y, target)).backward());
  const grads = new Map(layer.namedParameters().map(([name, p]) => [name, read(p.grad)]));
  const result = { y: read(out.y), xGrad: read(x.grad), grads };
  for (const t of [...xs, ...ts, x, target, out.y]) t.dispose();
  disposeRouting(out.routing);
  disposeStats(out.stats);
  layer.zeroGrad();
  layer.dispose();
  return result;
}

export interface ParallelSetup {
  groups: ExpertParallelGroups;
  placement?: ExpertPlacement;
  capacity?: CapacityConfig;
  training?: boolean;
  /** Rank of this member's data (default the expert rank). */
  dataRank?: number;
  /** Data-parallel replicas of the expert shards: their gradients are summed over this group too. */
  expertSumOver?: Communicator;
  /** Whether the input requires grad (default true). */
  inputGrad?: boolean;
}

/** One expert-parallel step on this rank; router and shared-expert gradients summed over `sumOver`. */
export async function parallelStep(
  spec: LayerSpec,
  data: ReturnType<typeof rankData>,
  setup: ParallelSetup,
  sumOver: Communicator,
): Promise<StepResult & { ep: ExpertParallelLayer }> {
  const comm = setup.groups.expert;
  const d = spec.dModel;
  const mine = data[setup.dataRank ?? comm.rank] as { x: Float32Array; target: Float32Array };
  const { layer, x, target } = withBackend(comm.backend, () => ({
    layer: buildLayer(spec).train(setup.training ?? true),
    x: (() => {
      const x = fromHost(mine.x, [mine.x.length / d, d], 'f32');
      x.requiresGrad = setup.inputGrad ?? true;
      return x;
    })(),
    target: fromHost(mine.target, [mine.target.length / d, d], 'f32'),
  }));
  const ep = new ExpertParallelLayer(layer, setup.groups, {
    ...(setup.placement ? { placement: setup.placement } : {}),
    ...(setup.capacity ? { capacity: setup.capacity } : {}),
  });
  const out = await ep.forward(x);
  withBackend(comm.backend, () => tidy(() => sum(mul(out.y, target)).backward()));
  await ep.backward();
  const replicated = layer.namedParameters().filter(([name]) => !name.startsWith('experts.'));
  await allReduceGradients(
    replicated.map(([, p]) => p),
    sumOver,
    { average: false },
  );
  if (setup.expertSumOver) {
    const experts = layer.namedParameters().filter(([name]) => name.startsWith('experts.'));
    await allReduceGradients(
      experts.map(([, p]) => p),
      setup.expertSumOver,
      { average: false },
    );
  }
  const result = await collect(layer, out.y, x);
  for (const t of [x, target, out.y]) t.dispose();
  disposeRouting(out.routing);
  disposeStats(out.stats);
  layer.zeroGrad();
  return { ...result, ep };
}
