// Worker-thread ranks: every collective over shared memory, and failure without hanging: a rank that exits,
// throws, hangs or is terminated makes every other rank's collective fail and the launch reject.
import { SwitchyardError } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { launchWorkers, startWorkers } from '../src/index.js';

const rank = (name: string) => new URL(`./ranks/${name}.ts`, import.meta.url);

describe('worker ranks', () => {
  it('run allToAll, allReduce, allGather, broadcast, barrier and split over 3 ranks', async () => {
    const rows = 300_000; // 1.2 MB: larger than a ring, so it streams through
    const results = await launchWorkers<Awaited<ReturnType<typeof import('./ranks/collectives.js').default>>>(
      rank('collectives'),
      { size: 3, data: { rows }, channelBytes: 1 << 16 },
    );
    results.forEach((r, me) => {
      const expected: number[] = [];
      const splits: number[] = [];
      for (let src = 0; src < 3; src++) {
        const count = (src + me) % 3;
        splits.push(count);
        expected.push(...new Array(count * 3).fill(100 * src + me));
      }
      expect(r.recvSplits).toEqual(splits);
      expect(r.received).toEqual(expected);
      expect(r.sum).toEqual([3, 3, 3 * rows]);
      expect(r.max).toBe(2);
      expect(r.gathered).toEqual([[0], [1, 1], [2, 2, 2]]);
      expect([r.bigFirst, r.bigLast]).toEqual([6, 6]);
      expect(r.cast).toEqual([7, 8, 9]);
      expect(r.half).toEqual(me % 2 === 0 ? { rank: me / 2, size: 2, sum: 2 } : { rank: 0, size: 1, sum: 1 });
    });
  });

  for (const mode of ['exit', 'throw', 'hang'] as const) {
    it(`a rank that ${mode === 'hang' ? 'hangs' : `${mode}s`} fails every other rank instead of hanging`, async () => {
      const cluster = startWorkers(rank('faulty'), {
        size: 3,
        data: { bad: 1, mode },
        timeoutMs: mode === 'hang' ? 1000 : 30_000,
        graceMs: 500,
      });
      const error = await cluster.results.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SwitchyardError);
      expect((error as SwitchyardError).code).toBe('BACKEND_UNAVAILABLE');
      const cause = { exit: /rank 1 of 3 exited \(code 3\)/, throw: /rank 1 of 3 threw/, hang: /timed out/ }[
        mode
      ];
      expect((error as Error).message).toMatch(cause);
      for (const r of [0, 2]) {
        expect(cluster.errors[r]).toBeInstanceOf(SwitchyardError);
        expect((cluster.errors[r] as SwitchyardError).code).toBe('BACKEND_UNAVAILABLE');
      }
    });
  }

  it('a terminated worker fails the ranks waiting for it', async () => {
    const cluster = startWorkers(rank('waiting'), { size: 2, timeoutMs: 30_000, graceMs: 500 });
    await new Promise((r) => setTimeout(r, 300));
    await cluster.terminate(1);
    await expect(cluster.results).rejects.toThrow(/rank 1 of 2 exited/);
    expect(cluster.errors[0]?.message).toMatch(/rank 1 of 2 exited/);
  });
});
