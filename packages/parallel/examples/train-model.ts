// The README's whole-model example: a tiny Mixtral (8 experts per MoE layer) trained expert-parallel over 2
// worker threads through the model's own forward and one loss.backward() per rank and step; each rank holds 4
// of the 8 experts of every MoE layer and its own batch. Run by test/examples.test.ts.
import { launchWorkers } from '../src/index.js';

export async function trainModel(steps: number, log: (line: string) => void): Promise<number[]> {
  const [rank0] = await launchWorkers<{ lines: string[]; losses: number[] }>(
    new URL('./train-model-rank.ts', import.meta.url),
    { size: 2, data: steps },
  );
  for (const line of rank0?.lines ?? []) log(line);
  return rank0?.losses ?? [];
}

if (import.meta.url === `file://${process.argv[1]}`) await trainModel(20, console.log);
