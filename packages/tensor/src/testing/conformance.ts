import type { Backend } from '../backends/backend.js';
import { getBackend, setBackend } from '../engine.js';
import type { PrimName } from '../primitives.js';
import type { Tolerance } from './allclose.js';
import { BUCKET_SORT_CASES } from './conformance/bucket-sort.js';
import { CREATION_CASES } from './conformance/creation.js';
import { ELEMENTWISE_CASES } from './conformance/elementwise.js';
import { GLU_CASES } from './conformance/glu.js';
import { INDEXING_CASES } from './conformance/indexing.js';
import { LAYOUT_CASES } from './conformance/layout.js';
import { LINALG_CASES } from './conformance/linalg.js';
import { RANDOM_CASES } from './conformance/random.js';
import { REDUCE_CASES } from './conformance/reduce.js';
import { ROUTER_CASES } from './conformance/router.js';
import { SORT_CASES } from './conformance/sort.js';
import { WEIGHTED_GATHER_CASES, WEIGHTED_GATHER_GRAD_CASES } from './conformance/weighted-gather.js';

export { expectTensor } from './expect.js';

/** One conformance case: builds inputs on the backend, runs ops, and checks against a float64 reference. */
export interface ConformanceCase {
  /** e.g. `binary/add broadcast [2, 1] with [3]`. */
  name: string;
  /** The primitive the case exercises. */
  primitive: PrimName;
  /** Throws an Error describing the first mismatch. */
  run(): Promise<void>;
}

/** The body of a case: builds inputs on the active backend, runs ops, and throws on the first mismatch. */
export type CaseBody = (tol: Tolerance) => Promise<void>;

/**
 * The conformance suite as a function of a backend: every primitive with ordinary, broadcast and edge shapes
 * (size-0 and size-1 axes, ties), checked against float64 references computed on the host. Run the same
 * cases on every backend with that backend's tolerances.
 */
export function conformanceCases(
  backend: Backend,
  tol: Tolerance = { rtol: 1e-5, atol: 1e-6 },
): ConformanceCase[] {
  return CASES.map(([primitive, name, body]) => ({
    name: `${primitive}/${name}`,
    primitive,
    async run() {
      const previous = getBackend();
      setBackend(backend);
      try {
        await body(tol);
      } finally {
        setBackend(previous);
      }
    },
  }));
}

/** Every case, by family; see `conformance/*.ts`. */
const CASES: [PrimName, string, CaseBody][] = [
  ...ELEMENTWISE_CASES,
  ...GLU_CASES,
  ...REDUCE_CASES,
  ...LINALG_CASES,
  ...INDEXING_CASES,
  ...WEIGHTED_GATHER_CASES,
  ...WEIGHTED_GATHER_GRAD_CASES,
  ...SORT_CASES,
  ...ROUTER_CASES,
  ...BUCKET_SORT_CASES,
  ...LAYOUT_CASES,
  ...CREATION_CASES,
  ...RANDOM_CASES,
];
