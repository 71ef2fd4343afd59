/** Text features: a local GGUF language model on llama.cpp (`Llm`) for summaries, analyses,
 * generated content and translation, and sentence embeddings, run in this process off the
 * event loop; and the result types that the `Client`'s calls to a server share. */
/** How a summary reads. */
export type SummaryStyle = 'brief' | 'detailed' | 'action_items' | 'bullet_points';
/** What an analysis looks for. */
export type AnalysisType = 'sentiment' | 'topics' | 'entities' | 'action_items' | 'questions' | 'pii_redact';
/** What to write from a text: prose in `content`, or structured (`key_quotes`, `flashcards`,
 * `quiz`, `chapter_markers`) in `result`. */
export type ContentType = 'blog_post' | 'social_media' | 'newsletter' | 'key_quotes' | 'show_notes' | 'meeting_notes' | 'study_guide' | 'flashcards' | 'quiz' | 'chapter_markers';
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
    topics: {
        topics: string[];
    };
    entities: {
        entities: Entity[];
    };
    action_items: {
        actionItems: ActionItem[];
    };
    questions: {
        questions: string[];
    };
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
    key_quotes: {
        quotes: string[];
    };
    flashcards: {
        flashcards: Array<{
            front: string;
            back: string;
        }>;
    };
    quiz: {
        questions: QuizQuestion[];
    };
    /** In time order, the first at 0; `start` in seconds (of a text with `[seconds]` lines). */
    chapter_markers: {
        chapters: Array<{
            start: number;
            title: string;
        }>;
    };
}
/** Generated content: `result` for a structured type, else the text in `content`. */
export type Generated<T extends ContentType = ContentType> = T extends keyof StructuredContent ? {
    content?: undefined;
    result: StructuredContent[T];
} : {
    content: string;
    result?: undefined;
};
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
/**
 * A language model loaded in this process, with the sentence embedder beside it (loaded by
 * the first `embed`). Loading starts at construction (`await Llm.load(options)` waits for it,
 * as `ready()` does); calls run one at a time, in order, each on a libuv worker thread with
 * every core, so the event loop stays free.
 */
export declare class Llm {
    #private;
    constructor(options?: LlmOptions);
    /** A model, once loaded; rejects with `model_not_found` and the like. */
    static load(options?: LlmOptions): Promise<Llm>;
    /** The model's name (the loaded model's, once `ready()` has resolved; `""` until then when
     * none was named). */
    get model(): string;
    /** Whether the model runs on a GPU (known once loaded). */
    get onGpu(): boolean;
    /** Resolves once the model is loaded. */
    ready(): Promise<void>;
    /** A summary of `text`, `brief` unless `style` says otherwise. */
    summarize(text: string, options?: TextCallOptions & {
        style?: SummaryStyle;
    }): Promise<string>;
    /** Analyses `text`; resolves to the result of `type` (`{ label, reason }` for `sentiment`,
     * `{ topics }`, `{ redactedText, entities }` for `pii_redact`...). */
    analyze<T extends AnalysisType>(text: string, type: T, options?: TextCallOptions): Promise<AnalysisResults[T]>;
    /** Writes content of `type` from `text`: `{ content }` for prose, `{ result }` for a
     * structured type (`quiz`: `{ questions: [{ question, options, answer }] }`). */
    generate<T extends ContentType>(text: string, type: T, options?: TextCallOptions): Promise<Generated<T>>;
    /** Translates `text` from `source` (default `"en"`) into `target` (language codes: en, zh,
     * es, fr, de, it, pt, ru, ja, ko, vi, th, ar); others are refused with `invalid_option`. */
    translate(text: string, target: string, options?: TextCallOptions & {
        source?: string;
    }): Promise<string>;
    /** One unit vector (384 numbers) per text, in order: the dot product of two is their cosine
     * similarity. Texts longer than 256 tokens are cut: embed sentences or segments. */
    embed(texts: readonly string[], options?: {
        signal?: AbortSignal;
    }): Promise<number[][]>;
}
