// Runs one example by name: node --conditions=@switchyard/source --import tsx examples/run.ts <name>
import { main as composeLayers } from './compose-layers.js';
import { main as customExpert } from './custom-expert.js';
import { main as hierarchicalMoE } from './hierarchical-moe.js';
import { main as routingStats } from './routing-stats.js';
import { main as upcycleDense } from './upcycle-dense.js';

const examples: Record<string, () => Promise<unknown>> = {
  'compose-layers': composeLayers,
  'hierarchical-moe': hierarchicalMoE,
  'custom-expert': customExpert,
  'upcycle-dense': upcycleDense,
  'routing-stats': routingStats,
};

const name = process.argv[2] ?? '';
const run = examples[name];
if (!run) {
  console.error(`usage: run.ts <${Object.keys(examples).join(' | ')}>`);
  process.exit(1);
}
await run();
