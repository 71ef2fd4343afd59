"""The audio tools in this process: noise removal (DeepFilterNet3, :class:`Enhancer`) and
speech synthesis (Piper voices, :class:`Voice`), the same engine as ``stt enhance`` and
``stt say``; and the typed answer of a server's speech (:meth:`stt.Client.speak`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Dict, List, Literal, Mapping, Optional, Tuple, Union, overload

from . import _native
from .errors import InvalidOptionError
from .whisper import runtime_library

#: What can be enhanced: a path, the bytes of an encoded file, or a binary file object.
AudioFile = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO]

#: Encodings of speech: 16-bit mono WAV, the same samples raw (little-endian, no header), or
#: MP3.
AudioFormat = Union[Literal["wav"], Literal["mp3"], Literal["pcm"], Literal["opus"]]

_Output = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Speech:
    """Speech made by a server (``POST /v1/tts``): a 16-bit mono WAV file and how it was made.
    ``voice_cloned`` says whether the voice imitated the ``reference`` clip (the installed
    voices cannot: it is then ``False`` and ``voice`` spoke)."""

    audio: bytes
    duration: float
    generation_time: float
    voice: str
    voice_cloned: bool


def _encoded(source: AudioFile) -> Tuple[Union[str, bytes], Optional[str]]:
    """A path, or the bytes of an encoded file and their extension when a file object has a
    name."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source), None
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidOptionError(
                "the file object gave text: open it in binary mode ('rb')", "invalid_option"
            )
        name = getattr(source, "name", None)
        extension = Path(name).suffix.lstrip(".") if isinstance(name, str) else None
        return bytes(data), extension or None
    raise InvalidOptionError(
        f"cannot read audio from {type(source).__name__}: give a path, bytes or a binary file "
        "object",
        "invalid_option",
    )


def _result(written: Optional[bytes], target: Optional[str]) -> Union[bytes, Path]:
    """A tool's bytes, or the path it wrote them to."""
    if target is None:
        assert written is not None
        return written
    return Path(target)


def _threads(threads: int) -> int:
    if threads < 0:
        raise InvalidOptionError(f"threads must be >= 0, got {threads}", "invalid_option")
    return threads


class Enhancer:
    """The noise remover (DeepFilterNet3, ``stt models pull deepfilternet3``) loaded in this
    process. ``device`` and ``threads`` are as for :class:`~stt.Whisper`.

    Calls release the GIL; from several threads they take turns. Ctrl-C stops one within a
    second of audio with ``KeyboardInterrupt``.
    """

    def __init__(self, device: str = "auto", threads: int = 0) -> None:
        self._native = _native.Enhancer(device, _threads(threads), runtime_library())

    @property
    def sample_rate(self) -> int:
        """The rate of the output: 48000."""
        return self._native.sample_rate

    def __repr__(self) -> str:
        return f"Enhancer(sample_rate={self.sample_rate})"

    @overload
    def enhance(
        self,
        source: AudioFile,
        output: None = None,
        *,
        attenuation_limit: Optional[float] = None,
        loudness: Optional[float] = _native.DEFAULT_LOUDNESS,
        normalize: bool = True,
    ) -> bytes: ...

    @overload
    def enhance(
        self,
        source: AudioFile,
        output: _Output,
        *,
        attenuation_limit: Optional[float] = None,
        loudness: Optional[float] = _native.DEFAULT_LOUDNESS,
        normalize: bool = True,
    ) -> Path: ...

    def enhance(
        self,
        source: AudioFile,
        output: Optional[_Output] = None,
        *,
        attenuation_limit: Optional[float] = None,
        loudness: Optional[float] = _native.DEFAULT_LOUDNESS,
        normalize: bool = True,
    ) -> Union[bytes, Path]:
        """``source`` (any audio or video the engine decodes, mixed to mono) with the noise
        removed, as a 16-bit WAV file at :attr:`sample_rate` of the same length: its bytes, or,
        with ``output``, written to that path, which is returned.

        ``attenuation_limit`` (0 to 100 dB) caps how much the noise is lowered (``None``: all
        the model removes); ``loudness`` (-70 to 0 LUFS; ``None``: the default) is the output's
        integrated loudness, unless ``normalize=False`` keeps the level the model gives.
        """
        data, extension = _encoded(source)
        target = None if output is None else os.fspath(output)
        written = self._native.enhance(
            data, extension, attenuation_limit, loudness, normalize, target
        )
        return _result(written, target)


