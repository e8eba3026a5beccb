import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import type { Environment, GpuInfo } from './environment.js';

/**
 * What the numbers were measured on, written beside the rows as `<out>.machine.json`. Flat strings rather than
 * short arrays, so the file is already in the repository's formatter style.
 */
export interface MachineInfo {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  tfjs: string;
  /** 1-minute load average when the run started: other work on the machine skews the numbers. */
  loadAverage: number;
  wasm: Environment['wasm'];
  webgpu: GpuInfo | null;
  /** Why a requested backend is missing, `; `-separated ('' when none). */
  notes: string;
  /** The bench flags of the run. */
  flags: string;
}

/** The machine record of a run. */
export function machineInfo(env: Environment, argv: readonly string[], load: number): MachineInfo {
  const cores = cpus();
  return {
    date: new Date().toISOString(),
    cpu: cores[0]?.model ?? 'unknown',
    cores: cores.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    tfjs: env.tf.version_core,
    loadAverage: load,
    wasm: env.wasm,
    webgpu: env.gpu,
    notes: env.notes.join('; '),
    flags: argv.join(' '),
  };
}

/** Seeds the load average before the run starts (the bench itself raises it). */
export function currentLoad(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}
