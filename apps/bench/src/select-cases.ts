import { SwitchyardError } from '@switchyard/tensor';
import type { BenchCase } from './bench-case.js';

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[*?]/g, (c) => (c === '*' ? '.*' : '.'));
  return new RegExp(`^${body}$`);
}

/**
 * The cases to run, in registry order: those matching any of `patterns` (globs with `*` and `?`), or every
 * case (only the quick ones with `quick`) when `patterns` is null. `--cases` wins over `--quick`'s selection
 * (the quick shapes still apply). A pattern that matches nothing is an error naming the known cases.
 */
export function selectCases(
  registry: readonly BenchCase[],
  patterns: readonly string[] | null,
  quick: boolean,
): BenchCase[] {
  if (patterns === null) return registry.filter((c) => !quick || c.quick);
  const regexps = patterns.map((p) => [p, globToRegExp(p)] as const);
  for (const [pattern, re] of regexps) {
    if (!registry.some((c) => re.test(c.name))) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        'bench',
        `--cases: '${pattern}' matches no case (known: ${registry.map((c) => c.name).join(', ')})`,
      );
    }
  }
  return registry.filter((c) => regexps.some(([, re]) => re.test(c.name)));
}
