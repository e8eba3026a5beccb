// The README's cluster table: planCluster for DeepSeek-V3 and Mixtral at cluster scale, beside the setups
// their authors and others published. Run by test/examples.test.ts, which checks the README shows this output.
import { countParameters, getPreset } from '@switchyard/presets';
import { type ClusterSpec, type ParallelStrategy, planCluster } from '../src/index.js';

const GB = 1e9;

/** H800 SXM: H100 compute (989 TFLOPS dense BF16) with NVLink cut down; DeepSeek-V3 §3.1–3.2 quotes 160 GB/s NVLink, 50 GB/s IB per GPU. */
const h800 = (devices: number): ClusterSpec => ({
  name: `${devices} × H800`,
  devices,
  devicesPerNode: 8,
  memoryBytes: 80 * GB,
  peakFlops: 989e12,
  intraNodeBandwidth: 160e9,
  interNodeBandwidth: 50e9,
});

/** H100 SXM: 989 TFLOPS dense BF16, NVLink 450 GB/s per direction, one 400 Gb/s NIC per GPU. */
const h100 = (devices: number): ClusterSpec => ({
  name: `${devices} × H100`,
  devices,
  devicesPerNode: 8,
  memoryBytes: 80 * GB,
  peakFlops: 989e12,
  intraNodeBandwidth: 450e9,
  interNodeBandwidth: 50e9,
});

/** A100 SXM 80 GB: 312 TFLOPS dense BF16, NVLink 300 GB/s per direction, one 200 Gb/s NIC per GPU. */
const a100 = (devices: number): ClusterSpec => ({
  name: `${devices} × A100-80GB`,
  devices,
  devicesPerNode: 8,
  memoryBytes: 80 * GB,
  peakFlops: 312e12,
  intraNodeBandwidth: 300e9,
  interNodeBandwidth: 25e9,
});

interface Row {
  preset: string;
  cluster: ClusterSpec;
  layout: string;
  strategy: ParallelStrategy;
  published: string;
}

/** DeepSeek-V3's published training run: FP8 dispatch, BF16 combine, BF16 optimizer moments (§3.3). */
const v3Training: ParallelStrategy = {
  expertParallel: 64,
  pipelineParallel: 16,
  zero: 1,
  globalBatch: 15360,
  microBatch: 1,
  seqLen: 4096,
  bytes: { weight: 2, gradient: 4, optimizer: 8, activation: 1, dispatch: 1, combine: 2 },
  nodeLimit: 4,
  overlapAllToAll: true,
};

const ROWS: Row[] = [
  {
    preset: 'deepseek-v3',
    cluster: h800(2048),
    layout: 'PP16 · EP64 · ZeRO-1 DP128, FP8 dispatch, ≤4 nodes/token, all-to-all overlapped',
    strategy: v3Training,
    published: '2048 H800, PP16, EP64 over 8 nodes, ZeRO-1 DP: 180K GPU-h per 10¹² tokens [1]',
  },
  {
    preset: 'deepseek-v3',
    cluster: h800(2048),
    layout: 'same, all-to-all not overlapped',
    strategy: { ...v3Training, overlapAllToAll: false },
    published: 'DualPipe hides it: "near-zero all-to-all overhead" [1]',
  },
  {
    preset: 'deepseek-v3',
    cluster: h800(2048),
    layout: 'PP16 · EP8 (inside a node) · ZeRO-1 DP128',
    strategy: { ...v3Training, expertParallel: 8, nodeLimit: undefined },
    published: '—',
  },
  {
    preset: 'mixtral-8x7b',
    cluster: h100(64),
    layout: 'EP8 · ZeRO-1 DP64, BF16, seq 4096',
    strategy: {
      expertParallel: 8,
      zero: 1,
      globalBatch: 512,
      microBatch: 1,
      seqLen: 4096,
      recompute: 'full',
    },
    published: 'no training setup published by Mistral AI',
  },
  {
    preset: 'mixtral-8x7b',
    cluster: a100(1),
    layout: 'inference, BF16 weights',
    strategy: { expertParallel: 1, globalBatch: 1, microBatch: 1, seqLen: 4096, training: false },
    published: '"requires 90GB of VRAM in half-precision" [2]; BF16 OOM on 1 A100-80GB [3]',
  },
  {
    preset: 'mixtral-8x7b',
    cluster: a100(2),
    layout: 'inference, BF16 weights, EP2',
    strategy: { expertParallel: 2, globalBatch: 2, microBatch: 1, seqLen: 4096, training: false },
    published: 'BF16 runs on 2 A100-80GB (tensor parallel) [3]',
  },
  {
    preset: 'mixtral-8x22b',
    cluster: h100(128),
    layout: 'PP4 · EP8 · ZeRO-1 DP32, BF16, seq 4096',
    strategy: {
      expertParallel: 8,
      pipelineParallel: 4,
      zero: 1,
      globalBatch: 1024,
      microBatch: 1,
      seqLen: 4096,
      recompute: 'full',
    },
    published: '—',
  },
];

const gb = (bytes: number) => (bytes / GB).toFixed(1);
const thousands = (x: number) => `${(x / 1000).toFixed(0)}K`;

/** The table as markdown lines. */
export function clusterTable(): string[] {
  const lines = [
    '| model | cluster | layout | memory / device, GB (weights + grads + optimizer + activations) | fits | all-to-all / device / step, GB (NVLink + IB) | step, s | GPU-h per 10¹² tokens | published |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of ROWS) {
    const config = getPreset(row.preset);
    const plan = planCluster({ config, parameters: countParameters(config) }, row.cluster, row.strategy);
    const m = plan.memory;
    const training = row.strategy.training ?? true;
    const memory = training
      ? `${gb(m.total)} (${gb(m.weights)} + ${gb(m.gradients)} + ${gb(m.optimizer)} + ${gb(m.activations)})`
      : `${gb(m.total)} (weights)`;
    const a2a = plan.allToAllBytes;
    lines.push(
      `| ${row.preset} | ${row.cluster.name} | ${row.layout} | ${memory} | ${plan.fitsInMemory ? 'yes' : 'no'} | ` +
        `${training ? `${gb(a2a.intraNode)} + ${gb(a2a.interNode)}` : '—'} | ` +
        `${training ? plan.time.step.toFixed(1) : '—'} | ` +
        `${training ? thousands(plan.deviceHoursPerTrillionTokens) : '—'} | ${row.published} |`,
    );
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(clusterTable().join('\n'));
