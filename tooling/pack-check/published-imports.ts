// Which packages a published package's files import: static and dynamic imports, re-exports, `require` and
// `createRequire(...).resolve`, and `/// <reference types>` in declarations. Comments are ignored, so JSDoc
// examples do not count; Node built-ins are left out.
import { builtinModules } from 'node:module';

const PATTERNS = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"`]([^'"`$]+)/g,
  /\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]/g,
  /\)\.resolve\(\s*['"]([^'"]+)['"]/g,
];
const REFERENCE = /^\/\/\/\s*<reference\s+types=["']([^"']+)["']/gm;
const BUILTINS = new Set(builtinModules);

/** `@scope/name/sub/path` -> `@scope/name`, `name/sub` -> `name`; null for relative paths and built-ins. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
  return BUILTINS.has(name) ? null : name;
}

/** The packages imported by the given file texts (JavaScript or declarations). */
export function publishedImports(texts: Iterable<string>): Set<string> {
  const found = new Set<string>();
  const add = (specifier: string | undefined) => {
    const name = specifier === undefined ? null : packageOf(specifier);
    if (name) found.add(name);
  };
  for (const text of texts) {
    for (const m of text.matchAll(REFERENCE)) add(m[1]);
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const pattern of PATTERNS) for (const m of code.matchAll(pattern)) add(m[1]);
  }
  return found;
}
