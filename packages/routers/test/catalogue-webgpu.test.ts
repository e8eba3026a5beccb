// Expert choice, hash, S-BASE and BASE (inference) on WebGPU give the CPU's routing from the same parameters;
// BASE's host-side training assignment refuses an asynchronous backend with a clear error. Skips (with a
// visible line) where no adapter exists; SWITCHYARD_REQUIRE_WEBGPU=1 turns that into a failure.
import {
  type Backend,
  createCpuBackend,
  fromHost,
  Generator,
  getBackend,
  liveTensorCount,
  setBackend,
} from '@switchyard/tensor';
import { compareClose, webgpuForTests } from '@switchyard/tensor/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BaseRouter,
  disposeRouting,
  ExpertChoiceRouter,
  HashRouter,
  type Router,
  SinkhornRouter,
} from '../src/index.js';

const gpu = await webgpuForTests('routers catalogue WebGPU tests');

const T = 12;
const D = 4;
const E = 4;
const ids = [3, 7, 1, 0, 9, 3, 3, 2, 8, 5, 6, 4];

const routers: [string, (g: Generator) => Router, boolean[]][] = [
  ['ExpertChoiceRouter', (g) => new ExpertChoiceRouter({ dModel: D, numExperts: E, generator: g }), [true]],
  [
    'SinkhornRouter',
    (g) => new SinkhornRouter({ dModel: D, numExperts: E, topK: 2, generator: g }),
    [true, false],
  ],
  [
    'HashRouter (random)',
    (g) => new HashRouter({ numExperts: E, hash: 'random', vocabSize: 10, generator: g }),
    [true],
  ],
  ['BaseRouter (inference)', (g) => new BaseRouter({ dModel: D, numExperts: E, generator: g }), [false]],
];

interface HostRouting {
  tokens: number[];
  experts: number[];
  weights: number[];
}

async function routeOn(
  backend: Backend,
  make: (g: Generator) => Router,
  modes: boolean[],
): Promise<HostRouting[]> {
  const previous = getBackend();
  setBackend(backend);
  try {
    const router = make(new Generator(41));
    const x = new Generator(42).normal([T, D]);
    const tokenIds = fromHost(Int32Array.from(ids), [T], 'i32');
    if (router instanceof HashRouter) router.setTokenIds(tokenIds);
    const before = liveTensorCount();
    const out: HostRouting[] = [];
    for (const training of modes) {
      router.train(training);
      const r = router.route(x);
      out.push({
        tokens: Array.from(await r.token_A.data(), Number),
        experts: Array.from(await r.expert_A.data(), Number),
        weights: Array.from(await r.weight_A.data(), Number),
      });
      disposeRouting(r);
    }
    expect(liveTensorCount()).toBe(before);
    x.dispose();
    tokenIds.dispose();
    router.dispose();
    return out;
  } finally {
    setBackend(previous);
  }
}

if (gpu !== null) {
  const device = gpu;
  afterAll(() => device.destroy());
  describe(`routing catalogue on ${device.describe()}`, () => {
    for (const [name, make, modes] of routers) {
      it(`${name} routes as on the CPU`, async () => {
        const cpu = await routeOn(createCpuBackend(), make, modes);
        const onGpu = await routeOn(device, make, modes);
        for (let i = 0; i < modes.length; i++) {
          expect(onGpu[i]?.tokens).toEqual(cpu[i]?.tokens);
          expect(onGpu[i]?.experts).toEqual(cpu[i]?.experts);
          const close = compareClose(onGpu[i]?.weights ?? [], cpu[i]?.weights ?? [], {
            rtol: 1e-4,
            atol: 1e-6,
          });
          expect(close.ok, close.message).toBe(true);
        }
      });
    }

    it('BaseRouter training needs a synchronous backend and says so', () => {
      const previous = getBackend();
      setBackend(device);
      try {
        const router = new BaseRouter({ dModel: D, numExperts: E, generator: new Generator(0) });
        const x = new Generator(1).normal([T, D]);
        const before = liveTensorCount();
        expect(() => router.route(x)).toThrow(
          expect.objectContaining({
            code: 'UNSUPPORTED',
            message: expect.stringMatching(/synchronous backend/),
          }),
        );
        expect(liveTensorCount()).toBe(before);
        x.dispose();
        router.dispose();
      } finally {
        setBackend(previous);
      }
    });
  });
}
