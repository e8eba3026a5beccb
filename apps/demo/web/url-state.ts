// The web page's settings, kept in the URL query so a run can be shared and reloaded.
import { DEMO_PRESETS, type DemoPreset, ROUTERS, type RoutingControls } from '../src/demo-models.js';

export interface PageState extends RoutingControls {
  preset: DemoPreset;
  steps: number;
  lr: number;
  seed: number;
  batchSize: number;
  seqLen: number;
}

export const DEFAULT_STATE: PageState = {
  preset: 'deepseekmoe',
  router: 'top-k-softmax',
  topK: 2,
  capacityFactor: 0,
  balanceCoefficient: 0.1,
  zLoss: 1e-3,
  steps: 200,
  lr: 3e-3,
  seed: 0,
  batchSize: 8,
  seqLen: 64,
};

const NUMBERS = [
  'topK',
  'capacityFactor',
  'balanceCoefficient',
  'zLoss',
  'steps',
  'lr',
  'seed',
  'batchSize',
  'seqLen',
] as const;
const INTEGERS = new Set(['topK', 'steps', 'seed', 'batchSize', 'seqLen']);

/** Reads the state from a query string; returns what it ignored (unknown or invalid values) alongside. */
export function readState(search: string): { state: PageState; ignored: string[] } {
  const params = new URLSearchParams(search);
  const state: PageState = { ...DEFAULT_STATE };
  const ignored: string[] = [];
  const preset = params.get('preset');
  if (preset !== null) {
    if ((DEMO_PRESETS as readonly string[]).includes(preset)) state.preset = preset as DemoPreset;
    else ignored.push(`preset=${preset}`);
  }
  const router = params.get('router');
  if (router !== null) {
    if ((ROUTERS as readonly string[]).includes(router)) state.router = router as RoutingControls['router'];
    else ignored.push(`router=${router}`);
  }
  for (const key of NUMBERS) {
    const text = params.get(key);
    if (text === null) continue;
    const n = Number(text);
    const ok =
      text.trim() !== '' && Number.isFinite(n) && n >= 0 && (!INTEGERS.has(key) || Number.isInteger(n));
    const positive =
      key === 'capacityFactor' || key === 'balanceCoefficient' || key === 'zLoss' || key === 'seed';
    if (ok && (positive || n > 0)) state[key] = n;
    else ignored.push(`${key}=${text}`);
  }
  return { state, ignored };
}

/** The query string of a state (only what differs from the defaults). */
export function writeState(state: PageState): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (DEFAULT_STATE[key as keyof PageState] !== value) params.set(key, String(value));
  }
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}
