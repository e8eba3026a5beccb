import type { BenchCase } from '../bench-case.js';
import { moeCase } from '../moe-case.js';

const EXPERTS = [8, 16, 32, 64, 128, 256];

/**
 * `moe-experts-E`, the sparse promise: a forward pass at fixed K = 4 and F = 256 (D = 256) as E grows from 8
 * to 256, in tokens/s. The active FLOPs per token stay the same except the router's 2·D·E; time per token
 * (1 / value) should stay flat. These cases keep T = 4096 on the CPU backends: at T/8 = 512 an expert of 256
 * gets 8 rows, so every forward reads all 256 experts' 50 MiB of weights for 0.8 GFLOP of work, and any
 * implementation is bound by memory traffic there rather than by the routing this case is about. On a
 * software WebGPU adapter they run at T/64 = 64 (SwiftShader is slow), where the same holds (one row an expert
 * at E=256): the WebGPU E-ratio there is weight traffic, for every implementation.
 */
export const moeExpertsCases: BenchCase[] = EXPERTS.map((experts) =>
  moeCase({
    name: `moe-experts-${experts}`,
    quick: experts === 8 || experts === 256,
    mode: 'fwd',
    shape: { tokens: 4096, dModel: 256, dHidden: 256, experts, topK: 4, shared: 0, normalize: true },
    fullCpuTokens: { tfjsCpuSkip: 'tfjs-backend-cpu: about 14 s a forward at T=4096 (about 300 tokens/s)' },
  }),
);
