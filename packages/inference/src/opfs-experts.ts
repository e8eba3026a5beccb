import { SwitchyardError } from '@switchyard/tensor';
import type { ExpertStore } from './expert-store.js';
import { SafetensorsExpertStore, writeExperts } from './safetensors-expert-store.js';

/** The origin-private file system's root directory, or a BACKEND_UNAVAILABLE error outside a browser. */
async function opfsRoot(op: string): Promise<FileSystemDirectoryHandle> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (typeof storage?.getDirectory !== 'function') {
    throw new SwitchyardError(
      'BACKEND_UNAVAILABLE',
      op,
      'the origin-private file system needs navigator.storage.getDirectory (a browser); in Node use saveExperts',
    );
  }
  return storage.getDirectory();
}

/**
 * Writes every expert of `store` to the file `name` of the browser's origin-private file system (or of
 * `directory`), streaming one expert at a time, in the format `SafetensorsExpertStore` reads. Returns the
 * bytes written. Experts saved once survive reloads: a page can offload a model larger than its GPU memory
 * without downloading the experts again.
 *
 * @example
 * ```ts
 * await saveExpertsToOPFS('mixtral-experts.safetensors', await HostExpertStore.fromModel(model));
 * const store = await openExpertsFromOPFS('mixtral-experts.safetensors');
 * ```
 */
export async function saveExpertsToOPFS(
  name: string,
  store: ExpertStore,
  directory?: FileSystemDirectoryHandle,
): Promise<number> {
  const dir = directory ?? (await opfsRoot('saveExpertsToOPFS'));
  const file = await dir.getFileHandle(name, { create: true });
  const writable = await file.createWritable();
  try {
    const bytes = await writeExperts(store, (chunk) => writable.write(chunk as Uint8Array<ArrayBuffer>));
    await writable.close();
    return bytes;
  } catch (err) {
    await writable.abort();
    throw err;
  }
}

/**
 * Opens experts saved by `saveExpertsToOPFS` from the origin-private file system (or from `directory`):
 * range reads of the file, one expert at a time.
 */
export async function openExpertsFromOPFS(
  name: string,
  directory?: FileSystemDirectoryHandle,
): Promise<SafetensorsExpertStore> {
  const dir = directory ?? (await opfsRoot('openExpertsFromOPFS'));
  const file = await dir.getFileHandle(name);
  return SafetensorsExpertStore.open(await file.getFile());
}
