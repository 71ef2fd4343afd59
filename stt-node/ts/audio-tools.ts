/** The audio tools in this process: noise removal (DeepFilterNet3, `Enhancer`) and speech
 * synthesis (Piper voices, `Voice`), the engine of `stt enhance` and `stt say`, run off the
 * event loop; and the `Speech` that a server's `/v1/tts` answers (`Client.speak`). */

import { EngineCalls } from './calls';
import { fromNative, invalidOption } from './errors';
import * as native from './native';
import { runtimeLibrary } from './whisper';

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

function checkThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 0) throw invalidOption(`threads must be an integer >= 0, got ${threads}`);
  return threads;
}

/** An optional number, or `null` for the native call. */
function optionalNumber(name: string, value: unknown): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'number') throw invalidOption(`${name} must be a number, got ${typeof value}`);
  return value;
}

function fileInput(input: AudioFile): string | Uint8Array {
  if (typeof input === 'string' || input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  const given: unknown = input;
  const kind = given !== null && typeof given === 'object' ? given.constructor.name : typeof given;
  throw invalidOption(`cannot read audio from ${kind}: give a path, or a Buffer or Uint8Array of an encoded file`);
}

/** A native engine's load, its errors as `SttError`s; a failed load is reported by `ready()`
 * and every call, not as an unhandled rejection. */
function loading<E>(load: () => Promise<E>, loaded: (engine: E) => void): Promise<E> {
  let started: Promise<E>;
  try {
    started = load();
  } catch (error) {
    throw fromNative(error); // a bad device
  }
  const engine = started.then(
    (engine) => {
      loaded(engine);
      return engine;
    },
    (error: unknown) => {
      throw fromNative(error);
    },
  );
  engine.catch(() => undefined);
  return engine;
}

/**
 * The noise remover (DeepFilterNet3, `stt models pull deepfilternet3`) loaded in this process.
 * Loading starts at construction (`await Enhancer.load(options)` waits for it, as `ready()`
 * does); calls run one at a time, in order, on a libuv worker thread.
 */
export class Enhancer {
  #sampleRate = 0;
  readonly #engine: Promise<native.Enhancer>;
  readonly #calls: EngineCalls<native.Enhancer>;

  constructor(options: EnhancerOptions = {}) {
    const { device = 'auto', threads = 0 } = options;
    checkThreads(threads);
    this.#engine = loading(
      () => native.Enhancer.load(device, threads, options.ortLibrary ?? runtimeLibrary()),
      (engine) => (this.#sampleRate = engine.sampleRate),
    );
    this.#calls = new EngineCalls(this.#engine);
  }

  /** A noise remover, once loaded; rejects with `model_not_found` when it is not installed. */
  static async load(options: EnhancerOptions = {}): Promise<Enhancer> {
    const enhancer = new Enhancer(options);
    await enhancer.ready();
    return enhancer;
  }

  /** The rate of the output, 48000 (0 until loaded). */
  get sampleRate(): number {
    return this.#sampleRate;
  }

  /** Resolves once the model is loaded. */
  async ready(): Promise<void> {
    await this.#engine;
  }

  /** `input` (mixed to mono) with the noise removed, then normalised: a 16-bit WAV file at
   * `sampleRate` of the same length. */
  async enhance(input: AudioFile, options: EnhanceOptions = {}): Promise<Buffer> {
    const source = fileInput(input);
    const attenuationLimit = optionalNumber('attenuationLimit', options.attenuationLimit);
    const loudness = optionalNumber('loudness', options.loudness);
    const normalize = options.normalize !== false;
    return this.#calls.run(options.signal, (engine, cancel) =>
      engine.enhance(source, attenuationLimit, loudness, normalize, cancel),
    );
  }
}

/**
 * A speech synthesis voice loaded in this process: an installed Piper voice. Loading starts
 * at construction (`await Voice.load(options)` waits for it, as `ready()` does); calls run one
 * at a time, in order, on a libuv worker thread.
 */
