import { fmtShape, keep, SwitchyardError, type Tensor } from '@switchyard/tensor';
import { Buffer, Parameter } from './parameter.js';

/** Turns a dotted-name glob into a RegExp: `*` is one name segment, `**` any number of segments. */
export function namePattern(pattern: string | RegExp): RegExp {
  if (pattern instanceof RegExp) return pattern;
  if (typeof pattern !== 'string') {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'namePattern',
      `a pattern is a glob string or a RegExp, got ${String(pattern)}`,
    );
  }
  const source = pattern
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^.]*'),
    )
    .join('.*');
  return new RegExp(`^${source}$`);
}

type Visitor = (name: string, value: Parameter | Buffer | Module) => void;

/**
 * Base class of every layer. Parameters, buffers and submodules are found by walking the module's own
 * fields (arrays included), which gives dotted names such as `layers.3.moe.experts.w1`. Subclasses define
 * their own `forward` signature.
 */
export abstract class Module {
  /** Training mode: dropout is active and routers may add noise. Set with `train()` / `eval()`. */
  training = true;

  #walk(prefix: string, visit: Visitor, seen: Set<unknown>): void {
    for (const [key, value] of Object.entries(this)) {
      this.#visitValue(prefix ? `${prefix}.${key}` : key, value, visit, seen);
    }
  }

  #visitValue(name: string, value: unknown, visit: Visitor, seen: Set<unknown>): void {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    if (value instanceof Parameter || value instanceof Buffer) {
      seen.add(value);
      visit(name, value);
    } else if (value instanceof Module) {
      seen.add(value);
      visit(name, value);
      value.#walk(name, visit, seen);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        this.#visitValue(`${name}.${i}`, item, visit, seen);
      });
    }
  }

  #collect<T>(kind: new (...args: never[]) => T): [string, T][] {
    const out: [string, T][] = [];
    this.#walk(
      '',
      (name, value) => {
        if (value instanceof kind) out.push([name, value]);
      },
      new Set([this]),
    );
    return out;
  }

  /** Every parameter with its dotted name, in field order. */
  namedParameters(): [string, Parameter][] {
    return this.#collect(Parameter);
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Parameters that currently require grad (not frozen). */
  trainableParameters(): Parameter[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  namedBuffers(): [string, Buffer][] {
    return this.#collect(Buffer);
  }

  /** Every submodule with its dotted name (not including this module). */
  namedModules(): [string, Module][] {
    return this.#collect(Module as unknown as new (...args: never[]) => Module);
  }

  /** Number of parameter elements. */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map<string, Tensor>([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Assigns values by dotted name (each must match the shape and dtype it replaces; the module shares their
   * storage). With `strict` (default) missing and unexpected names are errors.
   */
  loadStateDict(
    state: Map<string, Tensor> | Record<string, Tensor>,
    options: { strict?: boolean } = {},
  ): void {
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    if (options.strict ?? true) {
      const missing = [...own.keys()].filter((k) => !entries.has(k));
      const unexpected = [...entries.keys()].filter((k) => !own.has(k));
      if (missing.length > 0 || unexpected.length > 0) {
        throw new SwitchyardError(
          'INVALID_ARGUMENT',
          'loadStateDict',
          `state dict does not match the module: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`,
        );
      }
    }
    for (const [name, value] of entries) {
      const target = own.get(name);
      if (!target) continue;
      if (value.dtype !== target.dtype || value.shape.join() !== target.shape.join()) {
        throw new SwitchyardError(
          'SHAPE_MISMATCH',
          'loadStateDict',
          `${name} is ${target.dtype} ${fmtShape(target.shape)} but the state dict holds ${value.dtype} ${fmtShape(value.shape)}`,
        );
      }
      target.assign(value);
    }
  }

  /** Sets training mode on this module and every submodule. */
  train(mode = true): this {
    this.training = mode;
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Stops gradients for parameters whose dotted name matches `pattern` (a glob where `*` is one name segment
   * and `**` any number, or a RegExp); all parameters when omitted. Returns the names frozen.
   */
  freeze(pattern: string | RegExp = '**'): string[] {
    return this.#setTrainable(pattern, false);
  }

  /** Lets gradients reach parameters matching `pattern` again. Returns the names unfrozen. */
  unfreeze(pattern: string | RegExp = '**'): string[] {
    return this.#setTrainable(pattern, true);
  }

  #setTrainable(pattern: string | RegExp, value: boolean): string[] {
    const re = namePattern(pattern);
    const names: string[] = [];
    for (const [name, p] of this.namedParameters()) {
      if (re.test(name)) {
        p.requiresGrad = value;
        names.push(name);
      }
    }
    return names;
  }

  /** Disposes the `.grad` of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /**
   * Disposes every parameter and buffer, after letting this module and every submodule free what else it
   * holds (`releaseState`), so disposing the outermost module frees the whole tree.
   */
  dispose(): void {
    for (const [, m] of this.namedModules()) m.releaseState();
    this.releaseState();
    for (const t of this.stateDict().values()) t.dispose();
  }

  /**
   * Frees tensors this module holds besides its parameters and buffers (outputs it keeps, caches); `dispose()`
   * calls it on every module of the tree. Nothing by default.
   */
  protected releaseState(): void {}

  /** Excludes every parameter and buffer from enclosing `tidy` scopes (for modules built inside one). */
  keep(): this {
    for (const t of this.stateDict().values()) keep(t);
    return this;
  }
}
