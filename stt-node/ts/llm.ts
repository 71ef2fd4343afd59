/** Text features: a local GGUF language model on llama.cpp (`Llm`) for summaries, analyses,
 * generated content and translation, and sentence embeddings, run in this process off the
 * event loop; and the result types that the `Client`'s calls to a server share. */

import { fromNative, invalidOption } from './errors';
import { camelCase, renameKeys } from './names';
import { EngineCalls, withReports } from './calls';
import * as native from './native';
import { runtimeLibrary } from './whisper';

/** How a summary reads. */
export type SummaryStyle = 'brief' | 'detailed' | 'action_items' | 'bullet_points';

/** What an analysis looks for. */
export type AnalysisType = 'sentiment' | 'topics' | 'entities' | 'action_items' | 'questions' | 'pii_redact';

/** What to write from a text: prose in `content`, or structured (`key_quotes`, `flashcards`,
 * `quiz`, `chapter_markers`) in `result`. */
export type ContentType =
  | 'blog_post'
  | 'social_media'
  | 'newsletter'
  | 'key_quotes'
  | 'show_notes'
  | 'meeting_notes'
  | 'study_guide'
  | 'flashcards'
  | 'quiz'
  | 'chapter_markers';

export interface Sentiment {
  label: 'positive' | 'negative' | 'neutral';
  reason: string;
}

export interface Entity {
  text: string;
  type: 'person' | 'organization' | 'location' | 'date' | 'product' | 'event' | 'other';
}

export interface ActionItem {
  task: string;
  owner: string | null;
  due: string | null;
}

export type PiiType = 'email' | 'phone' | 'credit_card' | 'iban' | 'ip_address' | 'national_id' | 'person' | 'location';

/** One redacted finding; `start` and `end` count characters (code points) of the original. */
export interface PiiEntity {
  type: PiiType;
  text: string;
  start: number;
  end: number;
  /** `pattern` (a detector, with its checksum) or `model` (names and places). */
  source: 'pattern' | 'model';
}

/** The text with each finding replaced by its placeholder (`[EMAIL]`, `[PERSON]`...). */
export interface Redaction {
  redactedText: string;
  entities: PiiEntity[];
}

/** The result of each analysis type. */
export interface AnalysisResults {
  sentiment: Sentiment;
  topics: { topics: string[] };
  entities: { entities: Entity[] };
  action_items: { actionItems: ActionItem[] };
  questions: { questions: string[] };
  pii_redact: Redaction;
}

/** What the server's analyses answer. */
export interface Analysis<T extends AnalysisType = AnalysisType> {
  type: T;
  model: string;
  result: AnalysisResults[T];
}

export interface QuizQuestion {
  question: string;
  /** Four options. */
  options: string[];
  /** Index of the correct option, 0 to 3. */
  answer: number;
}

/** The result of each structured content type. */
export interface StructuredContent {
  key_quotes: { quotes: string[] };
  flashcards: { flashcards: Array<{ front: string; back: string }> };
  quiz: { questions: QuizQuestion[] };
  /** In time order, the first at 0; `start` in seconds (of a text with `[seconds]` lines). */
  chapter_markers: { chapters: Array<{ start: number; title: string }> };
}

/** Generated content: `result` for a structured type, else the text in `content`. */
export type Generated<T extends ContentType = ContentType> = T extends keyof StructuredContent
  ? { content?: undefined; result: StructuredContent[T] }
  : { content: string; result?: undefined };

export interface Summary {
  summary: string;
  style: SummaryStyle;
  model: string;
}

export interface Translation {
  translatedText: string;
  sourceLanguage: string;
  targetLanguage: string;
  model: string;
}

export interface Embeddings {
  /** One unit vector per text, in order. */
  embeddings: number[][];
  dimensions: number;
}

/** A segment an answer was drawn from: its position in the transcript, its text, and its
 * cosine similarity to the question. */
export interface ChatSource {
  segmentOrder: number;
  text: string;
  score: number;
}

export interface ChatAnswer {
  answer: string;
  sources: ChatSource[];
  /** Pass it back (`sessionId`) to ask a follow-up in the same conversation. */
  sessionId: string;
  model: string;
}

export interface LlmOptions {
  /** An installed language model (`"qwen2.5-coder-0.5b"`, see `listModels`) or a `.gguf`
   * file; by default the best installed one. */
  model?: string;
  /** `"auto"` (default: the GPU when llama.cpp was built with one), `"cpu"`, `"cuda"` or
   * `` `cuda:${n}` ``. */
  device?: 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
  /** Threads of a call; 0 (default) uses every core. */
  threads?: number;
  /** Tokens one model call may hold, prompt and answer; longer texts are processed in pieces
   * and combined. 0 (default): 8192. */
  contextTokens?: number;
  /** The ONNX Runtime library of the embedder; by default the one shipped in this package. */
  ortLibrary?: string;
}

/** What every text call of `Llm` accepts. */
export interface TextCallOptions {
  /** Stops the call within one token; it rejects with an `AbortError` (`cancelled`). */
  signal?: AbortSignal;
  /** Called with each piece of the answer as the model writes it (for structured answers,
   * pieces of their JSON); throwing in it stops the call and rejects with that error. */
  onText?: (text: string) => void;
}

