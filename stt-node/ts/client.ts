/** Client of a running `stt serve` (the synchronous and asynchronous endpoints of the API),
 * returning the same `Transcript` as the local engine, of its text endpoints (summaries,
 * analyses, generated content, translation, embeddings), its audio tools (noise removal,
 * speech), and of its transcript workspace (`/api/v1/`: stored transcripts and questions
 * about them, usage, account, keys). Only Node's own modules are used. */

import * as http from 'node:http';
import * as https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

import { EnhanceOptions, Speech, speechFromApi } from './audio-tools';
import { SttError, aborted, invalidOption } from './errors';
import {
  Analysis,
  AnalysisType,
  ChatAnswer,
  ContentType,
  Embeddings,
  Generated,
  Summary,
  SummaryStyle,
  Translation,
  fromWire,
} from './llm';
import { Multipart } from './multipart';
import { renameKeys, snakeCase } from './names';
import { Transcript, transcriptFromApi, transcriptFromDeepgram } from './transcript';
import { AudioInput } from './whisper';
import {
  Account,
  AccountUpdate,
  ApiKeyInfo,
  CreatedKey,
  EXPORT_FORMATS,
  ExportFormat,
  StoredTranscript,
  TranscriptFilters,
  TranscriptListOptions,
  TranscriptPage,
  TranscriptSummary,
  Usage,
  fromAccount,
  fromCreatedKey,
  fromKey,
  fromPage,
  fromStored,
  fromUsage,
  transcriptPath,
  transcriptsQuery,
} from './workspace';

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
export type RemoteGenerated<T extends ContentType = ContentType> = Generated<T> & { type: T; model: string };

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

/** How the workspace calls reach the server: through their `Client`'s requests. */
interface Transport {
  json(method: string, route: string, body?: Json, signal?: AbortSignal): Promise<Json>;
  bytes(method: string, route: string, signal?: AbortSignal): Promise<Buffer>;
}

/** How long an upload waits for the server's `100 Continue` before it is sent anyway. */
const CONTINUE_TIMEOUT_MS = 1_000;

/** Errors from the server reject with code `server` and its HTTP `status` (0: no answer at
 * all). The workspace calls (`transcripts`, `keys`, `usage`, `account`) need a key, and see
 * only the key's account. */
export class Client {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly timeoutMs: number;
  readonly transcripts: Transcripts;
  readonly keys: Keys;
  readonly #transport: Transport;

