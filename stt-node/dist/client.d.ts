/** Client of a running `stt serve` (the synchronous and asynchronous endpoints of the API),
 * returning the same `Transcript` as the local engine. Only Node's own modules are used. */
import { Transcript } from './transcript';
import { AudioInput } from './whisper';
export interface ClientOptions {
    /** With or without the `/v1` suffix. Default `http://127.0.0.1:8080`. */
    baseUrl?: string;
    /** Sent as a bearer token; default `$STT_API_KEY`. */
    apiKey?: string;
    /** Gives up on a request after this long without activity. Default 600 000. */
    timeoutMs?: number;
}
/** The form fields of `POST /v1/transcribe`. */
export interface RemoteTranscribeOptions {
    model?: string;
    language?: string;
    task?: 'transcribe' | 'translate';
    wordTimestamps?: boolean;
    prompt?: string;
    temperature?: number;
    beamSize?: number;
    vad?: boolean;
    diarize?: boolean;
    speakers?: number;
    signal?: AbortSignal;
}
export interface SubmitOptions {
    model?: string;
    signal?: AbortSignal;
}
export interface WaitOptions {
    /** Rejects with code `timeout` after this long. Default: no limit. */
    timeoutMs?: number;
    pollIntervalMs?: number;
    signal?: AbortSignal;
}
/** A job as the server shows it: `status` and, once completed, `result`. */
export interface JobStatus {
    status: 'queued' | 'processing' | 'completed' | 'failed';
    error?: string;
    result?: DeepgramResult;
    [field: string]: unknown;
}
type Json = Record<string, any>;
type DeepgramResult = Json;
export declare class Client {
    #private;
    readonly baseUrl: string;
    readonly apiKey: string | undefined;
    readonly timeoutMs: number;
    constructor(options?: ClientOptions);
    /** Transcribes on the server and waits for the answer (`POST /v1/transcribe`). */
    transcribe(input: AudioInput, options?: RemoteTranscribeOptions): Promise<Transcript>;
    /** Queues an asynchronous job for an upload, or for `{ url }` that the server fetches;
     * resolves to its id (`POST /v1/stt/create`). */
    submit(source: AudioInput | {
        url: string;
    }, options?: SubmitOptions): Promise<string>;
    /** The job's status (`GET /v1/stt/{id}`). */
    job(jobId: string, options?: {
        signal?: AbortSignal;
    }): Promise<JobStatus>;
    /** Polls a job until it completes; rejects with code `job_failed` if it failed. */
    wait(jobId: string, options?: WaitOptions): Promise<Transcript>;
}
export {};
