"""The compiled engine (stt-py/src/lib.rs). Not a public API: use the ``stt`` package."""

import os
from typing import Callable, List, Optional, Tuple, Union, final

__version__: str
DEFAULT_LOUDNESS: Optional[float]
DEFAULT_SPEED: float

_Path = Union[str, "os.PathLike[str]"]

@final
class DecodedAudio: ...

@final
class SegmentStream:
    def __iter__(self) -> SegmentStream: ...
    def __next__(self) -> str: ...
    def close(self) -> None: ...

@final
class Transcriber:
    def __new__(
        cls,
        model: str,
        compute_type: str,
        threads: Optional[int] = None,
        ort_library: Optional[_Path] = None,
        device: str = "auto",
    ) -> Transcriber: ...
    @property
    def name(self) -> str: ...
    @property
    def device(self) -> str: ...
    def transcribe(
        self,
        audio: DecodedAudio,
        options_json: str,
        progress: Optional[Callable[[float, float], object]] = None,
    ) -> str: ...
    def segments(self, audio: DecodedAudio, options_json: str) -> SegmentStream: ...
    def detect_language(
        self, audio: DecodedAudio, options_json: str
    ) -> Tuple[str, float, List[Tuple[str, float]]]: ...
    def stream(self, options_json: str) -> StreamSession: ...

@final
class StreamSession:
    def step_float32(self, data: bytes) -> List[str]: ...
    def finish(self) -> List[str]: ...

@final
class LLM:
    def __new__(
        cls,
        model: Optional[str] = None,
        device: str = "auto",
        threads: Optional[int] = None,
        context_tokens: int = 8192,
        ort_library: Optional[_Path] = None,
    ) -> LLM: ...
    @property
    def model(self) -> str: ...
    @property
    def on_gpu(self) -> bool: ...
    def summarize(
        self, text: str, style: str = "brief", on_text: Optional[Callable[[str], object]] = None
    ) -> str: ...
    def analyze(self, text: str, kind: str) -> str: ...
    def generate(
        self, text: str, kind: str, on_text: Optional[Callable[[str], object]] = None
    ) -> str: ...
    def translate(
        self,
        text: str,
        target: str,
        source: str = "en",
        on_text: Optional[Callable[[str], object]] = None,
    ) -> str: ...
    def embed(self, texts: List[str]) -> List[List[float]]: ...

@final
class Enhancer:
    def __new__(
        cls, device: str = "auto", threads: Optional[int] = None, ort_library: Optional[_Path] = None
    ) -> Enhancer: ...
    @property
    def sample_rate(self) -> int: ...
    def enhance(
        self,
        source: Union[_Path, bytes],
        extension: Optional[str] = None,
        attenuation_limit: Optional[float] = None,
        loudness: Optional[float] = None,
        normalize: bool = True,
        output: Optional[_Path] = None,
    ) -> Optional[bytes]: ...

@final
class Voice:
    def __new__(
        cls,
        name: Optional[str] = None,
        threads: Optional[int] = None,
        ort_library: Optional[_Path] = None,
    ) -> Voice: ...
    @property
    def name(self) -> str: ...
    @property
    def sample_rate(self) -> int: ...
    def phonemes(self, text: str) -> List[str]: ...
    def speak(
        self,
        text: str,
        speed: Optional[float] = None,
        format: Optional[str] = None,
        output: Optional[_Path] = None,
    ) -> Optional[bytes]: ...

def decode_file(path: _Path, options_json: Optional[str] = None) -> DecodedAudio: ...
def decode_bytes(
    data: bytes, extension: Optional[str] = None, options_json: Optional[str] = None
) -> DecodedAudio: ...
def from_float32(data: bytes) -> DecodedAudio: ...
def render(transcript_json: str, format: str) -> str: ...
def installed_models() -> List[Tuple[str, str, str]]: ...
def pull_model(name: str, python: Optional[_Path] = None) -> str: ...
def import_model(
    source: str, name: Optional[str] = None, precision: Optional[str] = None, python: Optional[_Path] = None
) -> str: ...
def stt_home() -> str: ...
