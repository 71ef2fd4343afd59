"""The local engine: Whisper models run on ONNX Runtime in this process."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    BinaryIO,
    Callable,
    Iterable,
    Iterator,
    Optional,
    Union,
)

from . import _native
from .errors import InvalidOptionError
from .options import TranscribeOptions, options_json
from .transcript import LanguageDetection, Segment, StreamEvent, Transcript, stream_event

if TYPE_CHECKING:
    import numpy as np
    from typing_extensions import Unpack

#: What audio can be given as: a path, the bytes of an encoded file, a binary file object, or
#: a 1-D float NumPy array of 16 kHz mono samples.
AudioSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO, "np.ndarray"]

#: A piece of live audio: bytes of PCM as ``/v1/stream`` takes it (signed 16-bit little-endian,
#: 16 kHz, mono; any length), or a 1-D NumPy array of 16 kHz mono samples (float, or int16).
AudioChunk = Union[bytes, bytearray, memoryview, "np.ndarray"]

#: ``progress(processed_seconds, total_seconds)``; raising in it stops the transcription.
ProgressCallback = Callable[[float, float], object]

SAMPLE_RATE = 16_000


def runtime_library() -> Optional[str]:
    """The ONNX Runtime library of the installed ``onnxruntime`` (or ``onnxruntime-gpu``)
    package, found without importing it; ``None`` leaves the choice to the engine, which also
    honours ``$STT_ORT_LIB`` and ``$ORT_DYLIB_PATH``."""
    if os.environ.get("STT_ORT_LIB") or os.environ.get("ORT_DYLIB_PATH"):
        return None
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None:
        return None
    capi = Path(spec.origin).parent / "capi"
    libraries = sorted(capi.glob("libonnxruntime.so*")) + sorted(capi.glob("onnxruntime.dll"))
    libraries += sorted(capi.glob("libonnxruntime*.dylib"))
    return str(libraries[-1]) if libraries else None


def float32_samples(array: object) -> np.ndarray:
    """An array-like of samples as contiguous little-endian float32, refused unless it is 1-D
    float (16 kHz mono is assumed: nothing is resampled)."""
    import numpy as np

    samples = np.asarray(array)
    if samples.ndim != 1 or samples.dtype.kind != "f":
        raise InvalidOptionError(
            f"an audio array must be 1-D float samples at {SAMPLE_RATE} Hz mono, "
            f"got shape {samples.shape} of {samples.dtype}",
            "invalid_option",
        )
    return np.ascontiguousarray(samples, dtype="<f4")


def load_audio(source: AudioSource, options: Optional[str] = None) -> _native.DecodedAudio:
    """Decodes a path, the bytes of an encoded file, a binary file object, or takes a float
    array of 16 kHz mono samples as it is. ``options`` (JSON) are those of the call the audio
    is for: the engine decides from them whether each channel is kept apart."""
    if isinstance(source, (str, os.PathLike)):
        return _native.decode_file(os.fspath(source), options)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _native.decode_bytes(bytes(source), None, options)
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        extension = Path(name).suffix.lstrip(".") if isinstance(name, str) else None
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidOptionError(
                "the file object gave text: open it in binary mode ('rb')", "invalid_option"
            )
        return _native.decode_bytes(bytes(data), extension or None, options)
    if hasattr(source, "__array__"):
        return _native.from_float32(float32_samples(source).tobytes())
    raise InvalidOptionError(
        f"cannot read audio from {type(source).__name__}: give a path, bytes, a binary file "
        "object or a float32 NumPy array",
        "invalid_option",
    )


def _float32_bytes(chunk: AudioChunk, leftover: bytes) -> tuple[bytes, bytes]:
    """A chunk's samples as float32 bytes, and the odd byte of PCM left for the next chunk
    (a sample may be split between two chunks of bytes)."""
    import numpy as np

    if isinstance(chunk, (bytes, bytearray, memoryview)):
        data = leftover + bytes(chunk)
        whole = len(data) // 2 * 2
        pcm = np.frombuffer(data[:whole], dtype="<i2")
        return (pcm.astype("<f4") / 32768.0).tobytes(), data[whole:]
    if hasattr(chunk, "__array__"):
        samples = np.asarray(chunk)
        if samples.ndim == 1 and samples.dtype == np.int16:
            return (samples.astype("<f4") / 32768.0).tobytes(), leftover
        return float32_samples(samples).tobytes(), leftover
    raise InvalidOptionError(
        f"cannot stream audio from {type(chunk).__name__}: give bytes of 16-bit PCM or a "
        "NumPy array of samples",
        "invalid_option",
    )


class Whisper:
    """A Whisper model loaded in this process.

    ``model`` is an installed name (``"base"``, see :mod:`stt.models`) or a model directory.
    ``device`` is ``"auto"`` (the GPU when the installed ONNX Runtime is ``onnxruntime-gpu``
    and a GPU is there, else the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    ``compute_type`` is ``"float32"`` (``"default"``: the most precise graphs the model has),
    ``"float16"`` or ``"int8"``; ``threads`` is the number
    of threads per operator (0: ONNX Runtime decides).
    """

    def __init__(
        self,
        model: Union[str, "os.PathLike[str]"] = "base",
        device: str = "auto",
        compute_type: str = "default",
        threads: int = 0,
    ) -> None:
        if threads < 0:
            raise InvalidOptionError(f"threads must be >= 0, got {threads}", "invalid_option")
        self._native = _native.Transcriber(
            os.fspath(model), compute_type, threads, runtime_library(), device
        )
        self.compute_type = compute_type

    @property
    def device(self) -> str:
        """Where the model runs: ``"cpu"`` or ``"cuda:N"`` (what ``"auto"`` chose)."""
        return self._native.device

    @property
    def model(self) -> str:
        """The name of the loaded model."""
        return self._native.name

    def __repr__(self) -> str:
        return f"Whisper(model={self.model!r}, device={self.device!r})"

    def transcribe(
        self,
        source: AudioSource,
        *,
        progress: Optional[ProgressCallback] = None,
        **options: Unpack[TranscribeOptions],
    ) -> Transcript:
        """Transcribes (or translates, ``task="translate"``) all of ``source``.

        Ctrl-C stops it between two 30 s windows with ``KeyboardInterrupt``.
        """
        json_options = options_json(options)
        audio = load_audio(source, json_options)
        result = self._native.transcribe(audio, json_options, progress)
        return Transcript.from_dict(json.loads(result))

    def transcribe_iter(
        self, source: AudioSource, **options: Unpack[TranscribeOptions]
    ) -> Iterator[Segment]:
        """Yields segments as they are decoded, each final. Decoding runs in the background;
        leaving the loop early stops it."""
        json_options = options_json(options)
        audio = load_audio(source, json_options)
        stream = self._native.segments(audio, json_options)
        try:
            for segment in stream:
                yield Segment.from_dict(json.loads(segment))
        finally:
            stream.close()

    def stream(
        self, chunks: Iterable[AudioChunk], **options: Unpack[TranscribeOptions]
    ) -> Iterator[StreamEvent]:
        """Live transcription of audio as it arrives (a microphone, a call, a pipe from
        ``ffmpeg``): yields :class:`~stt.Partial` text that may still change and
        :class:`~stt.Final` segments that never do, each as soon as it is decoded. A decode
        runs after each chunk once a second of new audio has come, or when a pause ends an
        utterance; the rest is committed when ``chunks`` ends.

        Options are those of :meth:`transcribe`; the stream's own defaults are greedy
        decoding with one sample per fallback temperature, for latency.
        """
        session = self._native.stream(options_json({"transcribe": options}))
        leftover = b""
        for chunk in chunks:
            samples, leftover = _float32_bytes(chunk, leftover)
            for event in session.step_float32(samples):
                yield stream_event(json.loads(event))
        for event in session.finish():
            yield stream_event(json.loads(event))

    def detect_language(
        self, source: AudioSource, **options: Unpack[TranscribeOptions]
    ) -> LanguageDetection:
        """The language spoken in the first 30 s (of speech, with ``vad_filter``, the default)."""
        audio = load_audio(source)
        language, probability, ranked = self._native.detect_language(audio, options_json(options))
        return LanguageDetection(language, probability, dict(ranked))


__all__ = [
    "AudioChunk",
    "AudioSource",
    "ProgressCallback",
    "Whisper",
    "float32_samples",
    "load_audio",
    "runtime_library",
]