  constructor(options: ClientOptions = {}) {
    const base = (options.baseUrl ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    this.baseUrl = base.endsWith('/v1') ? base.slice(0, -3) : base;
    this.apiKey = options.apiKey ?? process.env.STT_API_KEY;
    this.timeoutMs = options.timeoutMs ?? 600_000;
    this.#transport = {
      json: (method, route, body, signal) =>
        this.#request(method, route, body && Buffer.from(JSON.stringify(body)), signal),
      bytes: async (method, route, signal) => (await this.#exchange(method, route, undefined, signal, '*/*'))[1],
    };
    this.transcripts = new Transcripts(this.#transport);
    this.keys = new Keys(this.#transport);
  }

  /** Transcribes on the server and waits for the answer (`POST /v1/transcribe`). */
  async transcribe(input: AudioInput, options: RemoteTranscribeOptions = {}): Promise<Transcript> {
    const { signal, ...given } = options;
    const fields = { response_format: 'json', ...formFields(given) };
    const answer = await this.#request('POST', '/v1/transcribe', new Multipart(fields, 'file', input), signal);
    return transcriptFromApi(answer);
  }

  /** Queues an asynchronous job for an upload, or for `{ url }` that the server fetches;
   * resolves to its id (`POST /v1/stt/create`). */
  async submit(source: AudioInput | { url: string }, options: SubmitOptions = {}): Promise<string> {
    const { model, store, signal } = options;
    const fields: Record<string, string> = model ? { model } : {};
    if (store !== undefined) fields.store = String(store);
    const body =
      typeof source === 'object' && 'url' in source
        ? Buffer.from(JSON.stringify({ url: source.url, model, store }))
        : new Multipart(fields, 'audio', source);
    const answer = await this.#request('POST', '/v1/stt/create', body, signal);
    return String(answer.generation_id);
  }

  /** The job's status (`GET /v1/stt/{id}`). */
  async job(jobId: string, options: { signal?: AbortSignal } = {}): Promise<JobStatus> {
    return (await this.#request('GET', `/v1/stt/${encodeURIComponent(jobId)}`, undefined, options.signal)) as JobStatus;
  }

  /** Cancels a waiting or active job (`DELETE /v1/stt/{id}`): it fails with "cancelled by its
   * creator" and its worker stops; a finished job rejects with status 409. */
  async cancel(jobId: string, options: { signal?: AbortSignal } = {}): Promise<JobStatus> {
    return (await this.#request('DELETE', `/v1/stt/${encodeURIComponent(jobId)}`, undefined, options.signal)) as JobStatus;
  }

  /** Polls a job until it completes; rejects with code `job_failed` if it failed. */
  async wait(jobId: string, options: WaitOptions = {}): Promise<Transcript> {
    const { timeoutMs, pollIntervalMs = 1_000, signal } = options;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const job = await this.job(jobId, { signal });
      if (job.status === 'completed' && job.result) return transcriptFromDeepgram(job.result);
      if (job.status === 'failed') {
        throw new SttError(job.error ?? `job ${jobId} failed`, 'job_failed', { jobId });
      }
      if (Date.now() >= deadline) {
        throw new SttError(`job ${jobId} is still ${job.status} after ${timeoutMs} ms`, 'timeout', { jobId });
      }
      try {
        await sleep(pollIntervalMs, undefined, { signal });
      } catch {
        throw aborted(signal as AbortSignal);
      }
    }
  }

  /** A summary of `text`, `brief` unless `style` says otherwise (`POST /v1/summarize`). */
  async summarize(text: string, options: RemoteTextOptions & { style?: SummaryStyle } = {}): Promise<Summary> {
    const { style, model, signal } = options;
    return fromWire(await this.#transport.json('POST', '/v1/summarize', { text, style, model }, signal));
  }

  /** Analyses `text` (`POST /v1/analyze`); `result` has the shape of `type` (`{ label, reason }`
   * for `sentiment`, `{ redactedText, entities }` for `pii_redact`...). */
  async analyze<T extends AnalysisType>(text: string, type: T, options: RemoteTextOptions = {}): Promise<Analysis<T>> {
    const { model, signal } = options;
    return fromWire(await this.#transport.json('POST', '/v1/analyze', { text, type, model }, signal));
  }

  /** Writes content of `type` from `text` (`POST /v1/generate`): `content` for prose,
   * `result` for a structured type. */
  async generate<T extends ContentType>(text: string, type: T, options: RemoteTextOptions = {}): Promise<RemoteGenerated<T>> {
    const { model, signal } = options;
    return fromWire(await this.#transport.json('POST', '/v1/generate', { text, type, model }, signal));
  }

  /** Translates a text, or each of several in one request, from `source` (the server's
   * default `"en"`) into `target` (`POST /v1/translate`). */
  translate(text: string, target: string, options?: RemoteTextOptions & { source?: string }): Promise<Translation>;
  translate(texts: readonly string[], target: string, options?: RemoteTextOptions & { source?: string }): Promise<Translation[]>;
  translate(
    input: string | readonly string[],
    target: string,
    options?: RemoteTextOptions & { source?: string },
  ): Promise<Translation | Translation[]>;
  async translate(
    input: string | readonly string[],
    target: string,
    options: RemoteTextOptions & { source?: string } = {},
  ): Promise<Translation | Translation[]> {
    const { source, model, signal } = options;
    if (typeof input === 'string') {
      return fromWire(await this.#transport.json('POST', '/v1/translate', { text: input, target, source, model }, signal));
    }
    const body = { texts: input, target, source, model };
    const answer = fromWire<Omit<Translation, 'translatedText'> & { translations: Array<{ translatedText: string }> }>(
      await this.#transport.json('POST', '/v1/translate', body, signal),
    );
    const { translations, ...shared } = answer;
    return translations.map(({ translatedText }) => ({ translatedText, ...shared }));
  }

  /** One unit vector per text, in order (`POST /v1/embed`). */
  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Embeddings> {
    return fromWire(await this.#transport.json('POST', '/v1/embed', { texts }, options.signal));
  }

  /** `input` with the noise removed on the server (`POST /v1/enhance-audio`): a 16-bit mono
   * WAV file at 48 kHz. Options as the local `enhance`; left out, the server's (the same). */
  async enhance(input: AudioInput, options: EnhanceOptions = {}): Promise<Buffer> {
    const { signal, ...given } = options;
    const body = new Multipart(formFields(given), 'file', input);
    return (await this.#exchange('POST', '/v1/enhance-audio', body, signal, 'audio/wav'))[1];
  }

  /** `text` spoken by the server (`POST /v1/tts`): a 16-bit mono WAV file in `audio`, with its
   * `duration`, the `voice` that spoke and whether it cloned the `reference` (`voiceCloned`). */
  async speak(text: string, options: RemoteSpeakOptions = {}): Promise<Speech> {
    const { signal, reference, ...given } = options;
    const body = new Multipart(formFields({ text, ...given }), 'reference', reference);
    const [, audio, headers] = await this.#exchange('POST', '/v1/tts', body, signal, 'audio/wav');
    return speechFromApi(audio, headers);
  }

  /** The account's use over the last `days` UTC days (1 to 365, the server's default 30),
   * today included (`GET /api/v1/usage/`). */
  async usage(options: { days?: number; signal?: AbortSignal } = {}): Promise<Usage> {
    const query = options.days === undefined ? '' : `?days=${encodeURIComponent(options.days)}`;
    return fromUsage(await this.#transport.json('GET', `/api/v1/usage/${query}`, undefined, options.signal));
  }

  /** The account of the key (`GET /api/v1/account/`). */
  async account(options: { signal?: AbortSignal } = {}): Promise<Account> {
    return fromAccount(await this.#transport.json('GET', '/api/v1/account/', undefined, options.signal));
  }

  /** Changes what is given and resolves to the account (`PATCH /api/v1/account/`). */
  async updateAccount(changes: AccountUpdate): Promise<Account> {
    const { signal, name, email, emailPreferences } = changes;
    const body = { name, email, email_preferences: emailPreferences && renameKeys(emailPreferences, snakeCase) };
    return fromAccount(await this.#transport.json('PATCH', '/api/v1/account/', body, signal));
  }

  async #request(method: string, route: string, body: Multipart | Buffer | undefined, signal?: AbortSignal): Promise<Json> {
    const [status, raw] = await this.#exchange(method, route, body, signal);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString());
    } catch {
      parsed = undefined;
    }
    if (!isObject(parsed)) {
      throw new SttError(`${method} ${route}: the answer is not a JSON object`, 'server', { status });
    }
    return parsed;
  }

  /** Sends one request; resolves to its status, body and headers, or rejects with the server's
   * error. */
  #exchange(
    method: string,
    route: string,
    body: Multipart | Buffer | undefined,
    signal?: AbortSignal,
    accept = 'application/json',
  ): Promise<[number, Buffer, http.IncomingHttpHeaders]> {
    if (signal?.aborted) return Promise.reject(aborted(signal));
    const url = new URL(this.baseUrl + route);
    const headers: Record<string, string | number> = { Accept: accept };
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    if (body instanceof Multipart) headers['Content-Type'] = body.contentType;
    else if (body) headers['Content-Type'] = 'application/json';
    if (body) headers['Content-Length'] = body.length;
    // The server answers a refused upload (a bad key, a file too large) before reading it; with
    // `100-continue` that answer comes instead of the go-ahead, and nothing is sent for nothing.
    if (body instanceof Multipart) headers.Expect = '100-continue';
    const transport = url.protocol === 'https:' ? https : http;

    return new Promise<[number, Buffer, http.IncomingHttpHeaders]>((resolve, reject) => {
      let answered = false;
      let sent = false;
      const request = transport.request(url, { method, headers, timeout: this.timeoutMs, signal }, (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => reject(unreachable(this.baseUrl, error)));
        response.on('end', () => {
          if (!sent) request.destroy(); // answered without wanting the body
          const status = response.statusCode ?? 0;
          const raw = Buffer.concat(chunks);
          if (status >= 400) reject(serverError(status, raw.toString()));
          else resolve([status, raw, response.headers]);
        });
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      request.on('error', (error) => {
        if (signal?.aborted) reject(aborted(signal));
        else if (!answered) reject(unreachable(this.baseUrl, error));
      });
      if (body instanceof Multipart) {
        const send = (): void => {
          if (sent || answered) return;
          sent = true;
          const stream = body.stream();
          stream.on('error', (error) => request.destroy(error));
          stream.pipe(request);
        };
        request.on('continue', send);
        // A server that ignores `Expect` still gets the body (as curl does).
        setTimeout(send, CONTINUE_TIMEOUT_MS).unref();
        request.flushHeaders();
      } else {
        sent = true;
        request.end(body);
      }
    });
  }
}

/** The form fields of the values given (not undefined), by their snake_case names. */
function formFields(given: Record<string, unknown>): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) {
    if (value !== undefined) fields[snakeCase(name)] = String(value);
  }
  return fields;
}

function unreachable(baseUrl: string, error: Error): SttError {
  return new SttError(`cannot reach ${baseUrl}: ${error.message}`, 'server', { status: 0, cause: error });
}

const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The error of an answer with status 400 or more: its JSON `error`, else its text. */
function serverError(status: number, raw: string): SttError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const message = isObject(parsed) ? parsed.error : undefined;
  return new SttError(String(message || raw || `HTTP ${status}`), 'server', { status });
}

/** The transcripts stored in the account of the client's key (`client.transcripts`). An id
 * of another account's transcript answers 404, as an unknown one does. */
export class Transcripts {
  readonly #transport: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** One page, newest first (`GET /api/v1/transcripts/`). */
  async list(options: TranscriptListOptions = {}): Promise<TranscriptPage> {
    const { signal, ...filters } = options;
    const route = `/api/v1/transcripts/?${transcriptsQuery(filters)}`;
    return fromPage(await this.#transport.json('GET', route, undefined, signal));
  }

  /** Every transcript that the filters select, newest first, fetching one page at a time. */
  async *iterate(filters: TranscriptFilters = {}): AsyncGenerator<TranscriptSummary, void, undefined> {
    let page = await this.list(filters);
    yield* page.results;
    while (page.next !== null) {
      page = fromPage(await this.#transport.json('GET', page.next, undefined, filters.signal));
      yield* page.results;
    }
  }

  /** The transcript whole, as a `Transcript` in `transcript`. */
  async get(id: string, options: { signal?: AbortSignal } = {}): Promise<StoredTranscript> {
    const raw = await this.#transport.json('GET', transcriptPath(id), undefined, options.signal);
    return fromStored(raw, transcriptFromApi(raw));
  }

  /** Deletes the transcript and what derives from it (its job and the job's audio). */
  async delete(id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#transport.bytes('DELETE', transcriptPath(id), options.signal);
  }

  /** Answers `question` from the transcript's segments nearest to it, which come back as its
   * `sources`; a `sessionId` from an earlier answer continues that conversation
   * (`POST /api/v1/transcripts/{id}/chat/`). */
  async chat(
    id: string,
    question: string,
    options: RemoteTextOptions & { sessionId?: string } = {},
  ): Promise<ChatAnswer> {
    const { sessionId, model, signal } = options;
    const body = { question, session_id: sessionId, model };
    return fromWire(await this.#transport.json('POST', `${transcriptPath(id)}chat/`, body, signal));
  }

  /** Analyses the transcript's text, as `client.analyze` does a text. */
  async analyze<T extends AnalysisType>(id: string, type: T, options: RemoteTextOptions = {}): Promise<Analysis<T>> {
    const { model, signal } = options;
    return fromWire(await this.#transport.json('POST', `${transcriptPath(id)}analyze/`, { type, model }, signal));
  }

  /** Writes content of `type` from the transcript, as `client.generate` does from a text. */
  async generate<T extends ContentType>(id: string, type: T, options: RemoteTextOptions = {}): Promise<RemoteGenerated<T>> {
    const { model, signal } = options;
    return fromWire(await this.#transport.json('POST', `${transcriptPath(id)}generate/`, { type, model }, signal));
  }

  /** The transcript as a file in `format`, rendered by the server; a 409 while it is not
   * completed. */
  async export(id: string, format: ExportFormat, options: { signal?: AbortSignal } = {}): Promise<Buffer> {
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw invalidOption(`unknown export format ${JSON.stringify(format)}: one of ${EXPORT_FORMATS.join(', ')}`);
    }
    return this.#transport.bytes('GET', `${transcriptPath(id)}export/${format}/`, options.signal);
  }
}

/** The active keys of the account (`client.keys`). A new key shares the account's plan and
 * quota. */
export class Keys {
  readonly #transport: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#transport = transport;
  }

  async list(options: { signal?: AbortSignal } = {}): Promise<ApiKeyInfo[]> {
    const answer = await this.#transport.json('GET', '/api/v1/keys/', undefined, options.signal);
    return (answer.results as Json[]).map(fromKey);
  }

  /** A new key; its raw `key` is shown this once. */
  async create(options: { name?: string; signal?: AbortSignal } = {}): Promise<CreatedKey> {
    const { name, signal } = options;
    return fromCreatedKey(await this.#transport.json('POST', '/api/v1/keys/', { name }, signal));
  }

  /** Revokes a key; the account's last one is refused (409): create another first. */
  async delete(id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#transport.bytes('DELETE', `/api/v1/keys/${encodeURIComponent(id)}/`, options.signal);
  }
}