/** @internal Results of the engine's (or the server's) JSON with camelCase fields. */
export const fromWire = <T>(value: unknown): T => renameKeys(value, camelCase) as T;

function checkText(text: unknown, what = 'text'): string {
  if (typeof text !== 'string') throw invalidOption(`${what} must be a string, got ${typeof text}`);
  return text;
}

function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalidOption(`${name} must be an integer >= 0, got ${value}`);
  }
  return value;
}

/**
 * A language model loaded in this process, with the sentence embedder beside it (loaded by
 * the first `embed`). Loading starts at construction (`await Llm.load(options)` waits for it,
 * as `ready()` does); calls run one at a time, in order, each on a libuv worker thread with
 * every core, so the event loop stays free.
 */
export class Llm {
  #model: string;
  #onGpu = false;
  readonly #engine: Promise<native.Llm>;
  readonly #calls: EngineCalls<native.Llm>;

  constructor(options: LlmOptions = {}) {
    const { model, device = 'auto', threads = 0, contextTokens = 0 } = options;
    checkCount('threads', threads);
    checkCount('contextTokens', contextTokens);
    this.#model = model ?? '';
    let loading: Promise<native.Llm>;
    try {
      loading = native.Llm.load(model ?? null, device, threads, contextTokens, options.ortLibrary ?? runtimeLibrary());
    } catch (error) {
      throw fromNative(error); // a bad device
    }
    this.#engine = loading.then(
      (engine) => {
        this.#model = engine.name;
        this.#onGpu = engine.onGpu;
        return engine;
      },
      (error: unknown) => {
        throw fromNative(error);
      },
    );
    // A failed load is reported by `ready()` and every call, not as an unhandled rejection.
    this.#engine.catch(() => undefined);
    this.#calls = new EngineCalls(this.#engine);
  }

  /** A model, once loaded; rejects with `model_not_found` and the like. */
  static async load(options: LlmOptions = {}): Promise<Llm> {
    const llm = new Llm(options);
    await llm.ready();
    return llm;
  }

  /** The model's name (the loaded model's, once `ready()` has resolved; `""` until then when
   * none was named). */
  get model(): string {
    return this.#model;
  }

  /** Whether the model runs on a GPU (known once loaded). */
  get onGpu(): boolean {
    return this.#onGpu;
  }

  /** Resolves once the model is loaded. */
  async ready(): Promise<void> {
    await this.#engine;
  }

  /** A summary of `text`, `brief` unless `style` says otherwise. */
  async summarize(text: string, options: TextCallOptions & { style?: SummaryStyle } = {}): Promise<string> {
    const { style = 'brief', ...call } = options;
    checkText(text);
    return this.#text<string>(call, (engine, cancel, onText) => engine.summarize(text, style, cancel, onText));
  }

  /** Analyses `text`; resolves to the result of `type` (`{ label, reason }` for `sentiment`,
   * `{ topics }`, `{ redactedText, entities }` for `pii_redact`...). */
  async analyze<T extends AnalysisType>(text: string, type: T, options: TextCallOptions = {}): Promise<AnalysisResults[T]> {
    checkText(text);
    return this.#text(options, (engine, cancel, onText) => engine.analyze(text, type, cancel, onText));
  }

  /** Writes content of `type` from `text`: `{ content }` for prose, `{ result }` for a
   * structured type (`quiz`: `{ questions: [{ question, options, answer }] }`). */
  async generate<T extends ContentType>(text: string, type: T, options: TextCallOptions = {}): Promise<Generated<T>> {
    checkText(text);
    return this.#text(options, (engine, cancel, onText) => engine.generate(text, type, cancel, onText));
  }

  /** Translates `text` from `source` (default `"en"`) into `target` (language codes: en, zh,
   * es, fr, de, it, pt, ru, ja, ko, vi, th, ar); others are refused with `invalid_option`. */
  async translate(text: string, target: string, options: TextCallOptions & { source?: string } = {}): Promise<string> {
    const { source = 'en', ...call } = options;
    checkText(text);
    checkText(target, 'target');
    checkText(source, 'source');
    return this.#text<string>(call, (engine, cancel, onText) => engine.translate(text, source, target, cancel, onText));
  }

  /** One unit vector (384 numbers) per text, in order: the dot product of two is their cosine
   * similarity. Texts longer than 256 tokens are cut: embed sentences or segments. */
  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number[][]> {
    if (!Array.isArray(texts)) throw invalidOption('texts must be an array of strings');
    texts.forEach((text, index) => checkText(text, `texts[${index}]`));
    return this.#calls.run(options.signal, (engine, cancel) => engine.embed([...texts], cancel));
  }

  /** A text call, with its pieces handed to `onText`; resolves to its parsed JSON. */
  async #text<T>(
    call: TextCallOptions,
    start: (engine: native.Llm, cancel: native.CancelToken, onText?: (piece: string) => void) => Promise<string>,
  ): Promise<T> {
    const { signal, onText } = call;
    const json = await this.#calls.run(signal, (engine, cancel) =>
      onText
        ? withReports(cancel, (listener) => start(engine, cancel, listener), onText)
        : start(engine, cancel),
    );
    return fromWire<T>(JSON.parse(json));
  }

}
