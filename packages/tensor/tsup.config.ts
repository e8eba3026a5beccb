import { libraryConfig } from '@switchyard/config/tsup';

// The declarations name WebGPU types (GPUDevice, GPUBuffer): the banner points consumers at @webgpu/types.
export default libraryConfig({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  dts: { banner: '/// <reference types="@webgpu/types" />' },
});
