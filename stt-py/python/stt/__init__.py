"""Speech to text with OpenAI's Whisper models on ONNX Runtime.

>>> import stt
>>> model = stt.Whisper("base")
>>> print(model.transcribe("talk.mp3").text)
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
    "ApiKeyInfo",
    "AudioChunk",
    "AudioDecodeError",
    "AudioSource",
    "CancelledError",
    "Client",
    "CreatedKey",
    "EmailPreferences",
    "ExportFormat",
    "Final",
    "InferenceError",
    "InvalidOptionError",
    "JobFailedError",
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
    "TranscribeOptions",
    "Transcript",
    "TranscriptPage",
    "TranscriptStatus",
    "TranscriptSummary",
    "Usage",
    "UsageDay",
    "UsageTotal",
    "VadParameters",
    "Whisper",
    "Word",
    "__version__",
    "models",
]