class Voice:
    """A speech synthesis voice loaded in this process: an installed Piper voice by ``name``
    (``stt.models.list()`` shows them, kind ``"voice"``), ``None`` for the default
    (``en_US-joe-medium``). Voices run on the CPU with ``threads`` per operator (0: ONNX
    Runtime decides).

    Calls release the GIL; Ctrl-C stops one between sentences with ``KeyboardInterrupt``.
    """

    def __init__(self, name: Optional[str] = None, threads: int = 0) -> None:
        self._native = _native.Voice(name, _threads(threads), runtime_library())

    @property
    def name(self) -> str:
        return self._native.name

    @property
    def sample_rate(self) -> int:
        """The rate of the speech (22050 for the medium voices)."""
        return self._native.sample_rate

    def __repr__(self) -> str:
        return f"Voice(name={self.name!r})"

    @overload
    def speak(
        self,
        text: str,
        output: None = None,
        *,
        speed: float = _native.DEFAULT_SPEED,
        format: Optional[AudioFormat] = None,  # noqa: A002
    ) -> bytes: ...

    @overload
    def speak(
        self,
        text: str,
        output: _Output,
        *,
        speed: float = _native.DEFAULT_SPEED,
        format: Optional[AudioFormat] = None,  # noqa: A002
    ) -> Path: ...

    def speak(
        self,
        text: str,
        output: Optional[_Output] = None,
        *,
        speed: float = _native.DEFAULT_SPEED,
        format: Optional[AudioFormat] = None,  # noqa: A002
    ) -> Union[bytes, Path]:
        """``text`` spoken, mono at :attr:`sample_rate`, in ``format``: ``"wav"`` (16-bit),
        ``"pcm"`` (the same samples without a header), ``"mp3"`` or ``"opus"`` (Ogg, 48 kHz); by default ``output``'s
        extension, else WAV. Returns the bytes, or, with ``output``, writes that path and
        returns it. ``speed`` is the speaking rate, 0.25 to 4 (2 is twice as fast). Numbers,
        dates and abbreviations of English text are read out as words."""
        target = None if output is None else os.fspath(output)
        return _result(self._native.speak(text, speed, format, target), target)

    def phonemes(self, text: str) -> List[str]:
        """The phonemes (IPA, from espeak-ng) the voice reads for ``text``, one string per
        sentence."""
        return self._native.phonemes(text)


# What enhance() and speak() loaded, kept for their next calls.
_enhancers: List[Enhancer] = []
_voices: Dict[Optional[str], Voice] = {}


def _enhancer() -> Enhancer:
    if not _enhancers:
        _enhancers.append(Enhancer())
    return _enhancers[0]


def _voice(name: Optional[str]) -> Voice:
    if name not in _voices:
        _voices[name] = Voice(name)
    return _voices[name]


@overload
def enhance(
    source: AudioFile,
    output: None = None,
    *,
    attenuation_limit: Optional[float] = None,
    loudness: Optional[float] = _native.DEFAULT_LOUDNESS,
    normalize: bool = True,
) -> bytes: ...


@overload
def enhance(
    source: AudioFile,
    output: _Output,
    *,
    attenuation_limit: Optional[float] = None,
    loudness: Optional[float] = _native.DEFAULT_LOUDNESS,
    normalize: bool = True,
) -> Path: ...


def enhance(
    source: AudioFile,
    output: Optional[_Output] = None,
    *,
    attenuation_limit: Optional[float] = None,
    loudness: Optional[float] = _native.DEFAULT_LOUDNESS,
    normalize: bool = True,
) -> Union[bytes, Path]:
    """:meth:`Enhancer.enhance` with the noise remover loaded by the first call and kept."""
    return _enhancer().enhance(
        source, output, attenuation_limit=attenuation_limit, loudness=loudness,
        normalize=normalize,
    )


@overload
def speak(
    text: str,
    output: None = None,
    *,
    voice: Optional[str] = None,
    speed: float = _native.DEFAULT_SPEED,
    format: Optional[AudioFormat] = None,  # noqa: A002
) -> bytes: ...


@overload
def speak(
    text: str,
    output: _Output,
    *,
    voice: Optional[str] = None,
    speed: float = _native.DEFAULT_SPEED,
    format: Optional[AudioFormat] = None,  # noqa: A002
) -> Path: ...


def speak(
    text: str,
    output: Optional[_Output] = None,
    *,
    voice: Optional[str] = None,
    speed: float = _native.DEFAULT_SPEED,
    format: Optional[AudioFormat] = None,  # noqa: A002
) -> Union[bytes, Path]:
    """:meth:`Voice.speak` with the installed voice ``voice`` (``None``: the default), loaded
    by the first call that names it and kept."""
    return _voice(voice).speak(text, output, speed=speed, format=format)


def speech_from_api(audio: bytes, headers: Mapping[str, str]) -> Speech:
    """The answer of ``POST /v1/tts``: the WAV, and its headers (names in lower case)."""
    return Speech(
        audio,
        float(headers.get("x-duration", 0.0)),
        float(headers.get("x-generation-time", 0.0)),
        headers.get("x-voice", ""),
        headers.get("x-voice-cloned", "false").lower() == "true",
    )


__all__ = ["AudioFile", "AudioFormat", "Enhancer", "Speech", "Voice", "enhance", "speak"]
