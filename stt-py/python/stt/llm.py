"""Local text features: a GGUF language model (llama.cpp) in this process for summaries,
analyses, generated content and translation, and sentence embeddings; and the typed answers
of the same features on a ``stt serve`` (:class:`~stt.Client`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Union

from . import _native
from .errors import InvalidOptionError
from .whisper import runtime_library

# Unions of one-value Literals: mypy.stubtest takes an alias of a many-value Literal for a
# function, and the package's stubs are checked with it.
SummaryStyle = Union[
    Literal["brief"], Literal["detailed"], Literal["action_items"], Literal["bullet_points"]
]
AnalysisType = Union[
    Literal["sentiment"], Literal["topics"], Literal["entities"], Literal["action_items"],
    Literal["questions"], Literal["pii_redact"],
]
ContentType = Union[
    Literal["blog_post"], Literal["social_media"], Literal["newsletter"], Literal["key_quotes"],
    Literal["show_notes"], Literal["meeting_notes"], Literal["study_guide"], Literal["flashcards"],
    Literal["quiz"], Literal["chapter_markers"],
]

#: ``on_text(piece)``: called with each piece of text as the model writes it (the pieces join
#: into the answer); raising in it stops the call.
TextCallback = Callable[[str], object]


@dataclass(frozen=True)
class Summary:
    """A summary (``POST /v1/summarize``)."""

    summary: str
    style: str
    model: str


@dataclass(frozen=True)
class Analysis:
    """An analysis (``POST /v1/analyze``). ``result`` by type: ``{"label", "reason"}``
    (sentiment), ``{"topics": [...]}``, ``{"entities": [{"text", "type"}]}``,
    ``{"action_items": [{"task", "owner", "due"}]}``, ``{"questions": [...]}`` or
    ``{"redacted_text", "entities": [{"type", "text", "start", "end", "source"}]}``
    (pii_redact)."""

    type: str
    model: str
    result: Dict[str, Any]


@dataclass(frozen=True)
class Generated:
    """Content written from a text: prose types (blog_post, social_media, newsletter,
    show_notes, meeting_notes, study_guide) in ``content``; key_quotes, flashcards, quiz and
    chapter_markers as a structured ``result`` (a quiz is ``{"questions": [{"question",
    "options": [4 strings], "answer": 0..3}]}``)."""

    type: str
    model: str
    content: Optional[str] = None
    result: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class Translation:
    """A translation (``POST /v1/translate``)."""

    translated_text: str
    source_language: str
    target_language: str
    model: str


@dataclass(frozen=True)
class Embeddings:
    """One unit-length vector per text, in order (``POST /v1/embed``)."""

    embeddings: List[List[float]]
    dimensions: int


@dataclass(frozen=True)
class ChatSource:
    """A segment of the transcript an answer was made from: its position (from 0), its text
    and how near it is to the question (cosine similarity)."""

    segment_order: int
    text: str
    score: float


@dataclass(frozen=True)
class ChatAnswer:
    """An answer about a stored transcript; pass ``session_id`` to the next question to keep
    the conversation."""

    answer: str
    sources: List[ChatSource] = field(default_factory=list)
    session_id: str = ""
    model: str = ""


def _texts(texts: Sequence[str]) -> List[str]:
    """A list of texts; one string alone is refused (it would be embedded letter by letter)."""
    if isinstance(texts, str):
        raise InvalidOptionError("texts must be a list of strings, not one string", "invalid_option")
    return list(texts)


class LLM:
    """A language model loaded in this process (llama.cpp), for summaries, analyses,
    generated content and translation, and the sentence embedder for :meth:`embed` (loaded on
    first use).

    ``model`` is an installed LLM's name (``"qwen2.5-coder-0.5b"``, see :mod:`stt.models`) or
    a ``.gguf`` path; ``None`` takes the best installed one. ``device`` is ``"auto"``,
    ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; ``threads`` (``None``: every core) and
    ``context_tokens`` (prompt and answer of one call; longer texts are processed in pieces)
    tune llama.cpp.

    Calls release the GIL and may run at the same time from several threads. Ctrl-C stops a
    call with ``KeyboardInterrupt``. Generation is greedy: the same text gives the same answer.
    """

    def __init__(
        self,
        model: Union[str, "os.PathLike[str]", None] = None,
        device: str = "auto",
        threads: Optional[int] = None,
        context_tokens: int = 8192,
    ) -> None:
        if threads is not None and threads < 0:
            raise InvalidOptionError(f"threads must be >= 0, got {threads}", "invalid_option")
        if context_tokens <= 0:
            raise InvalidOptionError(
                f"context_tokens must be > 0, got {context_tokens}", "invalid_option"
            )
        self._native = _native.LLM(
            None if model is None else os.fspath(model),
            device,
            threads,
            context_tokens,
            runtime_library(),
        )

    @property
    def model(self) -> str:
        """The name of the loaded model."""
        return self._native.model

    @property
    def on_gpu(self) -> bool:
        """Whether the model's layers run on a GPU."""
        return self._native.on_gpu

    def __repr__(self) -> str:
        return f"LLM(model={self.model!r})"

    def summarize(
        self, text: str, style: SummaryStyle = "brief", on_text: Optional[TextCallback] = None
    ) -> str:
        """A summary of ``text`` in ``style``: ``"brief"`` (two to four sentences),
        ``"detailed"``, ``"action_items"`` or ``"bullet_points"``. With ``on_text`` the text
        is also handed over piece by piece as it is written."""
        return self._native.summarize(text, style, on_text)

    def analyze(self, text: str, type: AnalysisType) -> Dict[str, Any]:  # noqa: A002
        """An analysis of ``text``: ``"sentiment"`` (``{"label": "positive" | "negative" |
        "neutral", "reason"}``), ``"topics"``, ``"entities"``, ``"action_items"``,
        ``"questions"`` or ``"pii_redact"`` (``{"redacted_text", "entities"}``: e-mails,
        phones, cards... found by checked patterns, names and places by the model)."""
        result: Dict[str, Any] = json.loads(self._native.analyze(text, type))
        return result

    def generate(
        self, text: str, type: ContentType, on_text: Optional[TextCallback] = None  # noqa: A002
    ) -> Generated:
        """Content of ``type`` written from ``text`` (see :class:`Generated`)."""
        generated = json.loads(self._native.generate(text, type, on_text))
        return Generated(type, self.model, generated.get("content"), generated.get("result"))

    def translate(
        self,
        text: str,
        target: str,
        source: str = "en",
        on_text: Optional[TextCallback] = None,
    ) -> str:
        """``text`` translated from ``source`` to ``target`` (language codes: en, zh, es, fr,
        de, it, pt, ru, ja, ko, vi, th, ar; any other is refused)."""
        return self._native.translate(text, target, source, on_text)

    def embed(self, texts: Sequence[str]) -> List[List[float]]:
        """One unit-length 384-dimensional vector per text (all-MiniLM-L6-v2): the dot product
        of two is their cosine similarity. Texts longer than 256 tokens are cut."""
        return self._native.embed(_texts(texts))


