import type { AnyHostArray } from '../../dtype.js';
import { philoxFill } from '../../philox.js';
import { sizeOf } from '../../shape.js';
import type { KernelTable } from '../backend.js';
import {
  binaryKernel,
  castKernel,
  compareKernel,
  fillKernel,
  unaryKernel,
  whereKernel,
} from './elementwise.js';
import { gluGradKernel, gluKernel } from './glu.js';
import { outputArray } from './host-pool.js';
import { bincountKernel, gatherKernel, scatterAddKernel } from './indexing.js';
import { broadcastToKernel, concatKernel, padKernel, sliceKernel, transposeKernel } from './layout.js';
import { groupedMatmulGradWKernel, groupedMatmulKernel, matmulKernel } from './matmul.js';
import { argReduceKernel, cumsumKernel, logSoftmaxKernel, reduceKernel, softmaxKernel } from './reduce.js';
import { routerTopKKernel } from './router-topk.js';
import { argsortKernel, bucketSortKernel, topkKernel } from './sort.js';
import { weightedGatherGradKernel, weightedGatherKernel } from './weighted-gather.js';

/** The CPU kernel table: one entry per primitive, checked by the compiler. */
export const cpuKernels: KernelTable<AnyHostArray> = {
  unary: unaryKernel,
  binary: binaryKernel,
  glu: gluKernel,
  gluGrad: gluGradKernel,
  compare: compareKernel,
  where: whereKernel,
  reduce: reduceKernel,
  argReduce: argReduceKernel,
  softmax: softmaxKernel,
  logSoftmax: logSoftmaxKernel,
  matmul: matmulKernel,
  groupedMatmul: groupedMatmulKernel,
  groupedMatmulGradW: groupedMatmulGradWKernel,
  topk: topkKernel,
  routerTopK: routerTopKKernel,
  argsort: argsortKernel,
  bucketSort: bucketSortKernel,
  cumsum: cumsumKernel,
  bincount: bincountKernel,
  gather: gatherKernel,
  scatterAdd: scatterAddKernel,
  weightedGather: weightedGatherKernel,
  weightedGatherGrad: weightedGatherGradKernel,
  transpose: transposeKernel,
  slice: sliceKernel,
  pad: padKernel,
  concat: concatKernel,
  broadcastTo: broadcastToKernel,
  cast: castKernel,
  random: (_inputs, { dist, seed, stream, counter, low, high }, out) => {
    const dst = outputArray(out.dtype, sizeOf(out.shape)) as Float32Array | Int32Array;
    philoxFill(dst, dist, seed, stream, counter, low, high);
    return dst;
  },
  fill: fillKernel,
};
