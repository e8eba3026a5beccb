import type { KernelTable } from '../backend.js';
import { elementwiseKernels } from './kernels/elementwise.js';
import { gluKernels } from './kernels/glu.js';
import { indexingKernels } from './kernels/indexing.js';
import { layoutKernels } from './kernels/layout.js';
import { type LinalgOptions, linalgKernels } from './kernels/linalg.js';
import { randomKernels } from './kernels/random.js';
import { reduceKernels } from './kernels/reduce.js';
import { routerKernels } from './kernels/router.js';
import { sortKernels } from './kernels/sort.js';
import type { GpuRuntime } from './runtime.js';

/** The WebGPU kernel table: one WGSL kernel per primitive, checked by the compiler. */
export function webgpuKernels(rt: GpuRuntime, options: LinalgOptions = {}): KernelTable<GPUBuffer> {
  return {
    ...elementwiseKernels(rt),
    ...gluKernels(rt),
    ...reduceKernels(rt),
    ...linalgKernels(rt, options),
    ...sortKernels(rt),
    ...routerKernels(rt),
    ...indexingKernels(rt),
    ...layoutKernels(rt),
    ...randomKernels(rt),
  };
}
