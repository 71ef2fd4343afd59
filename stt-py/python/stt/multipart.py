"""The bodies of uploads to a ``stt serve``: multipart/form-data with a file part streamed
from disk or memory (a NumPy array is sent as a 16 kHz WAV file)."""

from __future__ import annotations

import io
import os
import uuid
import wave
from pathlib import Path
from typing import Iterator, Mapping, Optional, Tuple, Union

from .errors import InvalidOptionError
from .whisper import SAMPLE_RATE, AudioSource, float32_samples

_CHUNK = 1 << 20


def _upload(source: AudioSource) -> Tuple[str, Union[bytes, Path]]:
    """A file name and the content (or the path to stream it from) of an upload."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(os.fspath(source))
        if not path.is_file():
            raise InvalidOptionError(f"no such file: {path}", "invalid_option")
        return path.name, path
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "audio", bytes(source)
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return (Path(name).name if isinstance(name, str) else "audio"), source.read()
    if hasattr(source, "__array__"):
        import numpy as np

        samples = np.clip(float32_samples(source), -1.0, 1.0)
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes((samples * 32767).astype("<i2").tobytes())
        return "audio.wav", buffer.getvalue()
    raise InvalidOptionError(f"cannot upload {type(source).__name__}", "invalid_option")


class Multipart:
    """A multipart/form-data body, streamed so that large files are never held in memory. The
    file part is left out when there is no ``source``."""

    def __init__(
        self, fields: Mapping[str, str], file_field: str, source: Optional[AudioSource]
    ) -> None:
        self.boundary = uuid.uuid4().hex
        self.head = b"".join(
            self._part_header(name, None) + value.encode() + b"\r\n" for name, value in fields.items()
        )
        self.content: Union[bytes, Path] = b""
        self.tail = f"--{self.boundary}--\r\n".encode()
        if source is not None:
            filename, self.content = _upload(source)
            self.head += self._part_header(file_field, filename)
            self.tail = b"\r\n" + self.tail

    def _part_header(self, name: str, filename: Optional[str]) -> bytes:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
            extra = "Content-Type: application/octet-stream\r\n"
        else:
            extra = ""
        return f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n{extra}\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        size = self.content.stat().st_size if isinstance(self.content, Path) else len(self.content)
        return len(self.head) + size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        if isinstance(self.content, Path):
            with self.content.open("rb") as file:
                while chunk := file.read(_CHUNK):
                    yield chunk
        else:
            yield self.content
        yield self.tail


__all__ = ["Multipart"]
