// Generation throughput with experts resident versus offloaded (host memory or a safetensors file) under
// device budgets smaller than the experts. Run from the repository root:
//
//   node --conditions=@switchyard/source --import tsx packages/inference/bench/generation.ts \
//     [--experts 32] [--batch 1] [--prompt 16] [--tokens 32] [--repeat 3] [--backend cpu|webgpu] [--json]
//
// Prints one row per configuration: tokens/s over the whole generate call (prefill included; the fastest of
// --repeat round-robin runs, each offloaded run starting from an empty expert cache) and the expert cache's
// hit rate, bytes moved and peak bytes; or with --json one JSON object for the benchmark app.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, scalePreset, tinyPreset } from '@switchyard/presets';
import { Generator, init } from '@switchyard/tensor';
import {
  type ExpertCacheStats,
  type ExpertOffload,
  type ExpertStore,
  expertBytes,
  type GenerateOptions,
  type GenerationResult,
  generate,
  HostExpertStore,
  offloadExperts,
  SafetensorsExpertStore,
  saveExperts,
} from '../src/index.js';

interface Row {
  config: string;
  /** Generated tokens per second of wall time. */
  tokensPerSecond: number;
  /** Generated tokens per second of this process's CPU time (steadier than wall time on a busy machine). */
  tokensPerCpuSecond: number;
  seconds: number;
  hitRate: number | null;
  bytesMoved: number | null;
  peakBytes: number | null;
  budgetBytes: number | null;
}

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : (process.argv[at + 1] ?? fallback);
}

const experts = flag('experts', 32);
const batch = flag('batch', 1);
const promptLength = flag('prompt', 16);
const tokens = flag('tokens', 32);
const repeats = flag('repeat', 3);
const json = process.argv.includes('--json');
const backend = await init({ backend: option('backend', 'cpu') as 'cpu' | 'webgpu' });

const config = scalePreset(tinyPreset('mixtral-8x7b'), {
  name: `mixtral-tiny-${experts}e`,
  moe: { numExperts: experts },
});
const makeModel = () => buildModel(config, { generator: new Generator(0) });
const data = new Generator(1);
const prompts = await Promise.all(
  Array.from({ length: batch }, async () =>
    Array.from(await data.randint([promptLength], 0, config.embedding.vocabSize).data()),
  ),
);

interface Setup {
  name: string;
  model: ReturnType<typeof makeModel>;
  options: Omit<GenerateOptions, 'maxNewTokens'>;
  offload: ExpertOffload | null;
}

const resident = makeModel();
const host = await HostExpertStore.fromModel(resident);
const total = host.layers.reduce((n, l) => n + l.numExperts * expertBytes(l), 0);
const dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-'));
const file = join(dir, 'experts.safetensors');
await saveExperts(file, host);
const setups: Setup[] = [{ name: 'resident', model: resident, options: { stopTokens: [] }, offload: null }];
const offloaded: [string, () => Promise<ExpertStore>, number, boolean][] = [
  ['host, budget 100%', async () => host, 1, true],
  ['host, budget 50%', async () => host, 0.5, true],
  ['host, budget 25%', async () => host, 0.25, true],
  ['host, budget 25%, no prefetch', async () => host, 0.25, false],
  ['file, budget 50%', () => SafetensorsExpertStore.open(file), 0.5, true],
];
for (const [name, store, share, prefetch] of offloaded) {
  const model = makeModel();
  const offload = await offloadExperts(model, {
    store: await store(),
    budgetBytes: Math.floor(total * share),
    prefetch,
  });
  setups.push({ name, model, options: { stopTokens: [], offload }, offload });
}

// Round robin, so that no configuration gains from running later (JIT warm-up, a busier machine); each
// offloaded run starts from an empty expert cache. The fastest run counts; statistics are the first run's.
const seconds = setups.map(() => Number.POSITIVE_INFINITY);
const cpuSeconds = setups.map(() => Number.POSITIVE_INFINITY);
const firsts: (GenerationResult | null)[] = setups.map(() => null);
for (const s of setups) await generate(s.model, prompts, { ...s.options, maxNewTokens: 2 });
for (let r = 0; r < repeats; r++) {
  for (const [i, s] of setups.entries()) {
    await s.offload?.cache.clear();
    const start = performance.now();
    const cpu = process.cpuUsage();
    const result = await generate(s.model, prompts, { ...s.options, maxNewTokens: tokens });
    const used = process.cpuUsage(cpu);
    seconds[i] = Math.min(seconds[i] as number, (performance.now() - start) / 1000);
    cpuSeconds[i] = Math.min(cpuSeconds[i] as number, (used.user + used.system) / 1e6);
    firsts[i] ??= result;
  }
}
const rows: Row[] = setups.map((setup, i) => {
  const stats: ExpertCacheStats | null = (firsts[i] as GenerationResult).experts;
  return {
    config: setup.name,
    tokensPerSecond: (batch * tokens) / (seconds[i] as number),
    tokensPerCpuSecond: (batch * tokens) / (cpuSeconds[i] as number),
    seconds: seconds[i] as number,
    hitRate: stats?.hitRate ?? null,
    bytesMoved: stats?.bytesMoved ?? null,
    peakBytes: stats?.peakBytes ?? null,
    budgetBytes: stats?.budgetBytes ?? null,
  };
});
const reference = JSON.stringify(firsts[0]?.tokens);
const identical = firsts.every((f) => JSON.stringify(f?.tokens) === reference);
for (const s of setups) {
  await s.offload?.dispose();
  await s.offload?.store.close();
  s.model.dispose();
}
await rm(dir, { recursive: true, force: true });

const MiB = 2 ** 20;
if (json) {
  console.log(
    JSON.stringify({
      bench: 'generation-offload',
      backend: backend.backend,
      model: config.name,
      experts: { layers: host.layers.length, perLayer: experts, totalBytes: total },
      batch,
      promptLength,
      newTokens: tokens,
      identicalTokens: identical,
      rows,
    }),
  );
} else {
  console.log(
    `${config.name} on ${backend.backend}: ${host.layers.length} MoE layers x ${experts} experts = ${(total / MiB).toFixed(1)} MiB of experts; ` +
      `batch ${batch}, prompt ${promptLength}, ${tokens} new tokens; offloaded tokens identical to resident: ${identical}`,
  );
  console.log(
    'config                          tokens/s  tokens/cpu-s   hit rate   MiB moved   peak/budget MiB',
  );
  for (const r of rows) {
    const hit = r.hitRate === null ? '-' : `${(100 * r.hitRate).toFixed(1)}%`;
    const moved = r.bytesMoved === null ? '-' : (r.bytesMoved / MiB).toFixed(1);
    const peak =
      r.peakBytes === null
        ? '-'
        : `${(r.peakBytes / MiB).toFixed(2)}/${((r.budgetBytes ?? 0) / MiB).toFixed(2)}`;
    console.log(
      `${r.config.padEnd(30)} ${r.tokensPerSecond.toFixed(1).padStart(9)} ${r.tokensPerCpuSecond.toFixed(1).padStart(13)} ${hit.padStart(10)} ${moved.padStart(11)} ${peak.padStart(17)}`,
    );
  }
}
backend.destroy();
