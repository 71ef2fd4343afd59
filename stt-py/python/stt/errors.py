"""Exceptions of the package. Engine errors carry the engine's stable ``kind`` string."""

from __future__ import annotations


class SttError(Exception):
    """Base of every error raised by this package."""

    kind: str

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


class AudioDecodeError(SttError):
    """The audio could not be read: missing, empty, unsupported or corrupt."""


class ModelNotFoundError(SttError):
    """The model is not installed (see ``stt.models``) or its files are unusable."""


class RuntimeMissingError(SttError):
    """The ONNX Runtime library was not found or failed to start."""


class InvalidOptionError(SttError, ValueError):
    """An option has an unknown name or a value out of range."""


class InferenceError(SttError):
    """The model failed while running."""


class CancelledError(SttError):
    """The transcription was stopped before it finished."""


class ServerError(SttError):
    """A ``stt serve`` answered with an error; ``status`` is its HTTP status."""

    status: int

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, "server")
        self.status = status


class JobFailedError(SttError):
    """An asynchronous job ended as ``failed``."""

    job_id: str

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message, "job_failed")
        self.job_id = job_id


__all__ = [
    "AudioDecodeError",
    "CancelledError",
    "InferenceError",
    "InvalidOptionError",
    "JobFailedError",
    "ModelNotFoundError",
    "RuntimeMissingError",
    "ServerError",
    "SttError",
]
