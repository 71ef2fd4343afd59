/** The results: plain objects with camelCase fields, and their renderings. */

import { camelCase, renameKeys, snakeCase } from './names';
import * as native from './native';

export interface Word {
  word: string;
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  probability: number;
}

export interface Segment {
  id: number;
  /** Offset of the 30 s window it was decoded from, in mel frames (10 ms). */
  seek: number;
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  text: string;
  tokens: number[];
  temperature: number;
  avgLogprob: number;
  compressionRatio: number;
  noSpeechProb: number;
  /** Empty unless `wordTimestamps` was asked for. */
  words: Word[];
}

export interface Transcript {
  text: string;
  language: string;
  languageProbability: number;
  /** Seconds of audio. */
  duration: number;
  /** Seconds of speech that were decoded (all of `duration` without the VAD filter). */
  durationAfterVad: number;
  model: string;
  segments: Segment[];
  /** Problems that did not stop the transcription (a damaged file, skipped packets). */
  warnings: string[];
}

export interface LanguageDetection {
  language: string;
  probability: number;
  /** Every language the model knows, most probable first. */
  ranked: Array<{ language: string; probability: number }>;
}

/** A segment or transcript from the engine's JSON. */
export function fromEngine<T>(json: string | object): T {
  return renameKeys(typeof json === 'string' ? JSON.parse(json) : json, camelCase) as T;
}

function render(transcript: Transcript, format: string): string {
  return native.render(JSON.stringify(renameKeys(transcript, snakeCase)), format);
}

/** SubRip subtitles, exactly as the CLI and the server write them. */
export const toSrt = (transcript: Transcript): string => render(transcript, 'srt');
/** WebVTT subtitles. */
export const toVtt = (transcript: Transcript): string => render(transcript, 'vtt');
/** The text, with a final newline. */
export const toText = (transcript: Transcript): string => render(transcript, 'txt');
/** The JSON of `stt transcribe` and of the server's `/v1/transcribe`. */
export const toJson = (transcript: Transcript): string => render(transcript, 'json');
