/** What the transcript workspace of a `stt serve` (`/api/v1/`) answers, as typed values with
 * camelCase fields, and the query of its transcript list. The calls are the `Client`'s. */
import { Transcript } from './transcript';
export type TranscriptStatus = 'processing' | 'completed' | 'failed';
export declare const EXPORT_FORMATS: readonly ["txt", "srt", "vtt", "json", "csv", "docx", "pdf"];
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** A stored transcript as the list shows it. */
export interface TranscriptSummary {
    id: string;
    status: TranscriptStatus;
    source: 'transcribe' | 'job' | 'openai';
    fileName: string | null;
    language: string | null;
    /** Seconds of audio. */
    duration: number | null;
    model: string;
    speakers: string[];
    created: Date;
    error: string | null;
    /** The first 200 characters of the text. */
    textPreview: string;
}
/** One page of the list, newest first. `next` and `previous` are URLs relative to the
 * server's base URL, with every filter kept; null at either end. */
export interface TranscriptPage {
    count: number;
    next: string | null;
    previous: string | null;
    results: TranscriptSummary[];
}
/** A stored transcript whole: the summary's fields and the `transcript` itself (empty while
 * processing or after a failure). */
export interface StoredTranscript extends Omit<TranscriptSummary, 'textPreview'> {
    transcript: Transcript;
}
/** What selects transcripts of the list. */
export interface TranscriptFilters {
    /** 1 to 100; the server's default is 20. */
    pageSize?: number;
    status?: TranscriptStatus;
    /** An ISO 639-1 code. */
    language?: string;
    /** Inclusive. A string is sent as is: `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time. */
    createdAfter?: Date | string;
    /** Exclusive, as `createdAfter`. */
    createdBefore?: Date | string;
    /** A case-insensitive part of the text or of the file name. */
    search?: string;
    signal?: AbortSignal;
}
export interface TranscriptListOptions extends TranscriptFilters {
    /** From 1 (the default); a page past the last is a 404. */
    page?: number;
}
/** What an account used on one UTC day. */
export interface UsageDay {
    /** `YYYY-MM-DD`. */
    date: string;
    requests: number;
    minutes: number;
    credits: number;
}
/** One entry per UTC day, oldest first, today last, and their sum. */
export interface Usage {
    days: UsageDay[];
    total: {
        requests: number;
        minutes: number;
        credits: number;
    };
}
export interface EmailPreferences {
    jobCompleted: boolean;
    usageAlerts: boolean;
    productUpdates: boolean;
}
/** The account of the client's key. Its plan and limits are set by the operator. */
export interface Account {
    id: string;
    name: string;
    email: string | null;
    plan: 'free' | 'paid';
    /** null: unlimited. */
    monthlyMinutes: number | null;
    periodStart: Date;
    /** Exact audio minutes of this calendar month. */
    minutesUsed: number;
    creditsUsed: number;
    creditsRemaining: number | null;
    maxUploadMb: number;
    concurrency: number;
    emailPreferences: EmailPreferences;
    created: Date;
}
/** What `Client.updateAccount` changes: what is given. */
export interface AccountUpdate {
    /** 1 to 200 characters. */
    name?: string;
    /** null clears the address. */
    email?: string | null;
    /** The preferences not given are kept. */
    emailPreferences?: Partial<EmailPreferences>;
    signal?: AbortSignal;
}
/** An active key of the account; `prefix` (its first 8 characters) is null for keys made
 * before accounts existed. */
export interface ApiKeyInfo {
    id: string;
    name: string | null;
    prefix: string | null;
    created: Date;
}
export interface CreatedKey extends ApiKeyInfo {
    /** The raw key: the server keeps only its hash, so this is the one time it is shown. */
    key: string;
}
type Json = Record<string, any>;
/** The query string of the list's filters that are given. */
export declare function transcriptsQuery(options: Omit<TranscriptListOptions, 'signal'>): string;
export declare const transcriptPath: (id: string) => string;
export declare function fromPage(raw: Json): TranscriptPage;
/** `transcript`: the conversion of `raw` (the client's, shared with its other calls). */
export declare const fromStored: (raw: Json, transcript: Transcript) => StoredTranscript;
export declare function fromUsage(raw: Json): Usage;
export declare function fromAccount(raw: Json): Account;
export declare const fromKey: (raw: Json) => ApiKeyInfo;
export declare const fromCreatedKey: (raw: Json) => CreatedKey;
export {};
