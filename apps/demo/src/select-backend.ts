// Backend choice for the CLI: `auto` takes WebGPU only on a hardware adapter. A software adapter (SwiftShader,
// what Dawn falls back to on a machine without a GPU) runs the demo's models many times slower than the CPU
// backend, so `auto` then uses the CPU and says why; `--backend webgpu` still forces it.
import { createCpuBackend, createWebGPUBackend, SwitchyardError, setBackend } from '@switchyard/tensor';

export interface SelectedBackend {
  name: 'cpu' | 'webgpu';
  description: string;
  destroy(): void;
}

/** Makes the requested backend the active one and describes it. */
export async function selectBackend(requested: 'auto' | 'cpu' | 'webgpu'): Promise<SelectedBackend> {
  const cpu = (note: string): SelectedBackend => {
    const backend = createCpuBackend();
    setBackend(backend);
    return { name: 'cpu', description: `${backend.describe()}${note}`, destroy: () => backend.destroy?.() };
  };
  if (requested === 'cpu') return cpu('');
  let gpu: Awaited<ReturnType<typeof createWebGPUBackend>>;
  try {
    gpu = await createWebGPUBackend();
  } catch (err) {
    if (requested === 'webgpu' || !(err instanceof SwitchyardError)) throw err;
    return cpu(` (no WebGPU: ${err.message})`);
  }
  if (requested === 'auto' && gpu.info.software) {
    gpu.destroy?.();
    return cpu(
      ` (the only WebGPU adapter is software: ${gpu.info.adapter}; --backend webgpu uses it anyway)`,
    );
  }
  setBackend(gpu);
  return { name: 'webgpu', description: gpu.describe(), destroy: () => gpu.destroy?.() };
}
