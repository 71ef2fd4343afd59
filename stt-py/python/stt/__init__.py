"""Speech to text with OpenAI's Whisper models on ONNX Runtime, text features on a local
language model, noise removal and speech synthesis.

>>> import stt
>>> model = stt.Whisper("base")
>>> text = model.transcribe(stt.enhance("talk.mp3")).text
>>> summary = stt.LLM().summarize(text, style="bullet_points")
>>> stt.speak(summary, "summary.mp3")
"""

from . import models
from ._native import __version__
from .audio_tools import AudioFile, AudioFormat, Enhancer, Speech, Voice, enhance, speak
from .client import Client
from .errors import (
    AudioDecodeError,
    CancelledError,
    InferenceError,
    InvalidOptionError,
    JobFailedError,
    ModelNotFoundError,
    RuntimeMissingError,
    ServerError,
    SttError,
)
from .llm import (
    LLM,
    Analysis,
    AnalysisType,
    ChatAnswer,
    ChatSource,
    ContentType,
    Embeddings,
    Generated,
    Summary,
    SummaryStyle,
    TextCallback,
    Translation,
)
from .options import TranscribeOptions, VadParameters
from .transcript import Final, LanguageDetection, Partial, Segment, StreamEvent, Transcript, Word
from .whisper import AudioChunk, AudioSource, ProgressCallback, Whisper
from .workspace import (
    Account,
    ApiKeyInfo,
    CreatedKey,
    EmailPreferences,
    ExportFormat,
    StoredTranscript,
    TranscriptPage,
    TranscriptStatus,
    TranscriptSummary,
    Usage,
    UsageDay,
    UsageTotal,
)

__all__ = [
    "Account",
    "Analysis",
    "AnalysisType",
    "ApiKeyInfo",
    "AudioChunk",
    "AudioDecodeError",
    "AudioFile",
    "AudioFormat",
    "AudioSource",
    "CancelledError",
    "ChatAnswer",
    "ChatSource",
    "Client",
    "ContentType",
    "CreatedKey",
    "EmailPreferences",
    "Embeddings",
    "Enhancer",
    "ExportFormat",
    "Final",
    "Generated",
    "InferenceError",
    "InvalidOptionError",
    "JobFailedError",
    "LLM",
    "LanguageDetection",
    "ModelNotFoundError",
    "Partial",
    "ProgressCallback",
    "RuntimeMissingError",
    "Segment",
    "ServerError",
    "Speech",
    "StoredTranscript",
    "StreamEvent",
    "SttError",
    "Summary",
    "SummaryStyle",
    "TextCallback",
    "TranscribeOptions",
    "Transcript",
    "TranscriptPage",
    "TranscriptStatus",
    "TranscriptSummary",
    "Translation",
    "Usage",
    "UsageDay",
    "UsageTotal",
    "VadParameters",
    "Voice",
    "Whisper",
    "Word",
    "__version__",
    "enhance",
    "models",
    "speak",
]
