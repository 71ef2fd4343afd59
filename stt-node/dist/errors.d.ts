/** Errors of the package: one class, with a stable `code`. */
/** The engine's error kinds, then the client's own. */
export type ErrorCode = 'io' | 'empty_audio' | 'unsupported_format' | 'corrupt_audio' | 'too_long' | 'runtime_not_found' | 'runtime' | 'model_not_found' | 'invalid_model' | 'invalid_option' | 'inference' | 'cancelled' | 'server' | 'job_failed' | 'timeout';
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
export declare class SttError extends Error {
    readonly code: ErrorCode;
    readonly status?: number;
    readonly jobId?: string;
    constructor(message: string, code: ErrorCode, options?: SttErrorOptions);
}
/** An engine error (an `Error` with a known `code`) as an `SttError`; anything else as is. */
export declare function fromNative(error: unknown): unknown;
export declare function invalidOption(message: string): SttError;
export declare function aborted(signal: AbortSignal): SttError;
