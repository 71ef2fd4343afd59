/** Client of a running `stt serve` (the synchronous and asynchronous endpoints of the API),
 * returning the same `Transcript` as the local engine, of its text endpoints (summaries,
 * analyses, generated content, translation, embeddings), its audio tools (noise removal,
 * speech), and of its transcript workspace (`/api/v1/`: stored transcripts and questions
 * about them, usage, account, keys). Only Node's own modules are used. */
import { EnhanceOptions, Speech } from './audio-tools';
import { Analysis, AnalysisType, ChatAnswer, ContentType, Embeddings, Generated, Summary, SummaryStyle, Translation } from './llm';
import { Transcript } from './transcript';
import { AudioInput } from './whisper';
import { Account, AccountUpdate, ApiKeyInfo, CreatedKey, ExportFormat, StoredTranscript, TranscriptFilters, TranscriptListOptions, TranscriptPage, TranscriptSummary, Usage } from './workspace';
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
    /** With a key the server keeps the transcript in its account (`client.transcripts`)
     * unless this is false. */
    store?: boolean;
    signal?: AbortSignal;
}
export interface SubmitOptions {
    model?: string;
    /** As for `transcribe`. */
    store?: boolean;
    signal?: AbortSignal;
}
export interface WaitOptions {
    /** Rejects with code `timeout` after this long. Default: no limit. */
    timeoutMs?: number;
    pollIntervalMs?: number;
    signal?: AbortSignal;
}
/** What every text call of the `Client` accepts. */
export interface RemoteTextOptions {
    /** An installed language model of the server; by default its `--llm-model`. */
    model?: string;
    signal?: AbortSignal;
}
/** The form fields of `POST /v1/tts` (`Client.speak`). */
export interface RemoteSpeakOptions {
    /** A clip of the voice to imitate, for a voice that can clone (the installed ones cannot). */
    reference?: AudioInput;
    /** An installed voice of the server, or one of OpenAI's names (its default voice speaks). */
    voice?: string;
    /** Speaking rate, 0.25 to 4. */
    speed?: number;
    signal?: AbortSignal;
}
/** Generated content as the server answers it. */
export type RemoteGenerated<T extends ContentType = ContentType> = Generated<T> & {
    type: T;
    model: string;
};
/** A job as the server shows it: `status` and, once completed, `result`. */
export interface JobStatus {
    status: 'waiting' | 'active' | 'completed' | 'failed';
    /** While `active`: the share of the audio decoded so far, from 0 to 1. */
    progress?: number;
    error?: string;
    result?: DeepgramResult;
    [field: string]: unknown;
}
type Json = Record<string, any>;
type DeepgramResult = Json;
/** Errors from the server reject with code `server` and its HTTP `status` (0: no answer at
 * all). The workspace calls (`transcripts`, `keys`, `usage`, `account`) need a key, and see
 * only the key's account. */
