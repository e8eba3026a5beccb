import type { BenchCase } from '../bench-case.js';
import { expertParallelCases } from './expert-parallel.js';
import { generationCases } from './generation.js';
import { matmulCases } from './matmul.js';
import { moeExpertsCases } from './moe-experts.js';
import { moeLayerCases } from './moe-layers.js';

/**
 * Every case, in the order they run and print. To add a group, write one file beside these exporting
 * `BenchCase[]` and list it here.
 */
export const CASES: readonly BenchCase[] = [
  ...matmulCases,
  ...moeLayerCases,
  ...moeExpertsCases,
  ...generationCases,
  ...expertParallelCases,
];