def summary_from_api(raw: Mapping[str, Any]) -> Summary:
    return Summary(raw["summary"], raw.get("style", ""), raw.get("model", ""))


def analysis_from_api(raw: Mapping[str, Any]) -> Analysis:
    return Analysis(raw.get("type", ""), raw.get("model", ""), dict(raw.get("result") or {}))


def generated_from_api(raw: Mapping[str, Any]) -> Generated:
    return Generated(raw.get("type", ""), raw.get("model", ""), raw.get("content"),
                     raw.get("result"))


def translations_from_api(raw: Mapping[str, Any]) -> List[Translation]:
    """The one translation of a single text, or each of a batch's."""
    shared = (raw.get("source_language", ""), raw.get("target_language", ""), raw.get("model", ""))
    answers = raw["translations"] if "translations" in raw else [raw]
    return [Translation(answer["translated_text"], *shared) for answer in answers]


def embeddings_from_api(raw: Mapping[str, Any]) -> Embeddings:
    vectors = [[float(value) for value in vector] for vector in raw["embeddings"]]
    dimensions = raw.get("dimensions", len(vectors[0]) if vectors else 0)
    return Embeddings(vectors, int(dimensions))


def chat_from_api(raw: Mapping[str, Any]) -> ChatAnswer:
    sources = [
        ChatSource(int(source["segment_order"]), source["text"], float(source["score"]))
        for source in raw.get("sources", [])
    ]
    return ChatAnswer(raw["answer"], sources, raw.get("session_id", ""), raw.get("model", ""))


__all__ = [
    "LLM",
    "Analysis",
    "AnalysisType",
    "ChatAnswer",
    "ChatSource",
    "ContentType",
    "Embeddings",
    "Generated",
    "Summary",
    "SummaryStyle",
    "TextCallback",
    "Translation",
]
