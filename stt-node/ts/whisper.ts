/** The local engine: Whisper models run on ONNX Runtime in this process, off the event loop. */

import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import { fromNative, invalidOption } from './errors';
import { EngineCalls, withReports } from './calls';
import * as native from './native';
import { TranscribeOptions, engineJson, engineOptions, reworded } from './options';
import { LanguageDetection, Segment, StreamEvent, Transcript, fromEngine, streamEvents } from './transcript';

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
export function runtimeLibrary(): string | undefined {
  if (process.env.STT_ORT_LIB || process.env.ORT_DYLIB_PATH) return undefined;
  const dirs = [path.join(__dirname, '..', 'runtime')];
  try {
    const platform = `${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : ''}`;
    dirs.push(path.join(path.dirname(require.resolve(`stt-node-${platform}/package.json`)), 'runtime'));
  } catch {
    // No platform package: the addon was built in place.
  }
  for (const dir of dirs) {
    const found = existsSync(dir)
      ? readdirSync(dir).filter((name) => name.startsWith('libonnxruntime.so')).sort()
      : [];
    if (found.length > 0) return path.join(dir, found[found.length - 1]);
  }
  return undefined;
}

/** Decodes a path or an encoded file in memory, or takes 16 kHz samples as they are;
 * `decoding` are the options of the call it is for (the engine decides from them whether each
 * channel is kept apart). */
async function loadAudio(input: AudioInput, decoding?: native.Options): Promise<native.Audio> {
  try {
    if (typeof input === 'string') return await native.decodeFile(input, decoding);
    if (input instanceof Float32Array) return native.fromFloat32(input);
    if (input instanceof Uint8Array) return await native.decodeBytes(input, null, decoding);
    if (input instanceof ArrayBuffer) return await native.decodeBytes(new Uint8Array(input), null, decoding);
  } catch (error) {
    throw fromNative(error);
  }
  const given: unknown = input;
  const kind = given !== null && typeof given === 'object' ? given.constructor.name : typeof given;
  throw invalidOption(
    `cannot read audio from ${kind}: give a path, a Buffer or Uint8Array of an encoded file, ` +
      'or a Float32Array of 16 kHz mono samples',
  );
}

function splitOptions(options: TranscribeCallOptions): [native.Options, CallOptions] {
  const { signal, onProgress, ...decoding } = options;
  return [engineOptions(decoding), { signal, onProgress }];
}

/** A report of the engine's progress, as `Transcriber.transcribe` hands it over. */
interface ProgressReport {
  processed_seconds: number;
  total_seconds: number;
  new_segments: object[];
}

/**
 * A transcription in the background: iterate over it for each segment as it is decoded
 * (each final), and await `transcript` for the whole result. Leaving the loop early stops it.
 */
export class TranscriptionStream implements AsyncIterable<Segment> {
  readonly transcript: Promise<Transcript>;
  readonly #controller = new AbortController();
  readonly #ready: Segment[] = [];
  #finished = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;

