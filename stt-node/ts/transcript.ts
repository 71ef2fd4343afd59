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

type Json = Record<string, any>;

/** A mean token probability as the average log probability the engine reports. */
const logConfidence = (confidence: number | undefined): number => Math.log(Math.max(confidence ?? 0, 1e-12));

/** A speaker label; Deepgram's numbers from 0 become "Speaker 1"... */
function speaker(raw: unknown): string | null {
  if (typeof raw === 'number') return `Speaker ${raw + 1}`;
  return typeof raw === 'string' ? raw : null;
}

function word(raw: Json): Word {
  return {
    word: raw.punctuated_word ?? raw.word,
    start: raw.start,
    end: raw.end,
    probability: raw.confidence ?? 0,
    speaker: speaker(raw.speaker),
  };
}

function segment(raw: Json, id: number, start: number, end: number, text: string, words: Json[], confidence?: number): Segment {
  return {
    id,
    seek: 0,
    start,
    end,
    text,
    tokens: [],
    temperature: 0,
    avgLogprob: logConfidence(confidence),
    compressionRatio: 0,
    noSpeechProb: 0,
    words: words.map(word),
    speaker: speaker(raw.speaker),
  };
}

/** @internal A transcript from the JSON of `POST /v1/transcribe` (or of a stored transcript). */
export function transcriptFromApi(raw: Json): Transcript {
  const segments = ((raw.segments ?? []) as Json[]).map((s, index) =>
    segment(s, s.id ?? index, s.start, s.end, s.text, s.words ?? [], s.confidence),
  );
  return {
    text: raw.text,
    language: raw.language ?? '',
    languageProbability: raw.language_probability ?? 0,
    duration: raw.duration ?? 0,
    durationAfterVad: raw.duration_after_vad ?? raw.duration ?? 0,
    model: raw.model ?? '',
    segments,
    warnings: raw.warnings ?? [],
    speakers: raw.speakers ?? [],
  };
}

/** @internal A transcript from the Deepgram-shaped `result` of a completed job: segments from its
 * `utterances`, else one segment of all the words. */
export function transcriptFromDeepgram(result: Json): Transcript {
  const metadata = result.metadata ?? {};
  const channel = result.results.channels[0];
  const alternative = channel.alternatives[0];
  const words: Json[] = alternative.words ?? [];
  let utterances: Json[] = result.results.utterances ?? [];
  if (utterances.length === 0 && words.length > 0) {
    utterances = [
      {
        start: words[0].start,
        end: words[words.length - 1].end,
        transcript: alternative.transcript,
        confidence: alternative.confidence,
        words,
      },
    ];
  }
  const segments = utterances.map((u, index) =>
    segment(u, index, u.start, u.end, u.transcript, u.words ?? [], u.confidence),
  );
  return {
    text: alternative.transcript,
    language: channel.detected_language ?? '',
    languageProbability: channel.language_confidence ?? 0,
    duration: metadata.duration ?? 0,
    durationAfterVad: metadata.duration ?? 0,
    model: (metadata.models ?? [''])[0],
    segments,
    warnings: [],
    speakers: [...new Set(segments.flatMap((s) => (s.speaker ? [s.speaker] : [])))].sort(
      (a, b) => Number(a.split(' ')[1]) - Number(b.split(' ')[1]),
    ),
  };
}
