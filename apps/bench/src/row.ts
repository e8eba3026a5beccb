import type { BackendId, Impl, Unit } from './bench-case.js';

/**
 * One result: `value` in `unit`, higher is better. `case`, `impl`, `backend`, `value` and `unit` are the
 * issue's row format; `shape` says what was measured (shapes are scaled down on slow backends) and `runs`
 * how many measured samples the median was taken over.
 */
export interface Row {
  case: string;
  impl: Impl;
  backend: BackendId;
  value: number;
  unit: Unit;
  shape: string;
  runs: number;
}
