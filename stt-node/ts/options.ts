/** Options of a transcription: the engine's `TranscribeOptions` in camelCase. Leave one out
 * for the engine's default (its `Default` is the only source of defaults). */

import { SttError, fromNative, invalidOption } from './errors';
import { camelCase, renameKeys, snakeCase } from './names';
import * as native from './native';

/** Thresholds of the voice activity detection (Silero VAD). */
export interface VadParameters {
  threshold?: number;
  negThreshold?: number | null;
  minSpeechDurationMs?: number;
  maxSpeechDurationS?: number | null;
  minSilenceDurationMs?: number;
  speechPadMs?: number;
}

/** Every decoding option of the engine; meanings and defaults are in the README. */
export interface TranscribeOptions {
  /** ISO 639-1 code; `null` or `"auto"` detects the language from the first 30 s. */
  language?: string | null;
  task?: 'transcribe' | 'translate';
  beamSize?: number;
  bestOf?: number;
  patience?: number;
  lengthPenalty?: number;
  /** One temperature, or the fallback temperatures tried in order. */
  temperature?: number | readonly number[];
  compressionRatioThreshold?: number | null;
  logProbThreshold?: number | null;
  noSpeechThreshold?: number | null;
  conditionOnPreviousText?: boolean;
  promptResetOnTemperature?: number;
  initialPrompt?: string | null;
  prefix?: string | null;
  hotwords?: string | null;
  suppressTokens?: readonly number[];
  suppressBlank?: boolean;
  withoutTimestamps?: boolean;
  maxInitialTimestamp?: number;
  wordTimestamps?: boolean;
  prependPunctuations?: string;
  appendPunctuations?: string;
  vadFilter?: boolean;
  vadParameters?: VadParameters;
  clipTimestamps?: readonly number[];
  hallucinationSilenceThreshold?: number | null;
  /** Most tokens decoded per 30 s window; `null`: half the model's context (224). */
  maxNewTokens?: number | null;
  /** Encode a window shorter than 30 s as its audio and this many seconds of silence, not
   * padded to 30 s (faster on short windows); `null` pads every window, as the references do. */
  windowPadding?: number | null;
  /** Label who speaks ("Speaker 1"...) on segments and words (off by default). */
  diarize?: boolean;
  /** With `diarize`: the number of speakers when known; 0 estimates it. */
  speakers?: number;
  /** One speaker per channel of a stereo (or more) recording; implies `diarize`. */
  diarizeByChannel?: boolean;
}

/** The options read and checked by the engine: unknown names and bad values are refused
 * with the names written as here. */
export function engineOptions(options: TranscribeOptions): native.Options {
  return reworded(() => native.parseOptions(engineJson(options)));
}

/** The engine's JSON of `options` (snake_case), checked to be finite. */
export function engineJson(options: TranscribeOptions): string {
  const engine = renameKeys(options, snakeCase) as Record<string, unknown>;
  // faster-whisper accepts one temperature as well as a list of fallbacks.
  if (typeof engine.temperature === 'number') engine.temperature = [engine.temperature];
  return JSON.stringify(engine, (_, value: unknown) => {
    // JSON would turn these into null, which means "the default" for some options.
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw invalidOption(`options must be finite numbers, got ${value}`);
    }
    return value;
  });
}

/** Runs a native call that reads options; its `invalid_option` message names them in camelCase. */
export function reworded<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    const converted = fromNative(error);
    if (converted instanceof SttError && converted.code === 'invalid_option') {
      throw invalidOption(converted.message.replace(/\b[a-z]+(?:_[a-z0-9]+)+\b/g, camelCase));
    }
    throw converted;
  }
}
