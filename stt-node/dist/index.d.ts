/**
 * Speech to text with Whisper on ONNX Runtime: the local engine (`Whisper`), the local text
 * features (`Llm`: summaries, analyses, generated content, translation, embeddings), the
 * audio tools (`enhance`: noise removal; `speak`: speech synthesis), a client of a running
 * `stt serve` and of its transcript workspace (`Client`), and the shared model cache.
 *
 * ```ts
 * import { Llm, Whisper, enhance, speak } from 'stt-node';
 * const transcript = await new Whisper({ model: 'base' }).transcribe(await enhance('audio.mp3'));
 * const summary = await (await Llm.load()).summarize(transcript.text);
 * const mp3 = await speak(summary, { format: 'mp3' });
 * ```
 */
/** The package's version: also the engine's, `stt --version`'s and the Python SDK's. */
export declare const version: string;
export { Enhancer, Voice, enhance, speak } from './audio-tools';
export type { AudioFile, AudioFormat, EnhanceOptions, EnhancerOptions, SpeakOptions, Speech, VoiceOptions } from './audio-tools';
export { Client } from './client';
export type { ClientOptions, JobStatus, Keys, RemoteGenerated, RemoteSpeakOptions, RemoteTextOptions, RemoteTranscribeOptions, SubmitOptions, Transcripts, WaitOptions, } from './client';
export { SttError } from './errors';
export type { ErrorCode, SttErrorOptions } from './errors';
export { Llm } from './llm';
export type { ActionItem, Analysis, AnalysisResults, AnalysisType, ChatAnswer, ChatSource, ContentType, Embeddings, Entity, Generated, LlmOptions, PiiEntity, PiiType, QuizQuestion, Redaction, Sentiment, StructuredContent, Summary, SummaryStyle, TextCallOptions, Translation, } from './llm';
export { importModel, listModels, pullModel, sttHome } from './models';
export type { InstalledModel } from './models';
export type { TranscribeOptions, VadParameters } from './options';
export { toJson, toSrt, toText, toVtt } from './transcript';
export type { LanguageDetection, Segment, StreamEvent, StreamFinal, StreamPartial, Transcript, Word } from './transcript';
export { TranscriptionStream, Whisper, runtimeLibrary } from './whisper';
export type { AudioChunk, AudioInput, CallOptions, TranscribeCallOptions, WhisperOptions } from './whisper';
export type { Account, AccountUpdate, ApiKeyInfo, CreatedKey, EmailPreferences, ExportFormat, StoredTranscript, TranscriptFilters, TranscriptListOptions, TranscriptPage, TranscriptStatus, TranscriptSummary, Usage, UsageDay, } from './workspace';