  /** @internal */
  constructor(
    start: (signal: AbortSignal, onSegments: (segments: object[]) => void) => Promise<Transcript>,
    signal?: AbortSignal,
  ) {
    const stop = signal ? AbortSignal.any([signal, this.#controller.signal]) : this.#controller.signal;
    this.transcript = start(stop, (segments) => {
      this.#ready.push(...segments.map((segment) => fromEngine<Segment>(segment)));
      this.#wake?.();
    });
    this.transcript.then(
      () => this.#end(undefined),
      (error: unknown) => this.#end({ error }),
    );
  }

  #end(failure: { error: unknown } | undefined): void {
    this.#finished = true;
    this.#failure = failure;
    this.#wake?.();
  }

  /** Stops the transcription; `transcript` rejects with an `AbortError`. */
  abort(): void {
    this.#controller.abort();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Segment, void, undefined> {
    try {
      for (;;) {
        const segment = this.#ready.shift();
        if (segment) {
          yield segment;
        } else if (this.#finished) {
          if (this.#failure) throw this.#failure.error;
          return;
        } else {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = undefined;
        }
      }
    } finally {
      if (!this.#finished) this.abort();
    }
  }
}

/**
 * A Whisper model loaded in this process. Loading starts at construction; `ready()` waits for
 * it (every call does too). Calls on one instance run one at a time, in order, each on a
 * libuv worker thread, so the event loop stays free.
 */
export class Whisper {
  /** The requested device until loaded, then where the model runs (`"cpu"` or `"cuda:N"`). */
  device: string;
  readonly computeType: string;
  #model: string;
  readonly #engine: Promise<native.Transcriber>;
  readonly #calls: EngineCalls<native.Transcriber>;

  constructor(options: WhisperOptions = {}) {
    const { model = 'base', device = 'auto', computeType = 'default', threads = 0 } = options;
    if (!Number.isInteger(threads) || threads < 0) {
      throw invalidOption(`threads must be an integer >= 0, got ${threads}`);
    }
    this.#model = model;
    this.device = device;
    this.computeType = computeType;
    let loading: Promise<native.Transcriber>;
    try {
      loading = native.Transcriber.load(model, computeType, threads, options.ortLibrary ?? runtimeLibrary(), device);
    } catch (error) {
      throw fromNative(error); // a bad computeType or device
    }
    this.#engine = loading.then(
      (engine) => {
        this.#model = engine.name;
        this.device = engine.device;
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

  /** The model's name (the loaded model's, once `ready()` has resolved). */
  get model(): string {
    return this.#model;
  }

  /** Resolves once the model is loaded; rejects with `model_not_found` and the like. */
  async ready(): Promise<void> {
    await this.#engine;
  }

  /** Transcribes (or translates, `task: "translate"`) all of `input`. */
  async transcribe(input: AudioInput, options: TranscribeCallOptions = {}): Promise<Transcript> {
    const [decoding, call] = splitOptions(options);
    const audio = await loadAudio(input, decoding);
    return this.#transcribe(audio, decoding, call, call.signal);
  }

  /** Starts a transcription whose segments can be iterated as they are decoded. */
  transcribeStream(input: AudioInput, options: TranscribeCallOptions = {}): TranscriptionStream {
    return new TranscriptionStream(async (signal, onSegments) => {
      const [decoding, call] = splitOptions(options);
      const audio = await loadAudio(input, decoding);
      return this.#transcribe(audio, decoding, call, signal, onSegments);
    }, options.signal);
  }

  /** `for await (const segment of whisper.segments(input))`: each segment once decoded. */
  async *segments(input: AudioInput, options: TranscribeCallOptions = {}): AsyncGenerator<Segment, void, undefined> {
    yield* this.transcribeStream(input, options);
  }

  /**
   * Live transcription of audio as it arrives (a microphone, a call, a pipe from ffmpeg):
   * `for await (const event of whisper.stream(chunks))` gives `partial` text that may still
   * change and `final` segments that never do, each as soon as it is decoded. A decode runs
   * after a chunk once a second of new audio has come, or when a pause ends an utterance; the
   * rest is committed when `chunks` ends. Options are `transcribe`'s; the stream's own
   * defaults are greedy decoding with one sample per fallback temperature, for latency.
   */
  async *stream(
    chunks: AsyncIterable<AudioChunk> | Iterable<AudioChunk>,
    options: TranscribeOptions & { signal?: AbortSignal } = {},
  ): AsyncGenerator<StreamEvent, void, undefined> {
    const { signal, ...decoding } = options;
    const json = `{"transcribe": ${engineJson(decoding)}}`;
    const session = await this.#calls.run(signal, async (engine) => reworded(() => engine.stream(json)));
    const pcm = new PcmReader();
    for await (const chunk of chunks) {
      const samples = pcm.samples(chunk);
      yield* streamEvents(await this.#calls.run(signal, (_, cancel) => session.step(samples, cancel)));
    }
    yield* streamEvents(await this.#calls.run(signal, (_, cancel) => session.finish(cancel)));
  }

  /** The language spoken in the first 30 s (of speech, with the VAD filter, the default). */
  async detectLanguage(input: AudioInput, options: TranscribeCallOptions = {}): Promise<LanguageDetection> {
    const [decoding, call] = splitOptions(options);
    const audio = await loadAudio(input);
    const detected = await this.#calls.run(call.signal, (engine, cancel) => engine.detectLanguage(audio, decoding, cancel));
    const { language, probability, ranked } = JSON.parse(detected) as {
      language: string;
      probability: number;
      ranked: Array<[string, number]>;
    };
    return {
      language,
      probability,
      ranked: ranked.map(([code, p]) => ({ language: code, probability: p })),
    };
  }

  async #transcribe(
    audio: native.Audio,
    decoding: native.Options,
    call: CallOptions,
    signal: AbortSignal | undefined,
    onSegments?: (segments: object[]) => void,
  ): Promise<Transcript> {
    const result = await this.#calls.run(signal, (engine, cancel) =>
      withReports(
        cancel,
        (listener) => engine.transcribe(audio, decoding, cancel, listener),
        (raw) => {
          const report = JSON.parse(raw) as ProgressReport;
          onSegments?.(report.new_segments);
          call.onProgress?.(report.processed_seconds, report.total_seconds);
        },
      ),
    );
    return fromEngine<Transcript>(result);
  }

}

/** Live audio chunks as float samples, keeping the odd byte of PCM for the next chunk. */
class PcmReader {
  #odd: number | undefined;

  samples(chunk: AudioChunk): Float32Array {
    if (chunk instanceof Float32Array) return chunk;
    if (chunk instanceof Int16Array) return Float32Array.from(chunk, (sample) => sample / 32768);
    const bytes =
      chunk instanceof ArrayBuffer ? new Uint8Array(chunk) : chunk instanceof Uint8Array ? chunk : undefined;
    if (!bytes) {
      const given: unknown = chunk;
      const kind = given !== null && typeof given === 'object' ? given.constructor.name : typeof given;
      throw invalidOption(
        `cannot stream audio from ${kind}: give bytes of 16-bit PCM (Buffer, Uint8Array, ArrayBuffer), ` +
          'an Int16Array or a Float32Array',
      );
    }
    let joined = bytes;
    if (this.#odd !== undefined) {
      joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.#odd;
      joined.set(bytes, 1);
    }
    const whole = joined.length - (joined.length % 2);
    this.#odd = whole < joined.length ? joined[whole] : undefined;
    const view = new DataView(joined.buffer, joined.byteOffset, whole);
    const samples = new Float32Array(whole / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(2 * i, true) / 32768;
    return samples;
  }
}
