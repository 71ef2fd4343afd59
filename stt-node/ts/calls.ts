// How the SDK's classes call their native engine: one call at a time, each cancellable by an
// AbortSignal, and native calls that report through a listener.

import { SttError, aborted, fromNative } from './errors';
import * as native from './native';

/** @internal The calls on one native engine, run one at a time in order. */
export class EngineCalls<E> {
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly engine: Promise<E>) {}

  /**
   * Runs `work` when the engine is free, with a cancel token of its own that an abort
   * cancels. An abort before its turn rejects at once and skips it.
   */
  run<T>(signal: AbortSignal | undefined, work: (engine: E, cancel: native.CancelToken) => Promise<T>): Promise<T> {
    if (signal?.aborted) return Promise.reject(aborted(signal));
    const cancel = new native.CancelToken();
    let onAbort = (): void => undefined;
    const abortedEarly = new Promise<never>((_, reject) => {
      onAbort = () => {
        cancel.cancel();
        reject(aborted(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    abortedEarly.catch(() => undefined);
    const turn = this.#queue.then(async () => {
      const engine = await this.engine;
      if (signal?.aborted) throw aborted(signal);
      try {
        return await work(engine, cancel);
      } catch (error) {
        throw fromNative(error);
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    });
    this.#queue = turn.catch(() => undefined);
    return Promise.race([turn, abortedEarly]).catch((error: unknown) => {
      // An engine stopped by this signal says `cancelled`; report the abort as such.
      if (signal?.aborted && error instanceof SttError && error.code === 'cancelled') throw aborted(signal);
      throw error;
    });
  }
}

/**
 * @internal Starts a native call that hands each report to its listener and ends them with
 * `''`, passing each to `handle`. The result settles after the last report (which may come
 * after the native promise); an exception thrown by `handle` cancels the call and is what it
 * rejects with.
 */
export function withReports<T>(
  cancel: native.CancelToken,
  start: (listener: (report: string) => void) => Promise<T>,
  handle: (report: string) => void,
): Promise<T> {
  let callbackError: { error: unknown } | undefined;
  let ended = (): void => undefined;
  const callEnded = new Promise<void>((resolve) => (ended = resolve));
  const result = start((report: string) => {
    if (report === '') return ended();
    if (callbackError) return;
    try {
      handle(report);
    } catch (error) {
      callbackError = { error };
      cancel.cancel();
    }
  });
  result.catch(() => undefined);
  return callEnded
    .then(() => result)
    .catch((error: unknown) => {
      throw callbackError ? callbackError.error : error;
    });
}
