/**
 * Speech to text with Whisper on ONNX Runtime: the local engine (`Whisper`), a client of a
 * running `stt serve` and of its transcript workspace (`Client`), and the shared model cache.
 *
 * ```ts
 * import { Whisper } from 'stt-node';
 * const transcript = await new Whisper({ model: 'base' }).transcribe('audio.mp3');
 * ```
 */

export { Client } from './client';
export type {
  ClientOptions,
  JobStatus,
  Keys,
  RemoteTranscribeOptions,
  SubmitOptions,
  Transcripts,
  WaitOptions,
} from './client';
export { SttError } from './errors';
export type { ErrorCode, SttErrorOptions } from './errors';
export { listModels, pullModel, sttHome } from './models';
export type { InstalledModel } from './models';
export type { TranscribeOptions, VadParameters } from './options';
export { toJson, toSrt, toText, toVtt } from './transcript';
export type { LanguageDetection, Segment, StreamEvent, StreamFinal, StreamPartial, Transcript, Word } from './transcript';
export { TranscriptionStream, Whisper, runtimeLibrary } from './whisper';
export type { AudioChunk, AudioInput, CallOptions, TranscribeCallOptions, WhisperOptions } from './whisper';
export type {
  Account,
  AccountUpdate,
  ApiKeyInfo,
  CreatedKey,
  EmailPreferences,
  ExportFormat,
  StoredTranscript,
  TranscriptFilters,
  TranscriptListOptions,
  TranscriptPage,
  TranscriptStatus,
  TranscriptSummary,
  Usage,
  UsageDay,
} from './workspace';
