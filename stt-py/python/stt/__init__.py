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

__all__ = [
    "AudioChunk",
    "AudioDecodeError",
    "AudioSource",
    "CancelledError",
    "Client",
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
    "StreamEvent",
    "SttError",
    "TranscribeOptions",
    "Transcript",
    "VadParameters",
    "Whisper",
    "Word",
    "__version__",
    "models",
]
