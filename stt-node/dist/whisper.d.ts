/** The local engine: Whisper models run on ONNX Runtime in this process, off the event loop. */
import { TranscribeOptions } from './options';
import { LanguageDetection, Segment, StreamEvent, Transcript } from './transcript';
/**
 * Audio as a path, the bytes of an encoded file (any container the engine reads: wav, flac,
 * mp3, ogg, opus, m4a, webm, video files...), or 16 kHz mono samples in a `Float32Array`.
 */
export type AudioInput = string | Uint8Array | ArrayBuffer | Float32Array;
/**
 * A piece of live audio: bytes of PCM as `/v1/stream` takes it (signed 16-bit little-endian,
 * 16 kHz, mono; any length, a sample may be split between pieces) in a `Buffer`, `Uint8Array`
 * or `ArrayBuffer`, or samples in an `Int16Array` or `Float32Array` (16 kHz mono).
 */
export type AudioChunk = Uint8Array | ArrayBuffer | Int16Array | Float32Array;
export interface WhisperOptions {
    /** An installed model name (`"base"`, see `listModels`) or a model directory. */
    model?: string;
    /**
     * `"auto"` (default: the GPU when the ONNX Runtime library is onnxruntime-gpu's and a GPU is
     * there, else the CPU), `"cpu"`, `"cuda"` or `` `cuda:${n}` ``.
     */
    device?: 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
    /** `"float32"` (also `"default"`) or `"int8"`. */
    computeType?: 'default' | 'auto' | 'float32' | 'float16' | 'int8' | 'int8_float32';
    /** Threads per operator; 0 lets ONNX Runtime decide. */
    threads?: number;
    /** The ONNX Runtime library to load; by default the one shipped in this package. */
    ortLibrary?: string;
}
/** What every call accepts besides the decoding options. */
export interface CallOptions {
    /** Stops the call within one decoder step; it rejects with an `AbortError` (`cancelled`). */
    signal?: AbortSignal;
    /** Called between 30 s windows; throwing in it stops the call and rejects with that error. */
    onProgress?: (processedSeconds: number, totalSeconds: number) => void;
}
export type TranscribeCallOptions = TranscribeOptions & CallOptions;
/**
 * The ONNX Runtime library the package carries, unless `$STT_ORT_LIB` chooses one: in the
 * platform package (`stt-node-linux-x64-gnu`'s `runtime/`), or in `runtime/` beside `dist/`
 * when the addon was built in place.
 */
export declare function runtimeLibrary(): string | undefined;
/**
 * A transcription in the background: iterate over it for each segment as it is decoded
 * (each final), and await `transcript` for the whole result. Leaving the loop early stops it.
 */
export declare class TranscriptionStream implements AsyncIterable<Segment> {
    #private;
    readonly transcript: Promise<Transcript>;
    /** Stops the transcription; `transcript` rejects with an `AbortError`. */
    abort(): void;
    [Symbol.asyncIterator](): AsyncGenerator<Segment, void, undefined>;
}
/**
 * A Whisper model loaded in this process. Loading starts at construction; `ready()` waits for
 * it (every call does too). Calls on one instance run one at a time, in order, each on a
 * libuv worker thread, so the event loop stays free.
 */
export declare class Whisper {
    #private;
    /** The requested device until loaded, then where the model runs (`"cpu"` or `"cuda:N"`). */
    device: string;
    readonly computeType: string;
    constructor(options?: WhisperOptions);
    /** The model's name (the loaded model's, once `ready()` has resolved). */
    get model(): string;
    /** Resolves once the model is loaded; rejects with `model_not_found` and the like. */
    ready(): Promise<void>;
    /** Transcribes (or translates, `task: "translate"`) all of `input`. */
    transcribe(input: AudioInput, options?: TranscribeCallOptions): Promise<Transcript>;
    /** Starts a transcription whose segments can be iterated as they are decoded. */
    transcribeStream(input: AudioInput, options?: TranscribeCallOptions): TranscriptionStream;
    /** `for await (const segment of whisper.segments(input))`: each segment once decoded. */
    segments(input: AudioInput, options?: TranscribeCallOptions): AsyncGenerator<Segment, void, undefined>;
    /**
     * Live transcription of audio as it arrives (a microphone, a call, a pipe from ffmpeg):
     * `for await (const event of whisper.stream(chunks))` gives `partial` text that may still
     * change and `final` segments that never do, each as soon as it is decoded. A decode runs
     * after a chunk once a second of new audio has come, or when a pause ends an utterance; the
     * rest is committed when `chunks` ends. Options are `transcribe`'s; the stream's own
     * defaults are greedy decoding with one sample per fallback temperature, for latency.
     */
    stream(chunks: AsyncIterable<AudioChunk> | Iterable<AudioChunk>, options?: TranscribeOptions & {
        signal?: AbortSignal;
    }): AsyncGenerator<StreamEvent, void, undefined>;
    /** The language spoken in the first 30 s (of speech, with the VAD filter, the default). */
    detectLanguage(input: AudioInput, options?: TranscribeCallOptions): Promise<LanguageDetection>;
}
