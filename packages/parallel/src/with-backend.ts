import { type Backend, getBackend, setBackend } from '@switchyard/tensor';

/**
 * Runs `fn` with `backend` as the one new tensors are created on, then restores the previous backend. Virtual
 * ranks share one thread, so each rank's synchronous work runs inside `withBackend(comm.backend, ...)`.
 * `fn` must be synchronous (the backend is restored when it returns).
 */
export function withBackend<T>(backend: Backend, fn: () => T): T {
  const previous = getBackend();
  setBackend(backend);
  try {
    return fn();
  } finally {
    setBackend(previous);
  }
}
