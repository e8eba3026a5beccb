import { SwitchyardError } from '../../errors.js';

/** Debian's chromium package ships SwiftShader, a software Vulkan driver Dawn accepts. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface GpuDeviceInfo {
  device: GPUDevice;
  /** Vendor, architecture and description of the adapter, and whether it is the SwiftShader fallback. */
  adapter: string;
  /**
   * What tells adapters apart for per-adapter choices (the tuned matmul tiles): vendor, architecture, device
   * and description (which carries the driver version on Dawn), and the driver where one is exposed.
   */
  identity: string;
  /** A software rasteriser (SwiftShader, llvmpipe/lavapipe): correct but far slower than a GPU or the CPU backend. */
  software: boolean;
  /** Optional features found and enabled. */
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  /** Releases the device (and, in Node, lets the process exit). */
  destroy(): void;
}

/**
 * Dawn's GPU instance must outlive its devices: if the instance object is garbage-collected while a device is
 * in use, Dawn aborts the process. Instances are held here until their device is destroyed.
 */
const liveInstances = new Set<GPU>();

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Imports a module without letting bundlers resolve it (the Node-only `webgpu` addon, `node:fs`). */
export async function importOptional<T>(name: string): Promise<T | null> {
  try {
    return (await import(/* @vite-ignore */ name)) as T;
  } catch {
    return null;
  }
}

interface DawnModule {
  create(flags: string[]): GPU;
}

async function nodeGpu(): Promise<{ gpu: GPU; dawn: DawnModule } | null> {
  const dawn = await importOptional<DawnModule>('webgpu');
  return dawn ? { gpu: dawn.create([]), dawn } : null;
}

/**
 * Finds a WebGPU adapter and device: `navigator.gpu` in browsers, the `webgpu` package (Dawn, an optional peer
 * dependency) in Node. In Node, when no adapter is found and Debian chromium's SwiftShader ICD exists, Dawn is
 * pointed at it. Requests the adapter's own limits and the optional features `shader-f16`, `subgroups` and
 * `timestamp-query` where present.
 */
export async function requestGpuDevice(): Promise<GpuDeviceInfo> {
  let gpu: GPU | undefined = typeof navigator !== 'undefined' ? navigator.gpu : undefined;
  let adapter: GPUAdapter | null = null;
  let software = false;
  if (gpu) adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  else if (isNode()) {
    const found = await nodeGpu();
    if (!found) {
      throw new SwitchyardError(
        'BACKEND_UNAVAILABLE',
        'init',
        "WebGPU in Node needs the optional peer dependency 'webgpu' (npm install webgpu)",
      );
    }
    gpu = found.gpu;
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter && !process.env.VK_ICD_FILENAMES) {
      const fs = await importOptional<{ existsSync(path: string): boolean }>('node:fs');
      if (fs?.existsSync(SWIFTSHADER_ICD)) {
        process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
        gpu = found.dawn.create([]);
        adapter = await gpu.requestAdapter();
        software = adapter !== null;
      }
    }
  }
  if (!gpu)
    throw new SwitchyardError(
      'BACKEND_UNAVAILABLE',
      'init',
      'this environment has no WebGPU (navigator.gpu is missing)',
    );
  if (!adapter) {
    throw new SwitchyardError(
      'BACKEND_UNAVAILABLE',
      'init',
      `no WebGPU adapter was found${isNode() ? ` (and no SwiftShader ICD at ${SWIFTSHADER_ICD}; apt-get install chromium libvulkan1 provides one)` : ''}`,
    );
  }
  const has = (f: string) => adapter.features.has(f);
  const requiredFeatures = (['shader-f16', 'subgroups', 'timestamp-query'] as GPUFeatureName[]).filter(has);
  const l = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const instance = gpu;
  liveInstances.add(instance);
  const info = adapter.info;
  const name =
    [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  const { driver } = info as GPUAdapterInfo & { driver?: string };
  return {
    device,
    adapter: software ? `${name} (SwiftShader software fallback from ${SWIFTSHADER_ICD})` : name,
    identity: [info.vendor, info.architecture, info.device, info.description, driver ?? ''].join('/'),
    software: software || /swiftshader|llvmpipe|lavapipe/i.test(name),
    features: {
      shaderF16: has('shader-f16'),
      subgroups: has('subgroups'),
      timestampQuery: has('timestamp-query'),
    },
    destroy: () => {
      device.destroy();
      liveInstances.delete(instance);
    },
  };
}
