"""What the transcript workspace of a ``stt serve`` (``/api/v1/``) answers, as typed values,
and the query of its transcript list. The calls themselves are :class:`~stt.Client`'s."""

from __future__ import annotations

import enum
import re
import urllib.parse
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Dict, List, Literal, Mapping, Optional, Union

from .transcript import Transcript

# Unions of one-value Literals: mypy.stubtest takes an alias of a many-value Literal for a
# function, and the package's stubs are checked with it.
TranscriptStatus = Union[Literal["processing"], Literal["completed"], Literal["failed"]]
ExportFormat = Union[
    Literal["txt"], Literal["srt"], Literal["vtt"], Literal["json"], Literal["csv"],
    Literal["docx"], Literal["pdf"],
]
EXPORT_FORMATS = ("txt", "srt", "vtt", "json", "csv", "docx", "pdf")

Moment = Union[datetime, date, str]
"""A bound of the transcript list: a ``date`` is midnight UTC; a naive ``datetime`` is local
time (as ``datetime.astimezone`` takes it); a string is sent as is (``YYYY-MM-DD`` or RFC 3339)."""


@dataclass(frozen=True)
class _StoredFields:
    """What a stored transcript's summary and its whole share."""

    id: str
    status: TranscriptStatus
    source: Literal["transcribe", "job", "openai"]
    file_name: Optional[str]
    language: Optional[str]
    duration: Optional[float]
    model: str
    speakers: List[str]
    created: datetime
    error: Optional[str]


@dataclass(frozen=True)
class TranscriptSummary(_StoredFields):
    """A stored transcript as the list shows it."""

    text_preview: str
    """The first 200 characters of the text."""


@dataclass(frozen=True)
class TranscriptPage:
    """One page of the list, newest first. ``next`` and ``previous`` are URLs relative to the
    server's base URL, with every filter kept; None at either end."""

    count: int
    next: Optional[str]
    previous: Optional[str]
    results: List[TranscriptSummary]


@dataclass(frozen=True)
class StoredTranscript(_StoredFields):
    """A stored transcript whole: the summary's fields and the ``transcript`` itself (empty
    while processing or after a failure)."""

    transcript: Transcript


@dataclass(frozen=True)
class UsageDay:
    """What an account used on one UTC day."""

    date: date
    requests: int
    minutes: float
    credits: int


@dataclass(frozen=True)
class UsageTotal:
    requests: int
    minutes: float
    credits: int


@dataclass(frozen=True)
class Usage:
    """One entry per UTC day, oldest first, today last, and their sum."""

    days: List[UsageDay]
    total: UsageTotal


@dataclass(frozen=True)
class EmailPreferences:
    job_completed: bool
    usage_alerts: bool
    product_updates: bool


@dataclass(frozen=True)
class Account:
    """The account of the client's key. Its plan and limits are set by the operator."""

    id: str
    name: str
    email: Optional[str]
    plan: Literal["free", "paid"]
    monthly_minutes: Optional[int]
    """None: unlimited."""
    period_start: datetime
    minutes_used: float
    """Exact audio minutes of this calendar month."""
    credits_used: int
    credits_remaining: Optional[int]
    max_upload_mb: int
    concurrency: int
    email_preferences: EmailPreferences
    created: datetime


@dataclass(frozen=True)
class ApiKeyInfo:
    """An active key of the account; ``prefix`` (its first 8 characters) is None for keys
    made before accounts existed."""

    id: str
    name: Optional[str]
    prefix: Optional[str]
    created: datetime


@dataclass(frozen=True)
class CreatedKey(ApiKeyInfo):
    key: str
    """The raw key: the server keeps only its hash, so this is the one time it is shown."""


class Keep(enum.Enum):
    """The default of an argument for which None means something: leave the value as is."""

    KEEP = "keep"


def transcript_path(transcript_id: str) -> str:
    return f"/api/v1/transcripts/{urllib.parse.quote(transcript_id, safe='')}/"


def _time(raw: str) -> datetime:
    """An RFC 3339 time as an aware datetime (``fromisoformat`` before Python 3.11 takes
    neither "Z" nor fractions other than of 3 or 6 digits)."""
    text = re.sub(r"[zZ]$", "+00:00", raw)
    text = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "00000")[:6], text)
    return datetime.fromisoformat(text)


def _moment(value: Union[datetime, date]) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def transcripts_query(filters: Mapping[str, Union[None, int, Moment]]) -> str:
    """The query string of the transcript list's filters that are given (not None)."""
    return urllib.parse.urlencode(
        {
            name: _moment(value) if isinstance(value, date) else value
            for name, value in filters.items()
            if value is not None
        },
        quote_via=urllib.parse.quote,
    )


def _stored_fields(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """The fields that the summary and the whole transcript share."""
    return {
        "id": str(raw["id"]),
        "status": raw["status"],
        "source": raw["source"],
        "file_name": raw["file_name"],
        "language": raw["language"],
        "duration": raw["duration"],
        "model": raw["model"],
        "speakers": list(raw["speakers"]),
        "created": _time(raw["created"]),
        "error": raw["error"],
    }


def page_from_api(raw: Mapping[str, Any]) -> TranscriptPage:
    return TranscriptPage(
        count=raw["count"],
        next=raw["next"],
        previous=raw["previous"],
        results=[
            TranscriptSummary(**_stored_fields(item), text_preview=item["text_preview"])
            for item in raw["results"]
        ],
    )


def stored_from_api(raw: Mapping[str, Any], transcript: Transcript) -> StoredTranscript:
    """``transcript``: the conversion of ``raw`` (the client's, shared with its other calls)."""
    return StoredTranscript(**_stored_fields(raw), transcript=transcript)


def usage_from_api(raw: Mapping[str, Any]) -> Usage:
    return Usage(
        days=[
            UsageDay(
                date=date.fromisoformat(day["date"]),
                requests=day["requests"],
                minutes=day["minutes"],
                credits=day["credits"],
            )
            for day in raw["days"]
        ],
        total=UsageTotal(
            requests=raw["total"]["requests"],
            minutes=raw["total"]["minutes"],
            credits=raw["total"]["credits"],
        ),
    )


def account_from_api(raw: Mapping[str, Any]) -> Account:
    preferences = raw["email_preferences"]
    return Account(
        id=raw["id"],
        name=raw["name"],
        email=raw["email"],
        plan=raw["plan"],
        monthly_minutes=raw["monthly_minutes"],
        period_start=_time(raw["period_start"]),
        minutes_used=raw["minutes_used"],
        credits_used=raw["credits_used"],
        credits_remaining=raw["credits_remaining"],
        max_upload_mb=raw["max_upload_mb"],
        concurrency=raw["concurrency"],
        email_preferences=EmailPreferences(
            job_completed=preferences["job_completed"],
            usage_alerts=preferences["usage_alerts"],
            product_updates=preferences["product_updates"],
        ),
        created=_time(raw["created"]),
    )


def key_from_api(raw: Mapping[str, Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=raw["id"], name=raw["name"], prefix=raw["prefix"], created=_time(raw["created"])
    )


def created_key_from_api(raw: Mapping[str, Any]) -> CreatedKey:
    info = key_from_api(raw)
    return CreatedKey(
        id=info.id, name=info.name, prefix=info.prefix, created=info.created, key=raw["key"]
    )


__all__ = [
    "Account",
    "ApiKeyInfo",
    "CreatedKey",
    "EmailPreferences",
    "ExportFormat",
    "Moment",
    "StoredTranscript",
    "TranscriptPage",
    "TranscriptStatus",
    "TranscriptSummary",
    "Usage",
    "UsageDay",
    "UsageTotal",
]
