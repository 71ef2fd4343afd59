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
from .transcript import LanguageDetection, Segment, Transcript, Word
from .whisper import AudioSource, ProgressCallback, Whisper

__all__ = [
    "AudioDecodeError",
    "AudioSource",
    "CancelledError",
    "Client",
    "InferenceError",
    "InvalidOptionError",
    "JobFailedError",
    "LanguageDetection",
    "ModelNotFoundError",
    "ProgressCallback",
    "RuntimeMissingError",
    "Segment",
    "ServerError",
    "SttError",
    "TranscribeOptions",
    "Transcript",
    "VadParameters",
    "Whisper",
    "Word",
    "__version__",
    "models",
]
