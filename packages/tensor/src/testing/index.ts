export { allclose, type CloseReport, compareClose, type Tolerance } from './allclose.js';
export { type ConformanceCase, conformanceCases } from './conformance.js';
export { expectSwitchyardError } from './expect-error.js';
export { type GradcheckOptions, type GradcheckResult, gradcheck } from './gradcheck.js';
export { HEADLESS_WEBGPU_CHROMIUM, requireChromium } from './headless-chromium.js';
export { type RandomTensorOptions, randomTensor } from './random-tensor.js';
export { webgpuForTests } from './webgpu-for-tests.js';
