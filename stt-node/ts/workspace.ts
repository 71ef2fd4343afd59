/** What the transcript workspace of a `stt serve` (`/api/v1/`) answers, as typed values with
 * camelCase fields, and the query of its transcript list. The calls are the `Client`'s. */

import { camelCase, renameKeys, snakeCase } from './names';
import { Transcript } from './transcript';

export type TranscriptStatus = 'processing' | 'completed' | 'failed';

export const EXPORT_FORMATS = ['txt', 'srt', 'vtt', 'json', 'csv', 'docx', 'pdf'] as const;
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
  total: { requests: number; minutes: number; credits: number };
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
export function transcriptsQuery(options: Omit<TranscriptListOptions, 'signal'>): string {
  return Object.entries(options)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => {
      const text = value instanceof Date ? value.toISOString() : String(value);
      return `${snakeCase(name)}=${encodeURIComponent(text)}`;
    })
    .join('&');
}

export const transcriptPath = (id: string): string => `/api/v1/transcripts/${encodeURIComponent(id)}/`;

/** The fields that the summary and the whole transcript share. */
function storedFields(raw: Json): Omit<TranscriptSummary, 'textPreview'> {
  return {
    id: String(raw.id),
    status: raw.status,
    source: raw.source,
    fileName: raw.file_name,
    language: raw.language,
    duration: raw.duration,
    model: raw.model,
    speakers: raw.speakers,
    created: new Date(raw.created),
    error: raw.error,
  };
}

export function fromPage(raw: Json): TranscriptPage {
  const results = (raw.results as Json[]).map((item) => ({ ...storedFields(item), textPreview: item.text_preview }));
  return { count: raw.count, next: raw.next, previous: raw.previous, results };
}

/** `transcript`: the conversion of `raw` (the client's, shared with its other calls). */
export const fromStored = (raw: Json, transcript: Transcript): StoredTranscript => ({
  ...storedFields(raw),
  transcript,
});

export function fromUsage(raw: Json): Usage {
  const { requests, minutes, credits } = raw.total;
  const days = (raw.days as Json[]).map((day) => ({
    date: day.date,
    requests: day.requests,
    minutes: day.minutes,
    credits: day.credits,
  }));
  return { days, total: { requests, minutes, credits } };
}

export function fromAccount(raw: Json): Account {
  const account = renameKeys(raw, camelCase) as Account;
  return { ...account, periodStart: new Date(raw.period_start), created: new Date(raw.created) };
}

export const fromKey = (raw: Json): ApiKeyInfo => ({
  id: raw.id,
  name: raw.name,
  prefix: raw.prefix,
  created: new Date(raw.created),
});

export const fromCreatedKey = (raw: Json): CreatedKey => ({ ...fromKey(raw), key: raw.key });
