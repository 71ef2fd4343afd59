"""Speech to text with OpenAI's Whisper models on ONNX Runtime, and text features on a
local language model.

>>> import stt
>>> model = stt.Whisper("base")
>>> text = model.transcribe("talk.mp3").text
>>> print(stt.LLM().summarize(text, style="bullet_points"))
"""

from . import models
from ._native import __version__
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
    "AudioSource",
    "CancelledError",
    "ChatAnswer",
    "ChatSource",
    "Client",
    "ContentType",
    "CreatedKey",
    "EmailPreferences",
    "Embeddings",
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
    "Whisper",
    "Word",
    "__version__",
    "models",
]