export class Voice {
  #name: string;
  #sampleRate = 0;
  readonly #engine: Promise<native.Voice>;
  readonly #calls: EngineCalls<native.Voice>;

  constructor(options: VoiceOptions = {}) {
    const { name, threads = 0 } = options;
    checkThreads(threads);
    this.#name = name ?? '';
    this.#engine = loading(
      () => native.Voice.load(name ?? null, threads, options.ortLibrary ?? runtimeLibrary()),
      (engine) => {
        this.#name = engine.name;
        this.#sampleRate = engine.sampleRate;
      },
    );
    this.#calls = new EngineCalls(this.#engine);
  }

  /** A voice, once loaded; rejects with `model_not_found` (naming the installed voices). */
  static async load(options: VoiceOptions = {}): Promise<Voice> {
    const voice = new Voice(options);
    await voice.ready();
    return voice;
  }

  /** The voice's name (the loaded voice's once `ready()` has resolved; `""` until then when
   * none was named). */
  get name(): string {
    return this.#name;
  }

  /** The rate of the speech, 22050 for the medium voices (0 until loaded). */
  get sampleRate(): number {
    return this.#sampleRate;
  }

  /** Resolves once the voice is loaded. */
  async ready(): Promise<void> {
    await this.#engine;
  }

  /** `text` spoken, mono at `sampleRate`, in `format`. Numbers, dates and abbreviations of
   * English text are read out as words; a text with nothing to say is refused
   * (`invalid_option`). */
  async speak(text: string, options: SpeakOptions = {}): Promise<Buffer> {
    const { format, signal } = options;
    if (typeof text !== 'string') throw invalidOption(`text must be a string, got ${typeof text}`);
    const speed = optionalNumber('speed', options.speed);
    return this.#calls.run(signal, (engine, cancel) => engine.speak(text, speed, format ?? null, cancel));
  }

  /** The phonemes (IPA, from espeak-ng) the voice reads for `text`, one string per sentence. */
  async phonemes(text: string, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    if (typeof text !== 'string') throw invalidOption(`text must be a string, got ${typeof text}`);
    return this.#calls.run(options.signal, (engine) => engine.phonemes(text));
  }
}

// What `enhance` and `speak` loaded, kept for their next calls (a failed load is not kept).
let enhancer: Enhancer | undefined;
const voices = new Map<string, Voice>();

/** `Enhancer.enhance` with the noise remover loaded by the first call and kept. */
export function enhance(input: AudioFile, options: EnhanceOptions = {}): Promise<Buffer> {
  if (!enhancer) {
    const loaded = new Enhancer();
    loaded.ready().catch(() => enhancer === loaded && (enhancer = undefined));
    enhancer = loaded;
  }
  return enhancer.enhance(input, options);
}

/** `Voice.speak` with the installed voice `voice` (by default `en_US-joe-medium`), loaded by
 * the first call that names it and kept. */
export function speak(text: string, options: SpeakOptions & { voice?: string } = {}): Promise<Buffer> {
  const { voice: name, ...speaking } = options;
  const key = name ?? '';
  let voice = voices.get(key);
  if (!voice) {
    const loaded = new Voice({ name });
    loaded.ready().catch(() => voices.get(key) === loaded && voices.delete(key));
    voices.set(key, (voice = loaded));
  }
  return voice.speak(text, speaking);
}

/** @internal The answer of `POST /v1/tts`: the WAV and its headers. */
export function speechFromApi(audio: Buffer, headers: Record<string, string | string[] | undefined>): Speech {
  const header = (name: string): string => String(headers[name] ?? '');
  return {
    audio,
    duration: Number(header('x-duration')),
    generationTime: Number(header('x-generation-time')),
    voice: header('x-voice'),
    voiceCloned: header('x-voice-cloned') === 'true',
  };
}
