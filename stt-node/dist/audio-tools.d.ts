/** The audio tools in this process: noise removal (DeepFilterNet3, `Enhancer`) and speech
 * synthesis (Piper voices, `Voice`), the engine of `stt enhance` and `stt say`, run off the
 * event loop; and the `Speech` that a server's `/v1/tts` answers (`Client.speak`). */
/** Encodings of speech: 16-bit mono WAV, the same samples raw (little-endian, no header), or
 * MP3. */
export type AudioFormat = 'wav' | 'mp3' | 'pcm' | 'opus';
/** What can be enhanced: a path, or the bytes of an encoded file (any audio or video the
 * engine decodes). */
export type AudioFile = string | Uint8Array | ArrayBuffer;
export interface EnhancerOptions {
    /** `"auto"` (default: the GPU when the ONNX Runtime library can use one), `"cpu"`, `"cuda"`
     * or `` `cuda:${n}` ``. */
    device?: 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
    /** Threads per operator; 0 (default) lets ONNX Runtime decide. */
    threads?: number;
    /** The ONNX Runtime library to load; by default the one shipped in this package. */
    ortLibrary?: string;
}
/** How to enhance, locally (`enhance`) or on a server (`Client.enhance`). */
export interface EnhanceOptions {
    /** The most the noise is lowered, 0 to 100 dB; by default all the model removes. */
    attenuationLimit?: number;
    /** Integrated loudness of the output, -70 to 0 LUFS; by default the engine's. */
    loudness?: number;
    /** `false` keeps the level the model gives instead (default `true`). */
    normalize?: boolean;
    /** Stops the call within a second of audio; it rejects with an `AbortError` (`cancelled`). */
    signal?: AbortSignal;
}
export interface VoiceOptions {
    /** An installed voice (`listModels()` shows them, kind `voice`); by default
     * `en_US-joe-medium`. */
    name?: string;
    /** Threads per operator; 0 (default) lets ONNX Runtime decide. Voices run on the CPU. */
    threads?: number;
    /** The ONNX Runtime library to load; by default the one shipped in this package. */
    ortLibrary?: string;
}
export interface SpeakOptions {
    /** Speaking rate, 0.25 to 4 (2 is twice as fast); by default the engine's. */
    speed?: number;
    /** Default `wav`. */
    format?: AudioFormat;
    /** Stops the call between sentences; it rejects with an `AbortError` (`cancelled`). */
    signal?: AbortSignal;
}
/** Speech made by a server (`POST /v1/tts`): a 16-bit mono WAV file and how it was made.
 * `voiceCloned` says whether the voice imitated the `reference` clip (the installed voices
 * cannot: it is then false and `voice` spoke). */
export interface Speech {
    audio: Buffer;
    /** Seconds of speech. */
    duration: number;
    /** Seconds it took the server. */
    generationTime: number;
    voice: string;
    voiceCloned: boolean;
}
/**
 * The noise remover (DeepFilterNet3, `stt models pull deepfilternet3`) loaded in this process.
 * Loading starts at construction (`await Enhancer.load(options)` waits for it, as `ready()`
 * does); calls run one at a time, in order, on a libuv worker thread.
 */
export declare class Enhancer {
    #private;
    constructor(options?: EnhancerOptions);
    /** A noise remover, once loaded; rejects with `model_not_found` when it is not installed. */
    static load(options?: EnhancerOptions): Promise<Enhancer>;
    /** The rate of the output, 48000 (0 until loaded). */
    get sampleRate(): number;
    /** Resolves once the model is loaded. */
    ready(): Promise<void>;
    /** `input` (mixed to mono) with the noise removed, then normalised: a 16-bit WAV file at
     * `sampleRate` of the same length. */
    enhance(input: AudioFile, options?: EnhanceOptions): Promise<Buffer>;
}
/**
 * A speech synthesis voice loaded in this process: an installed Piper voice. Loading starts
 * at construction (`await Voice.load(options)` waits for it, as `ready()` does); calls run one
 * at a time, in order, on a libuv worker thread.
 */
export declare class Voice {
    #private;
    constructor(options?: VoiceOptions);
    /** A voice, once loaded; rejects with `model_not_found` (naming the installed voices). */
    static load(options?: VoiceOptions): Promise<Voice>;
    /** The voice's name (the loaded voice's once `ready()` has resolved; `""` until then when
     * none was named). */
    get name(): string;
    /** The rate of the speech, 22050 for the medium voices (0 until loaded). */
    get sampleRate(): number;
    /** Resolves once the voice is loaded. */
    ready(): Promise<void>;
    /** `text` spoken, mono at `sampleRate`, in `format`. Numbers, dates and abbreviations of
     * English text are read out as words; a text with nothing to say is refused
     * (`invalid_option`). */
    speak(text: string, options?: SpeakOptions): Promise<Buffer>;
    /** The phonemes (IPA, from espeak-ng) the voice reads for `text`, one string per sentence. */
    phonemes(text: string, options?: {
        signal?: AbortSignal;
    }): Promise<string[]>;
}
/** `Enhancer.enhance` with the noise remover loaded by the first call and kept. */
export declare function enhance(input: AudioFile, options?: EnhanceOptions): Promise<Buffer>;
/** `Voice.speak` with the installed voice `voice` (by default `en_US-joe-medium`), loaded by
 * the first call that names it and kept. */
export declare function speak(text: string, options?: SpeakOptions & {
    voice?: string;
}): Promise<Buffer>;
