import { readFileSync } from 'node:fs';
import { liveTensorCount } from '@switchyard/tensor';
import { describe, expect, it } from 'vitest';
import { huggingFaceExample } from '../../examples/hugging-face.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README example (examples/hugging-face.ts)', () => {
  it('imports Mixtral-8x7B, exports and reloads a tiny DeepSeek-V3 with the same logits, and frees everything', async () => {
    const before = liveTensorCount();
    const lines = await huggingFaceExample(() => {});
    expect(lines[0]).toBe('Mixtral-8x7B config.json -> mixtral-8x7b: 46.70B parameters, 12.88B active');
    expect(lines[1]).toMatch(/^deepseek-v3-tiny -> DeepseekV3ForCausalLM: /);
    expect(lines.at(-1)).toBe('reloaded deepseek-v3-tiny: same logits (max |difference| 0)');
    expect(liveTensorCount()).toBe(before);
    // The README shows exactly this output.
    expect(readme).toContain(`\`\`\`\n${lines.join('\n')}\n\`\`\``);
  });
});
