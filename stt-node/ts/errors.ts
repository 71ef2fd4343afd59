/** Errors of the package: one class, with a stable `code`. */

/** The engine's error kinds, then the client's own. */
export type ErrorCode =
  | 'io'
  | 'empty_audio'
  | 'unsupported_format'
  | 'corrupt_audio'
  | 'too_long'
  | 'runtime_not_found'
  | 'runtime'
  | 'model_not_found'
  | 'invalid_model'
  | 'invalid_option'
  | 'inference'
  | 'cancelled'
  | 'server'
  | 'job_failed'
  | 'timeout';

const ENGINE_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'io',
  'empty_audio',
  'unsupported_format',
  'corrupt_audio',
  'too_long',
  'runtime_not_found',
  'runtime',
  'model_not_found',
  'invalid_model',
  'invalid_option',
  'inference',
  'cancelled',
]);

export interface SttErrorOptions {
  cause?: unknown;
  /** HTTP status of a `server` error (0: the server could not be reached). */
  status?: number;
  /** The job of a `job_failed` error. */
  jobId?: string;
}

/**
 * Every error this package throws or rejects with. A call stopped by its `AbortSignal` has
 * code `cancelled` and name `AbortError`, as `fetch` does.
 */
export class SttError extends Error {
  readonly code: ErrorCode;
  readonly status?: number;
  readonly jobId?: string;

  constructor(message: string, code: ErrorCode, options: SttErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = code === 'cancelled' ? 'AbortError' : 'SttError';
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.jobId !== undefined) this.jobId = options.jobId;
  }
}

/** An engine error (an `Error` with a known `code`) as an `SttError`; anything else as is. */
export function fromNative(error: unknown): unknown {
  if (error instanceof SttError || !(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && ENGINE_CODES.has(code)
    ? new SttError(error.message, code as ErrorCode)
    : error;
}

export function invalidOption(message: string): SttError {
  return new SttError(message, 'invalid_option');
}

export function aborted(signal: AbortSignal): SttError {
  return new SttError('the operation was aborted', 'cancelled', { cause: signal.reason });
}
