export { valueAndGrad } from './autograd.js';
export type {
  Backend,
  BackendMemory,
  BackendName,
  Kernel,
  KernelInput,
  KernelOutput,
  KernelTable,
} from './backends/backend.js';
export { type CpuBackendOptions, createCpuBackend } from './backends/cpu/cpu-backend.js';
export { type GpuDeviceInfo, requestGpuDevice, SWIFTSHADER_ICD } from './backends/webgpu/device.js';
export {
  fileTileCache,
  localStorageTileCache,
  memoryTileCache,
  type TileCache,
  type TileStorage,
} from './backends/webgpu/tile-cache.js';
export {
  createWebGPUBackend,
  type WebGPUBackend,
  type WebGPUBackendOptions,
} from './backends/webgpu/webgpu-backend.js';
export {
  type CustomGradContext,
  type CustomGradOptions,
  type CustomGradResult,
  customGrad,
} from './custom-grad.js';
export {
  type AnyHostArray,
  DTYPES,
  type DType,
  type FloatDType,
  fromBf16Bits,
  fromF16Bits,
  isFloat,
  promote,
  toBf16Bits,
  toF16Bits,
} from './dtype.js';
export {
  backendName,
  getBackend,
  isGradEnabled,
  keep,
  liveTensorCount,
  memory,
  noGrad,
  setBackend,
  tidy,
} from './engine.js';
export { type ErrorCode, fmtShape, SwitchyardError } from './errors.js';
export { type InitOptions, type InitResult, init } from './init.js';
export {
  DEFAULT_MAX_HEADER_BYTES,
  loadSafetensors,
  type ParsedSafetensors,
  type ParseSafetensorsOptions,
  parseSafetensors,
  SAFETENSORS_DTYPE_BITS,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsFloatDType,
  type SerializeSafetensorsOptions,
  safetensorsDtypeBits,
  serializeSafetensors,
  tensorFromSafetensors,
} from './io/safetensors.js';
export { cast } from './ops/cast.js';
export {
  arange,
  eye,
  fromHost,
  full,
  fullLike,
  type NestedNumbers,
  ones,
  onesLike,
  scalar,
  type TensorOptions,
  tensor,
  zeros,
  zerosLike,
} from './ops/creation.js';
export {
  abs,
  add,
  clamp,
  cos,
  div,
  entr,
  equal,
  erf,
  exp,
  floor,
  gelu,
  geluTanh,
  greater,
  greaterEqual,
  less,
  lessEqual,
  log,
  logicalAnd,
  logicalNot,
  logicalOr,
  maximum,
  minimum,
  mod,
  mul,
  neg,
  notEqual,
  pow,
  reciprocal,
  relu,
  rsqrt,
  sigmoid,
  sign,
  silu,
  sin,
  softplus,
  sqrt,
  square,
  sub,
  tanh,
  where,
} from './ops/elementwise.js';
export { glu } from './ops/glu.js';
export { embedding, gather, oneHot, scatterAdd, takeAlongAxis } from './ops/indexing.js';
export {
  broadcastTo,
  concat,
  flatten,
  pad,
  reshape,
  slice,
  split,
  squeeze,
  stack,
  swapAxes,
  transpose,
  unsqueeze,
} from './ops/layout.js';
export {
  groupedMatmul,
  groupedMatmulGradW,
  type MatmulOptions,
  matmul,
  offsetsFromCounts,
} from './ops/linalg.js';
export { dropout, layerNorm, logSoftmax, logsumexp, rmsNorm, softmax } from './ops/nn.js';
export { argmax, argmin, max, mean, min, sum, variance } from './ops/reduce.js';
export { bincount, type CumsumOptions, cumsum } from './ops/scan.js';
export {
  argsort,
  bucketSort,
  type RouterGroupLimit,
  type RouterScore,
  type RouterTopKOptions,
  type RouterTopKResult,
  routerTopK,
  sort,
  sortByKey,
  type TopkResult,
  topk,
} from './ops/sort.js';
export { weightedGather } from './ops/weighted-gather.js';
export { philoxFill } from './philox.js';
export {
  type BinaryFn,
  type CompareFn,
  GLU_FNS,
  type GluFn,
  type KernelPrim,
  PRIMITIVE_NAMES,
  type PrimitiveAttrs,
  type PrimName,
  type RandomDist,
  type UnaryFn,
} from './primitives.js';
export { Generator, type GeneratorState } from './random.js';
export type { Shape } from './shape.js';
export { type NestedArray, Tensor, type TensorLike } from './tensor.js';
