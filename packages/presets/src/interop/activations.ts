import type { ActivationName } from '@switchyard/nn';
import type { ConfigReader } from './config-reader.js';

/** transformers' `ACT2FN` names with an exact Switchyard equivalent. */
const FROM_HF: Record<string, ActivationName> = {
  silu: 'silu',
  swish: 'silu',
  relu: 'relu',
  gelu: 'gelu',
  gelu_pytorch_tanh: 'geluTanh',
  gelu_new: 'geluTanh',
};

const TO_HF: Record<ActivationName, string> = {
  silu: 'silu',
  relu: 'relu',
  gelu: 'gelu',
  geluTanh: 'gelu_pytorch_tanh',
};

/** Reads an activation key (`hidden_act`, `dense_act_fn`) as a Switchyard activation. */
export function readActivation(reader: ConfigReader, key: string, fallback: string): ActivationName {
  const name = reader.choice(key, Object.keys(FROM_HF), fallback);
  return FROM_HF[name] as ActivationName;
}

/** The transformers name of a Switchyard activation. */
export function activationToHF(name: ActivationName): string {
  return TO_HF[name];
}