export declare class Client {
    #private;
    readonly baseUrl: string;
    readonly apiKey: string | undefined;
    readonly timeoutMs: number;
    readonly transcripts: Transcripts;
    readonly keys: Keys;
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
    /** Cancels a waiting or active job (`DELETE /v1/stt/{id}`): it fails with "cancelled by its
     * creator" and its worker stops; a finished job rejects with status 409. */
    cancel(jobId: string, options?: {
        signal?: AbortSignal;
    }): Promise<JobStatus>;
    /** Polls a job until it completes; rejects with code `job_failed` if it failed. */
    wait(jobId: string, options?: WaitOptions): Promise<Transcript>;
    /** A summary of `text`, `brief` unless `style` says otherwise (`POST /v1/summarize`). */
    summarize(text: string, options?: RemoteTextOptions & {
        style?: SummaryStyle;
    }): Promise<Summary>;
    /** Analyses `text` (`POST /v1/analyze`); `result` has the shape of `type` (`{ label, reason }`
     * for `sentiment`, `{ redactedText, entities }` for `pii_redact`...). */
    analyze<T extends AnalysisType>(text: string, type: T, options?: RemoteTextOptions): Promise<Analysis<T>>;
    /** Writes content of `type` from `text` (`POST /v1/generate`): `content` for prose,
     * `result` for a structured type. */
    generate<T extends ContentType>(text: string, type: T, options?: RemoteTextOptions): Promise<RemoteGenerated<T>>;
    /** Translates a text, or each of several in one request, from `source` (the server's
     * default `"en"`) into `target` (`POST /v1/translate`). */
    translate(text: string, target: string, options?: RemoteTextOptions & {
        source?: string;
    }): Promise<Translation>;
    translate(texts: readonly string[], target: string, options?: RemoteTextOptions & {
        source?: string;
    }): Promise<Translation[]>;
    translate(input: string | readonly string[], target: string, options?: RemoteTextOptions & {
        source?: string;
    }): Promise<Translation | Translation[]>;
    /** One unit vector per text, in order (`POST /v1/embed`). */
    embed(texts: readonly string[], options?: {
        signal?: AbortSignal;
    }): Promise<Embeddings>;
    /** `input` with the noise removed on the server (`POST /v1/enhance-audio`): a 16-bit mono
     * WAV file at 48 kHz. Options as the local `enhance`; left out, the server's (the same). */
    enhance(input: AudioInput, options?: EnhanceOptions): Promise<Buffer>;
    /** `text` spoken by the server (`POST /v1/tts`): a 16-bit mono WAV file in `audio`, with its
     * `duration`, the `voice` that spoke and whether it cloned the `reference` (`voiceCloned`). */
    speak(text: string, options?: RemoteSpeakOptions): Promise<Speech>;
    /** The account's use over the last `days` UTC days (1 to 365, the server's default 30),
     * today included (`GET /api/v1/usage/`). */
    usage(options?: {
        days?: number;
        signal?: AbortSignal;
    }): Promise<Usage>;
    /** The account of the key (`GET /api/v1/account/`). */
    account(options?: {
        signal?: AbortSignal;
    }): Promise<Account>;
    /** Changes what is given and resolves to the account (`PATCH /api/v1/account/`). */
    updateAccount(changes: AccountUpdate): Promise<Account>;
}
/** The transcripts stored in the account of the client's key (`client.transcripts`). An id
 * of another account's transcript answers 404, as an unknown one does. */
export declare class Transcripts {
    #private;
    /** One page, newest first (`GET /api/v1/transcripts/`). */
    list(options?: TranscriptListOptions): Promise<TranscriptPage>;
    /** Every transcript that the filters select, newest first, fetching one page at a time. */
    iterate(filters?: TranscriptFilters): AsyncGenerator<TranscriptSummary, void, undefined>;
    /** The transcript whole, as a `Transcript` in `transcript`. */
    get(id: string, options?: {
        signal?: AbortSignal;
    }): Promise<StoredTranscript>;
    /** Deletes the transcript and what derives from it (its job and the job's audio). */
    delete(id: string, options?: {
        signal?: AbortSignal;
    }): Promise<void>;
    /** Answers `question` from the transcript's segments nearest to it, which come back as its
     * `sources`; a `sessionId` from an earlier answer continues that conversation
     * (`POST /api/v1/transcripts/{id}/chat/`). */
    chat(id: string, question: string, options?: RemoteTextOptions & {
        sessionId?: string;
    }): Promise<ChatAnswer>;
    /** Analyses the transcript's text, as `client.analyze` does a text. */
    analyze<T extends AnalysisType>(id: string, type: T, options?: RemoteTextOptions): Promise<Analysis<T>>;
    /** Writes content of `type` from the transcript, as `client.generate` does from a text. */
    generate<T extends ContentType>(id: string, type: T, options?: RemoteTextOptions): Promise<RemoteGenerated<T>>;
    /** The transcript as a file in `format`, rendered by the server; a 409 while it is not
     * completed. */
    export(id: string, format: ExportFormat, options?: {
        signal?: AbortSignal;
    }): Promise<Buffer>;
}
/** The active keys of the account (`client.keys`). A new key shares the account's plan and
 * quota. */
export declare class Keys {
    #private;
    list(options?: {
        signal?: AbortSignal;
    }): Promise<ApiKeyInfo[]>;
    /** A new key; its raw `key` is shown this once. */
    create(options?: {
        name?: string;
        signal?: AbortSignal;
    }): Promise<CreatedKey>;
    /** Revokes a key; the account's last one is refused (409): create another first. */
    delete(id: string, options?: {
        signal?: AbortSignal;
    }): Promise<void>;
}
export {};
