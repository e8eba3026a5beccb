import {
  add,
  cast,
  type DType,
  full,
  type Generator,
  log,
  mul,
  SwitchyardError,
  sub,
  type Tensor,
  tidy,
} from '@switchyard/tensor';

/** Creates a parameter's initial value from its shape and an explicit generator. */
export type Initializer = (shape: readonly number[], generator: Generator) => Tensor;

/**
 * Fans of a weight used as `x @ w`: the last two axes are [in, out]; leading axes (stacked experts) are
 * independent copies and do not count.
 */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0] as number, fanOut: shape[0] as number };
  return { fanIn: shape.at(-2) as number, fanOut: shape.at(-1) as number };
}

/**
 * erf⁻¹(x) for |x| <= 0.9966 (Giles 2010, single-precision branch), as a composite op. Enough for normals
 * truncated at up to 2.9 standard deviations. Each Horner step frees the previous one, so a weight of any size
 * costs a few copies of itself at the peak rather than one per step (on WebGPU too).
 */
function erfinv(x: Tensor): Tensor {
  const w = tidy(() => sub(log(mul(sub(1, x), add(1, x))).neg(), 2.5));
  const coefficients = [
    3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
    1.50140941,
  ];
  let p = full(x.shape, 2.81022636e-8);
  for (const c of coefficients) {
    const next = tidy(() => add(mul(p, w), c));
    p.dispose();
    p = next;
  }
  const y = mul(p, x);
  p.dispose();
  w.dispose();
  return y;
}

function checkStd(op: string, std: number): void {
  if (!(std >= 0) || !Number.isFinite(std))
    throw new SwitchyardError('INVALID_ARGUMENT', op, `std must be finite and >= 0, got ${std}`);
}

/** Standard normal CDF. */
function phi(z: number): number {
  // Abramowitz-Stegun 7.1.26 through erf; 1.5e-7 absolute error is plenty for picking a uniform range.
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(z * z) / 2);
  return 0.5 * (1 + Math.sign(z) * y);
}

/** Initialisers; each returns an `Initializer` taking the shape and an explicit generator. */
export const initializers = {
  zeros:
    (dtype: DType = 'f32'): Initializer =>
    (shape) =>
      full(shape, 0, dtype),
  ones:
    (dtype: DType = 'f32'): Initializer =>
    (shape) =>
      full(shape, 1, dtype),
  constant:
    (value: number): Initializer =>
    (shape) =>
      full(shape, value),
  /** N(mean, std²). */
  normal: (std: number, mean = 0): Initializer => {
    checkStd('normal', std);
    return (shape, g) => g.normal(shape, mean, std);
  },
  /** U(low, high). */
  uniform:
    (low: number, high: number): Initializer =>
    (shape, g) =>
      g.uniform(shape, low, high),
  /**
   * N(0, std²) truncated to ±bound·std, drawn exactly by the inverse CDF (no rejection), bound <= 2.9.
   * Mesh TensorFlow and T5/Switch use bound 2.
   */
  truncatedNormal: (std: number, bound = 2): Initializer => {
    checkStd('truncatedNormal', std);
    if (!(bound > 0 && bound <= 2.9)) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        'truncatedNormal',
        `bound must be in (0, 2.9], got ${bound}`,
      );
    }
    const lo = phi(-bound);
    const hi = phi(bound);
    return (shape, g) => tidy(() => mul(erfinv(sub(mul(g.uniform(shape, lo, hi), 2), 1)), std * Math.SQRT2));
  },
  /** Glorot/Xavier uniform: U(±gain·sqrt(6 / (fanIn + fanOut))). */
  xavierUniform: (gain = 1): Initializer => {
    return (shape, g) => {
      const { fanIn, fanOut } = fans(shape);
      const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
      return g.uniform(shape, -bound, bound);
    };
  },
  /** PyTorch's nn.Linear default: U(±1/sqrt(fanIn)). */
  kaimingUniform: (): Initializer => {
    return (shape, g) => {
      const bound = 1 / Math.sqrt(Math.max(1, fans(shape).fanIn));
      return g.uniform(shape, -bound, bound);
    };
  },
  /**
   * Switch Transformer's initialisation (Fedus et al. 2021, §2.3): truncated normal with
   * std = sqrt(scale / fanIn), bound 2. The paper's reduced scale 0.1 (the T5 default is 1.0) is what made
   * large sparse models stable.
   */
  switchScaled: (scale = 0.1): Initializer => {
    if (!(scale > 0))
      throw new SwitchyardError('INVALID_ARGUMENT', 'switchScaled', `scale must be > 0, got ${scale}`);
    return (shape, g) =>
      initializers.truncatedNormal(Math.sqrt(scale / Math.max(1, fans(shape).fanIn)))(shape, g);
  },
};

/** Casts an initialiser's output (built in f32) to `dtype`. */
export function withDtype(initializer: Initializer, dtype: DType): Initializer {
  return (shape, g) => tidy(() => cast(initializer(shape, g), dtype));
}
