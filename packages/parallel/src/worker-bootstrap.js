// The first module of every rank's worker thread (plain JavaScript, so it loads from src and from dist alike):
// when the ranks run from TypeScript sources it registers the loader the launcher names (tsx by default), then
// starts the rank runtime. See launchWorkers.
import { workerData } from 'node:worker_threads';

if (workerData.loader) {
  const loader = await import(workerData.loader);
  loader.register();
}
await import(workerData.main);
