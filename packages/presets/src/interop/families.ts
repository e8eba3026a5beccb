import { SwitchyardError } from '@switchyard/tensor';
import type { HuggingFaceConfig } from './config-reader.js';
import { deepseekV2Family, deepseekV3Family } from './families/deepseek.js';
import { mixtralFamily } from './families/mixtral.js';
import { olmoeFamily } from './families/olmoe.js';
import { qwen2MoeFamily } from './families/qwen2-moe.js';
import { switchTransformersFamily } from './families/switch-transformers.js';
import type { Family } from './family.js';

/** The supported architectures, in the order `exportHuggingFace` tries them. */
export const FAMILIES: readonly Family[] = [
  switchTransformersFamily,
  deepseekV3Family,
  deepseekV2Family,
  qwen2MoeFamily,
  olmoeFamily,
  mixtralFamily,
];

const OP = 'importHuggingFaceConfig';

/**
 * The family a config.json belongs to, from `architectures` (its first supported entry) and `model_type`, which
 * must agree when both are given. Unknown architectures are an UNSUPPORTED error listing the supported ones.
 */
export function familyOf(json: HuggingFaceConfig): Family {
  const { architectures, model_type: modelType } = json;
  const supported = FAMILIES.map((f) => `${f.architecture} (${f.modelType})`).join(', ');
  if (
    architectures !== undefined &&
    architectures !== null &&
    (!Array.isArray(architectures) || architectures.some((a) => typeof a !== 'string'))
  ) {
    throw new SwitchyardError(
      'INVALID_CONFIG',
      OP,
      `config.json: architectures must be a list of class names, got ${JSON.stringify(architectures)}`,
    );
  }
  const names = (architectures as string[] | null | undefined) ?? [];
  const byClass = FAMILIES.find((f) => names.includes(f.architecture));
  const byType = FAMILIES.find((f) => f.modelType === modelType);
  if (byClass && modelType !== undefined && byClass !== byType) {
    throw new SwitchyardError(
      'INVALID_CONFIG',
      OP,
      `config.json: model_type ${JSON.stringify(modelType)} does not match architectures ${JSON.stringify(names)}`,
    );
  }
  const family = byClass ?? (names.length === 0 ? byType : undefined);
  if (family === undefined) {
    const what =
      names.length > 0
        ? `architectures ${JSON.stringify(names)}`
        : `model_type ${JSON.stringify(modelType ?? null)}`;
    throw new SwitchyardError(
      'UNSUPPORTED',
      OP,
      `config.json: ${what} is not supported; Switchyard reads ${supported}`,
    );
  }
  return family;
}
