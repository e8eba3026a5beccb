// Shape letters: T tokens, D model width, F expert hidden width, E experts, K top-k, S shared experts,
// H shared hidden width (S·F), R routed rows (T·K).

/** A token-choice MoE feed-forward layer with SwiGLU experts (Mixtral, DeepSeekMoE) and its batch of tokens. */
export interface MoEShape {
  /** T, tokens per batch. */
  tokens: number;
  /** D. */
  dModel: number;
  /** F, the hidden width of one expert (routed or shared). */
  dHidden: number;
  /** E, routed experts. */
  experts: number;
  /** K, experts per token. */
  topK: number;
  /** S, always-on shared experts of width F (DeepSeekMoE); 0 for none. */
  shared: number;
  /** Renormalise the K kept router probabilities to sum to 1 (Mixtral); DeepSeekMoE keeps them raw. */
  normalize: boolean;
}

/** `T=4096 D=512 F=1024 E=8 K=2` (with ` S=2` when there are shared experts): what a row measured. */
export function describeMoE(s: MoEShape): string {
  const shared = s.shared > 0 ? ` S=${s.shared}` : '';
  return `T=${s.tokens} D=${s.dModel} F=${s.dHidden} E=${s.experts} K=${s.topK}${shared}`;
}

/** One dense product `op(a) @ op(b)` with `a`, `b` given as stored ([rows, cols]). */
export interface MatmulSpec {
  a: [number, number];
  b: [number, number];
  transA: boolean;
  transB: boolean;
}

/** 2·M·K·N of a product. */
export function matmulFlops(spec: MatmulSpec): number {
  const [m, k] = spec.transA ? [spec.a[1], spec.a[0]] : spec.a;
  const n = spec.transB ? spec.b[0] : spec.b[1];
  return 2 * m * k * n;
}

/**
 * The dense products holding a MoE layer's active FLOPs, as if every routed row went through one expert-sized
 * matmul: the router [T, D]·[D, E], the SwiGLU experts on R = T·K rows ([R, D]·[D, F] twice, [R, F]·[F, D]),
 * and the shared experts on all T rows with width H = S·F. With `backward`, each product [M, K]·[K, N] adds its
 * two gradient products dA = dC·Bᵀ and dB = Aᵀ·dC (gradients for the input and every weight).
 */
export function activeMatmuls(s: MoEShape, backward: boolean): MatmulSpec[] {
  const { tokens: t, dModel: d, dHidden: f, experts: e, topK: k } = s;
  const r = t * k;
  const h = s.shared * f;
  const forward: [number, number, number][] = [
    [t, d, e],
    [r, d, f],
    [r, d, f],
    [r, f, d],
  ];
  if (h > 0) forward.push([t, d, h], [t, d, h], [t, h, d]);
  const specs: MatmulSpec[] = [];
  for (const [m, kk, n] of forward) {
    specs.push({ a: [m, kk], b: [kk, n], transA: false, transB: false });
    if (backward) {
      specs.push({ a: [m, n], b: [kk, n], transA: false, transB: true });
      specs.push({ a: [m, kk], b: [m, n], transA: true, transB: false });
    }
  }
  return specs;
}
