// Expert parallelism over worker threads on this machine's cores: one training step (forward, backward, router
// gradient all-reduce) of one MoE layer on 1 worker rank and on 2, and their ratio. Both runs hold the same
// global batch; with 2 ranks each computes half the experts for half the tokens' assignments, and the rows
// cross between the ranks through shared memory.
//
// It also reports the CPU time of a step (the whole process: both ranks' threads), which does not depend on
// how much of the machine other processes take: 2 · CPU(1 rank) / CPU(2 ranks) is the speed-up two free
// cores would give, the gap to 2 being what parallelism costs (exchanges, copies, smaller matmuls).
//
//   node --conditions=@switchyard/source --import tsx packages/parallel/bench/expert-parallel.ts [--steps 5] [--rounds 3]
//
// This file is both the script (main thread) and the rank program the workers import (its default export).
import { isMainThread } from 'node:worker_threads';
import { GroupedExperts } from '@switchyard/experts';
import { disposeStats, MoELayer } from '@switchyard/moe';
import { disposeRouting, TopKRouter } from '@switchyard/routers';
import { Generator, mul, sum, tidy } from '@switchyard/tensor';
import { allReduceGradients, type Communicator, ExpertParallelLayer, launchWorkers } from '../src/index.js';

export interface BenchConfig {
  tokens: number;
  dModel: number;
  dHidden: number;
  numExperts: number;
  topK: number;
  steps: number;
}

/** Wall-clock and process CPU milliseconds of one training step (medians over the steps after a warm-up). */
export interface StepTime {
  ms: number;
  cpuMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Times training steps on this rank, each between barriers. */
export default async function rank(comm: Communicator, config: BenchConfig): Promise<StepTime> {
  const { dModel, dHidden, numExperts, topK } = config;
  const generator = new Generator(0);
  const layer = new MoELayer({
    router: new TopKRouter({ dModel, numExperts, topK, normalize: true, generator }),
    experts: new GroupedExperts({ numExperts, dModel, dHidden, activation: 'silu', gated: true, generator }),
  });
  const ep = new ExpertParallelLayer(layer, { expert: comm });
  const data = new Generator(1 + comm.rank);
  const t = config.tokens / comm.size;
  const x = data.normal([t, dModel]).requireGrad();
  const target = data.normal([t, dModel]);
  const step = async () => {
    const out = await ep.forward(x);
    tidy(() => sum(mul(out.y, target)).backward());
    await ep.backward();
    await allReduceGradients(layer.router.parameters(), comm);
    out.y.dispose();
    disposeRouting(out.routing);
    disposeStats(out.stats);
    layer.zeroGrad();
    x.zeroGrad();
  };
  await step();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < config.steps; i++) {
    await comm.barrier();
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    await step();
    await comm.barrier();
    const used = process.cpuUsage(cpuStart);
    wall.push(performance.now() - start);
    cpu.push((used.user + used.system) / 1000);
  }
  return { ms: median(wall), cpuMs: median(cpu) };
}

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

async function main(): Promise<void> {
  const config: BenchConfig = {
    tokens: 2048,
    dModel: 256,
    dHidden: 512,
    numExperts: 8,
    topK: 2,
    steps: flag('steps', 5),
  };
  const rounds = flag('rounds', 3);
  const entry = new URL(import.meta.url);
  const flops = 3 * 2 * config.tokens * config.topK * 3 * config.dModel * config.dHidden;
  console.log(
    `MoE layer: T=${config.tokens} D=${config.dModel} F=${config.dHidden} (SwiGLU) E=${config.numExperts} K=${config.topK}; ` +
      `${(flops / 1e9).toFixed(1)} GFLOP of expert matmuls per training step`,
  );
  // Rounds alternate the two layouts, so that a change in the machine's load hits both alike.
  const one: StepTime[] = [];
  const two: StepTime[] = [];
  for (let round = 0; round < rounds; round++) {
    one.push((await launchWorkers<StepTime, BenchConfig>(entry, { size: 1, data: config }))[0] as StepTime);
    const ranks = await launchWorkers<StepTime, BenchConfig>(entry, { size: 2, data: config });
    two.push({ ms: Math.max(...ranks.map((r) => r.ms)), cpuMs: (ranks[0] as StepTime).cpuMs });
    const [a, b] = [one.at(-1) as StepTime, two.at(-1) as StepTime];
    console.log(
      `round ${round + 1}: 1 rank ${a.ms.toFixed(0)} ms/step (CPU ${a.cpuMs.toFixed(0)} ms), ` +
        `2 ranks ${b.ms.toFixed(0)} ms/step (CPU ${b.cpuMs.toFixed(0)} ms over both threads): ${(a.ms / b.ms).toFixed(2)}x`,
    );
  }
  const [wall1, wall2] = [median(one.map((t) => t.ms)), median(two.map((t) => t.ms))];
  const [cpu1, cpu2] = [median(one.map((t) => t.cpuMs)), median(two.map((t) => t.cpuMs))];
  console.log(
    `1 worker rank : ${wall1.toFixed(0)} ms/step, CPU ${cpu1.toFixed(0)} ms (medians of ${rounds} rounds × ${config.steps} steps)`,
  );
  console.log(`2 worker ranks: ${wall2.toFixed(0)} ms/step, CPU ${cpu2.toFixed(0)} ms`);
  const best = Math.max(...one.map((a, i) => a.ms / (two[i] as StepTime).ms));
  console.log(
    `speed-up 1 -> 2 ranks: ${(wall1 / wall2).toFixed(2)}x wall clock (best round ${best.toFixed(2)}x)`,
  );
  console.log(`CPU-time bound with two free cores: ${((2 * cpu1) / cpu2).toFixed(2)}x`);
}

if (isMainThread) await main();
