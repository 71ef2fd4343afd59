/** The results: plain objects with camelCase fields, and their renderings. */

import { camelCase, renameKeys, snakeCase } from './names';
import * as native from './native';

export interface Word {
  word: string;
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  probability: number;
  /** With `diarize`: "Speaker 1", "Speaker 2"... */
  speaker?: string | null;
}

/** Live text not final yet: the words since the last final event, as heard so far. The next
 * partial replaces it; an empty one means all of them became final. */
export interface StreamPartial {
  type: 'partial';
  text: string;
}

/** Live text that will never change; times in seconds from the start of the stream. */
export interface StreamFinal {
  type: 'final';
  text: string;
  start: number;
  end: number;
  words: Word[];
}

/** What `Whisper.stream` yields. */
export type StreamEvent = StreamPartial | StreamFinal;

/** Events from the engine's JSON array (`{"partial"}` or `{"text", "start", "end", "words"}`). */
export function streamEvents(json: string): StreamEvent[] {
  const events = JSON.parse(json) as Array<{ partial?: string } & Omit<StreamFinal, 'type'>>;
  return events.map(({ partial, text, start, end, words }) =>
    partial !== undefined ? { type: 'partial', text: partial } : { type: 'final', text, start, end, words },
  );
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
  /** With `diarize`: "Speaker 1", "Speaker 2"... (a segment is split where the speaker
   * changes). */
  speaker?: string | null;
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
  /** With `diarize`: the speakers found, in order of appearance. */
  speakers: string[];
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
