// How each tensor of a built TransformerLM is stored in a Hugging Face checkpoint. Our matrices are
// input-major (y = x W, W [in, out]); torch's nn.Linear stores [out, in]; our experts are stacked [E, ...].

/**
 * DeepSeek's interleaved rotary rows: in each block of `block` output rows, the `width` rows from `start` on hold
 * rotary pairs side by side (r0a, r0b, r1a, r1b, ...), which Hugging Face's DeepSeek code de-interleaves before
 * a rotate-half rotary (`q.view(..., d // 2, 2).transpose(4, 3)`). Our rotary pairs the halves, so our column
 * j of the rotary part is their row `2j` for j < width/2 and `2(j - width/2) + 1` after.
 */
export interface InterleavedRows {
  block: number;
  start: number;
  width: number;
}

/**
 * One of our tensors and where it lives in a Hugging Face checkpoint:
 * - `same`: the same layout (norm scales, embedding [V, D], biases, T5's relative bias [buckets, H], V3's
 *   `e_score_correction_bias`);
 * - `linear`: ours [I, O] is their nn.Linear weight [O, I] transposed (`rows` reorders their output rows);
 * - `experts`: ours [E, A, B] stacks their E per-expert nn.Linear weights [B, A], each transposed.
 */
export type WeightRule =
  | { kind: 'same'; ours: string; hf: string }
  | { kind: 'linear'; ours: string; hf: string; rows?: InterleavedRows }
  | { kind: 'experts'; ours: string; hf: string[] };

/**
 * For each of our output columns, the Hugging Face row it comes from (a permutation of 0..size-1): identity
 * outside the interleaved rotary ranges, de-interleaved inside them.
 */
export function interleavedRowOrder(size: number, rows: InterleavedRows): Int32Array {
  const order = Int32Array.from({ length: size }, (_, i) => i);
  const half = rows.width / 2;
  for (let base = 0; base + rows.block <= size; base += rows.block) {
    for (let j = 0; j < rows.width; j++) {
      const source = j < half ? 2 * j : 2 * (j - half) + 1;
      order[base + rows.start + j] = base + rows.start + source;
    }
  }
  return order;
}

/** The inverse permutation: for each Hugging Face row, our column that fills it. */
export function invertOrder(order: Int32Array): Int32Array {
  const inverse = new Int32Array(order.length);
  order.forEach((source, target) => {
    inverse[source] = target;
  });
  return inverse;
}
