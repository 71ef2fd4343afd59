"""Results: the same types whether the local engine or a ``stt serve`` produced them."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union

from . import _native


def _plain_fields(cls: Any, data: Mapping[str, Any], nested: str) -> Dict[str, Any]:
    """The values in ``data`` of the fields of dataclass ``cls``, but its ``nested`` list."""
    names = {f.name for f in dataclasses.fields(cls)} - {nested}
    return {key: value for key, value in data.items() if key in names}


@dataclass(frozen=True)
class Word:
    """A timed word, as decoded (usually with a leading space, punctuation attached)."""

    word: str
    start: float
    end: float
    probability: float
    speaker: Optional[str] = None


@dataclass(frozen=True)
class Segment:
    """A stretch of text with its times in seconds and how it was decoded."""

    id: int
    start: float
    end: float
    text: str
    words: List[Word] = field(default_factory=list)
    seek: int = 0
    tokens: List[int] = field(default_factory=list)
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    speaker: Optional[str] = None
    """"Speaker 1", "Speaker 2"... with ``diarize=True``."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        """Builds a segment from the engine's JSON (the fields of this class)."""
        words = [Word(**word) for word in data.get("words", [])]
        return cls(words=words, **_plain_fields(cls, data, "words"))


@dataclass(frozen=True)
class Transcript:
    """A transcription: the text, its language and its timed segments."""

    text: str
    language: str
    language_probability: float
    duration: float
    segments: List[Segment] = field(default_factory=list)
    duration_after_vad: float = 0.0
    model: str = ""
    warnings: List[str] = field(default_factory=list)
    speakers: List[str] = field(default_factory=list)
    """The speakers found with ``diarize=True``, in order of appearance."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        """Builds a transcript from the engine's JSON (the fields of this class)."""
        segments = [Segment.from_dict(s) for s in data.get("segments", [])]
        return cls(segments=segments, **_plain_fields(cls, data, "segments"))

    def to_dict(self) -> Dict[str, Any]:
        """Every field, as the engine serializes it."""
        return dataclasses.asdict(self)

    def _render(self, fmt: str) -> str:
        return _native.render(json.dumps(self.to_dict()), fmt)

    def to_json(self) -> str:
        """The JSON body of ``POST /v1/transcribe`` (what ``stt transcribe`` prints)."""
        return self._render("json")

    def to_srt(self) -> str:
        """SubRip subtitles."""
        return self._render("srt")

    def to_vtt(self) -> str:
        """WebVTT subtitles."""
        return self._render("vtt")

    def to_text(self) -> str:
        """The plain text, one segment per line."""
        return self._render("txt")


@dataclass(frozen=True)
class LanguageDetection:
    """The spoken language and the probability of every language, likeliest first."""

    language: str
    probability: float
    all_probabilities: Dict[str, float]


@dataclass(frozen=True)
class Partial:
    """Live text not final yet: the words since the last :class:`Final`, as heard so far. The
    next partial replaces it; an empty one means all of them became final."""

    text: str


@dataclass(frozen=True)
class Final:
    """Live text that will never change, with its times in seconds from the stream start."""

    text: str
    start: float
    end: float
    words: List[Word] = field(default_factory=list)


#: What :meth:`stt.Whisper.stream` yields.
StreamEvent = Union[Partial, Final]


def stream_event(data: Mapping[str, Any]) -> StreamEvent:
    """An event from the engine's JSON: ``{"partial"}`` or ``{"text", "start", "end", "words"}``."""
    if "partial" in data:
        return Partial(data["partial"])
    words = [Word(**w) for w in data.get("words", [])]
    return Final(data["text"], data["start"], data["end"], words)


def _log_confidence(confidence: float) -> float:
    """A mean token probability as the average log probability the engine reports."""
    return math.log(max(confidence, 1e-12))


def transcript_from_api(answer: Mapping[str, Any]) -> Transcript:
    """A transcript from the JSON of ``POST /v1/transcribe`` (or of a stored transcript)."""
    segments = [
        Segment(
            id=segment.get("id", index),
            start=segment["start"],
            end=segment["end"],
            text=segment["text"],
            words=[_word(word) for word in segment.get("words", [])],
            avg_logprob=_log_confidence(segment.get("confidence", 0.0)),
            speaker=_speaker(segment.get("speaker")),
        )
        for index, segment in enumerate(answer.get("segments", []))
    ]
    # A stored transcript still processing (or failed) has null language and duration.
    duration = answer.get("duration") or 0.0
    return Transcript(
        text=answer["text"],
        language=answer.get("language") or "",
        language_probability=answer.get("language_probability") or 0.0,
        duration=duration,
        segments=segments,
        duration_after_vad=answer.get("duration_after_vad", duration),
        model=answer.get("model", ""),
        warnings=list(answer.get("warnings", [])),
        speakers=list(answer.get("speakers", [])),
    )


def _speaker(raw: Any) -> Optional[str]:
    """A speaker label; Deepgram's numbers from 0 become "Speaker 1"..."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return f"Speaker {raw + 1}"
    return raw if isinstance(raw, str) else None


def _word(word: Mapping[str, Any]) -> Word:
    return Word(
        word=word.get("punctuated_word", word["word"]),
        start=word["start"],
        end=word["end"],
        probability=word.get("confidence", 0.0),
        speaker=_speaker(word.get("speaker")),
    )


def transcript_from_deepgram(result: Mapping[str, Any]) -> Transcript:
    """A transcript from the Deepgram-shaped ``result`` of a completed job: segments from its
    ``utterances``, else one segment of all the words."""
    metadata = result.get("metadata", {})
    channel = result["results"]["channels"][0]
    alternative = channel["alternatives"][0]
    utterances: List[Mapping[str, Any]] = result["results"].get("utterances") or []
    words = alternative.get("words", [])
    if not utterances and words:
        utterances = [
            {
                "start": words[0]["start"],
                "end": words[-1]["end"],
                "transcript": alternative["transcript"],
                "confidence": alternative.get("confidence", 0.0),
                "words": words,
            }
        ]
    segments = [
        Segment(
            id=index,
            start=utterance["start"],
            end=utterance["end"],
            text=utterance["transcript"],
            words=[_word(word) for word in utterance.get("words", [])],
            avg_logprob=_log_confidence(utterance.get("confidence", 0.0)),
            speaker=_speaker(utterance.get("speaker")),
        )
        for index, utterance in enumerate(utterances)
    ]
    speakers = sorted({s.speaker for s in segments if s.speaker}, key=lambda s: int(s.split()[-1]))
    duration = metadata.get("duration", 0.0)
    return Transcript(
        text=alternative["transcript"],
        language=channel.get("detected_language", ""),
        language_probability=channel.get("language_confidence", 0.0),
        duration=duration,
        segments=segments,
        duration_after_vad=duration,
        model=(metadata.get("models") or [""])[0],
        speakers=speakers,
    )


__all__ = ["Final", "LanguageDetection", "Partial", "Segment", "StreamEvent", "Transcript", "Word"]
