// `npm run demo`: see --help.
import { SwitchyardError } from '@switchyard/tensor';
import { HELP, parseOptions } from './options.js';
import { runDemo } from './run-demo.js';

async function main(): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof SwitchyardError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  await runDemo(options, { progress: process.stderr, log: (line) => process.stdout.write(`${line}\n`) });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
