"""Client of a running ``stt serve`` (the synchronous and asynchronous endpoints of
``shared/spec/API.md``), returning the same :class:`~stt.Transcript` as the local engine,
of its text features (``/v1/summarize``, ``analyze``, ``generate``, ``translate``, ``embed``),
its audio tools (``/v1/enhance-audio``, ``/v1/tts``) and its transcript workspace (``/api/v1/``: stored transcripts and questions about them,
usage, account, keys). Only the standard library is used."""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.parse
from typing import (
    Any,
    Dict,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    overload,
)

from .audio_tools import Speech, speech_from_api
from .errors import InvalidOptionError, JobFailedError, ServerError
from .llm import (
    Analysis,
    AnalysisType,
    ChatAnswer,
    ContentType,
    Embeddings,
    Generated,
    Summary,
    SummaryStyle,
    Translation,
    _texts,
    analysis_from_api,
    chat_from_api,
    embeddings_from_api,
    generated_from_api,
    summary_from_api,
    translations_from_api,
)
from .multipart import Multipart
from .transcript import Transcript, transcript_from_api, transcript_from_deepgram
from .whisper import AudioSource
from .workspace import (
    EXPORT_FORMATS,
    Account,
    ApiKeyInfo,
    CreatedKey,
    ExportFormat,
    Keep,
    Moment,
    StoredTranscript,
    TranscriptPage,
    TranscriptStatus,
    TranscriptSummary,
    Usage,
    account_from_api,
    created_key_from_api,
    key_from_api,
    page_from_api,
    stored_from_api,
    transcript_path,
    transcripts_query,
    usage_from_api,
)

class Client:
    """Talks to a ``stt serve`` at ``base_url`` (with or without the ``/v1`` suffix).

    Errors answered by the server raise :class:`~stt.ServerError` with its HTTP status
    (``status`` 0: no answer at all). The workspace calls (``transcripts``, ``keys``,
    :meth:`usage`, :meth:`account`) and the text features (:meth:`summarize`,
    :meth:`analyze`, :meth:`generate`, :meth:`translate`, :meth:`embed`) need a key, and see
    only the key's account; a busy server answers the text features with a 503.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        api_key: Optional[str] = None,
        timeout: float = 600.0,
    ) -> None:
        base = base_url.rstrip("/")
        self.base_url = base[: -len("/v1")] if base.endswith("/v1") else base
        self.api_key = api_key if api_key is not None else os.environ.get("STT_API_KEY")
        self.timeout = timeout
        self.transcripts = Transcripts(self)
        self.keys = Keys(self)

    def _exchange(
        self,
        method: str,
        path: str,
        body: Union[None, bytes, Multipart] = None,
        content_type: Optional[str] = None,
        accept: str = "application/json",
    ) -> Tuple[int, bytes, Dict[str, str]]:
        """Sends one request; answers its status, body and headers (names in lower case), or
        raises the server's error."""
        headers = {"Accept": accept}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if isinstance(body, Multipart):
            headers["Content-Type"] = body.content_type
        elif content_type is not None:
            headers["Content-Type"] = content_type
        if body is not None:
            headers["Content-Length"] = str(len(body))
        url = urllib.parse.urlsplit(self.base_url + path)
        connection_class = (
            http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(url.netloc, timeout=self.timeout)
        target = url.path + (f"?{url.query}" if url.query else "")
        try:
            connection.putrequest(method, target)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            try:
                for chunk in [body] if isinstance(body, bytes) else body or []:
                    connection.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                # The server answered before reading the whole upload (a bad key, a file too
                # large) and closed; its answer is still there to read.
                pass
            response = connection.getresponse()
            raw = response.read()
        except OSError as error:
            raise ServerError(f"cannot reach {self.base_url}: {error}", 0) from None
        finally:
            connection.close()
        if response.status >= 400:
            message = (_json_object(raw) or {}).get("error")
            raise ServerError(
                str(message or raw.decode(errors="replace") or response.reason), response.status
            )
        return response.status, raw, {k.lower(): v for k, v in response.getheaders()}

    def _request(
        self,
        method: str,
        path: str,
        body: Union[None, bytes, Multipart] = None,
        content_type: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Sends one request whose answer is a JSON object."""
        status, raw, _ = self._exchange(method, path, body, content_type)
        answer = _json_object(raw)
        if answer is None:
            raise ServerError(f"{method} {path}: the answer is not a JSON object", status)
        return answer

    def _send_json(self, method: str, path: str, body: Mapping[str, Any]) -> Dict[str, Any]:
        return self._request(method, path, json.dumps(body).encode(), "application/json")

    def transcribe(
        self,
        source: AudioSource,
        *,
        model: Optional[str] = None,
        language: Optional[str] = None,
        task: Optional[str] = None,
        word_timestamps: Optional[bool] = None,
        prompt: Optional[str] = None,
        temperature: Optional[float] = None,
        beam_size: Optional[int] = None,
        vad: Optional[bool] = None,
        diarize: Optional[bool] = None,
        speakers: Optional[int] = None,
        store: Optional[bool] = None,
    ) -> Transcript:
        """Transcribes on the server and waits for the answer (``POST /v1/transcribe``).
        With a key the server keeps the transcript in its account (``client.transcripts``)
        unless ``store=False``."""
        given = {
            "model": model,
            "language": language,
            "task": task,
            "word_timestamps": word_timestamps,
            "prompt": prompt,
            "temperature": temperature,
            "beam_size": beam_size,
            "vad": vad,
            "diarize": diarize,
            "speakers": speakers,
            "store": store,
        }
        fields = {"response_format": "json", **_form_fields(given)}
        answer = self._request("POST", "/v1/transcribe", Multipart(fields, "file", source))
        return transcript_from_api(answer)

    def submit(
        self,
        source: Optional[AudioSource] = None,
        *,
        url: Optional[str] = None,
        model: Optional[str] = None,
        store: Optional[bool] = None,
    ) -> str:
        """Queues an asynchronous job for an upload or a ``url`` the server fetches; returns
        its id (``POST /v1/stt/create``). ``store``: as for :meth:`transcribe`."""
        if (source is None) == (url is None):
            raise InvalidOptionError("give either an audio source or a url", "invalid_option")
        if url is not None:
            body: Dict[str, Any] = {"url": url, **({"model": model} if model else {})}
            if store is not None:
                body["store"] = store
            answer = self._send_json("POST", "/v1/stt/create", body)
        else:
            fields = {"model": model} if model else {}
            if store is not None:
                fields["store"] = str(store).lower()
            assert source is not None
            answer = self._request("POST", "/v1/stt/create", Multipart(fields, "audio", source))
        return str(answer["generation_id"])

    def job(self, job_id: str) -> Dict[str, Any]:
        """The job as the server shows it: ``status`` (waiting, active, completed, failed),
        ``progress`` from 0 to 1 while active, and ``result`` when completed."""
        return self._request("GET", f"/v1/stt/{job_id}")

    def cancel(self, job_id: str) -> Dict[str, Any]:
        """Cancels a waiting or active job (``DELETE /v1/stt/{id}``): it fails with "cancelled
        by its creator" and its worker stops. A finished job raises :class:`~stt.ServerError`
        with status 409."""
        return self._request("DELETE", f"/v1/stt/{job_id}")

    def wait(
        self, job_id: str, *, timeout: Optional[float] = None, poll_interval: float = 1.0
    ) -> Transcript:
        """Polls a job until it completes. Raises :class:`~stt.JobFailedError` if it failed and
        ``TimeoutError`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["status"] == "completed":
                return transcript_from_deepgram(job["result"])
            if job["status"] == "failed":
                raise JobFailedError(str(job.get("error", "the job failed")), job_id)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['status']} after {timeout} s")
            time.sleep(poll_interval)

    def usage(self, days: int = 30) -> Usage:
        """The account's use over the last ``days`` UTC days, today included
        (``GET /api/v1/usage/``)."""
        return usage_from_api(self._request("GET", f"/api/v1/usage/?days={days}"))

    def account(self) -> Account:
        """The account of the key (``GET /api/v1/account/``)."""
        return account_from_api(self._request("GET", "/api/v1/account/"))

    def update_account(
        self,
        *,
        name: Optional[str] = None,
        email: Union[str, None, Literal[Keep.KEEP]] = Keep.KEEP,
        email_preferences: Optional[Mapping[str, bool]] = None,
    ) -> Account:
        """Changes what is given and answers the account (``PATCH /api/v1/account/``).
        ``email=None`` clears the address; ``email_preferences`` may name any of
        ``job_completed``, ``usage_alerts`` and ``product_updates``, the others are kept."""
        changes: Dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if email is not Keep.KEEP:
            changes["email"] = email
        if email_preferences is not None:
            changes["email_preferences"] = dict(email_preferences)
        return account_from_api(self._send_json("PATCH", "/api/v1/account/", changes))

    def _text_call(
        self, path: str, body: Dict[str, Any], model: Optional[str]
    ) -> Dict[str, Any]:
        """A text feature's call: the request's ``model`` when given (an installed LLM's name),
        else the server's."""
        if model is not None:
            body["model"] = model
        return self._send_json("POST", path, body)

    def summarize(
        self, text: str, style: SummaryStyle = "brief", *, model: Optional[str] = None
    ) -> Summary:
        """A summary of ``text`` made by the server's language model (``POST /v1/summarize``);
        styles as :meth:`stt.LLM.summarize`."""
        return summary_from_api(
            self._text_call("/v1/summarize", {"text": text, "style": style}, model)
        )

    def analyze(
        self, text: str, type: AnalysisType, *, model: Optional[str] = None  # noqa: A002
    ) -> Analysis:
        """An analysis of ``text`` (``POST /v1/analyze``); types as :meth:`stt.LLM.analyze`."""
        return analysis_from_api(
            self._text_call("/v1/analyze", {"text": text, "type": type}, model)
        )

    def generate(
        self, text: str, type: ContentType, *, model: Optional[str] = None  # noqa: A002
    ) -> Generated:
        """Content of ``type`` written from ``text`` (``POST /v1/generate``)."""
        return generated_from_api(
            self._text_call("/v1/generate", {"text": text, "type": type}, model)
        )

    @overload
    def translate(
        self, text: str, target: str, source: str = "en", *, model: Optional[str] = None
    ) -> Translation: ...

    @overload
    def translate(
        self,
        text: List[str],
        target: str,
        source: str = "en",
        *,
        model: Optional[str] = None,
    ) -> List[Translation]: ...

    def translate(
        self,
        text: Union[str, List[str]],
        target: str,
        source: str = "en",
        *,
        model: Optional[str] = None,
    ) -> Union[Translation, List[Translation]]:
        """``text`` translated from ``source`` to ``target`` (``POST /v1/translate``); a list
        of texts is translated in one call and answers a list, in order."""
        if isinstance(text, str):
            body: Dict[str, Any] = {"text": text, "target": target, "source": source}
            return translations_from_api(self._text_call("/v1/translate", body, model))[0]
        body = {"texts": _texts(text), "target": target, "source": source}
        return translations_from_api(self._text_call("/v1/translate", body, model))

    def embed(self, texts: Sequence[str]) -> Embeddings:
        """One unit-length vector per text (``POST /v1/embed``)."""
        return embeddings_from_api(self._send_json("POST", "/v1/embed", {"texts": _texts(texts)}))

    def enhance(
        self,
        source: AudioSource,
        *,
        attenuation_limit: Optional[float] = None,
        loudness: Optional[float] = None,
        normalize: Optional[bool] = None,
    ) -> bytes:
        """``source`` with the noise removed on the server (``POST /v1/enhance-audio``): a
        16-bit mono WAV file at 48 kHz. Options as :func:`stt.enhance`; left out, the server's
        defaults (the same)."""
        given = {"attenuation_limit": attenuation_limit, "loudness": loudness,
                 "normalize": normalize}
        body = Multipart(_form_fields(given), "file", source)
        return self._exchange("POST", "/v1/enhance-audio", body, accept="audio/wav")[1]

    def speak(
        self,
        text: str,
        *,
        reference: Optional[AudioSource] = None,
        voice: Optional[str] = None,
        speed: Optional[float] = None,
    ) -> Speech:
        """``text`` spoken by the server (``POST /v1/tts``) as a 16-bit mono WAV file, with
        ``voice`` (an installed voice of the server, or one of OpenAI's names, which speak with
        its default) at ``speed`` (0.25 to 4). A voice that can clone imitates the
        ``reference`` clip; ``voice_cloned`` in the answer says whether it did."""
        body = Multipart(_form_fields({"text": text, "voice": voice, "speed": speed}),
                         "reference", reference)
        _, audio, headers = self._exchange("POST", "/v1/tts", body, accept="audio/wav")
        return speech_from_api(audio, headers)


class Transcripts:
    """The transcripts stored in the account of the client's key (``client.transcripts``).
    An id of another account's transcript answers 404, as an unknown one does."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(
        self,
        page: int = 1,
        page_size: int = 20,
        status: Optional[TranscriptStatus] = None,
        language: Optional[str] = None,
        created_after: Optional[Moment] = None,
        created_before: Optional[Moment] = None,
        search: Optional[str] = None,
    ) -> TranscriptPage:
        """One page (``page_size`` 1 to 100), newest first (``GET /api/v1/transcripts/``).
        ``created_after`` is inclusive, ``created_before`` exclusive; ``search`` is a
        case-insensitive part of the text or the file name. A page past the last is a 404."""
        query = transcripts_query({
            "page": page,
            "page_size": page_size,
            "status": status,
            "language": language,
            "created_after": created_after,
            "created_before": created_before,
            "search": search,
        })
        return page_from_api(self._client._request("GET", f"/api/v1/transcripts/?{query}"))

    def iter(
        self,
        *,
        page_size: int = 20,
        status: Optional[TranscriptStatus] = None,
        language: Optional[str] = None,
        created_after: Optional[Moment] = None,
        created_before: Optional[Moment] = None,
        search: Optional[str] = None,
    ) -> Iterator[TranscriptSummary]:
        """Every transcript that the filters of :meth:`list` select, newest first, fetching
        one page at a time."""
        page = self.list(1, page_size, status, language, created_after, created_before, search)
        yield from page.results
        while page.next is not None:
            page = page_from_api(self._client._request("GET", page.next))
            yield from page.results

    def get(self, transcript_id: str) -> StoredTranscript:
        """The transcript whole, as :class:`~stt.Transcript` in ``transcript``."""
        raw = self._client._request("GET", transcript_path(transcript_id))
        return stored_from_api(raw, transcript_from_api(raw))

    def delete(self, transcript_id: str) -> None:
        """Deletes the transcript and what derives from it (its job and the job's audio)."""
        self._client._exchange("DELETE", transcript_path(transcript_id))

    def export(self, transcript_id: str, format: ExportFormat) -> bytes:
        """The transcript as a file in ``format``, rendered by the server; a 409 while it is
        not completed."""
        if format not in EXPORT_FORMATS:
            raise InvalidOptionError(
                f"unknown export format {format!r}: one of {', '.join(EXPORT_FORMATS)}",
                "invalid_option",
            )
        path = f"{transcript_path(transcript_id)}export/{format}/"
        return self._client._exchange("GET", path, accept="*/*")[1]

    def chat(
        self,
        transcript_id: str,
        question: str,
        session_id: Optional[str] = None,
        *,
        model: Optional[str] = None,
    ) -> ChatAnswer:
        """An answer to ``question`` from the segments of a completed transcript nearest it,
        which come back as ``sources``. The answer's ``session_id`` given to the next question
        keeps the conversation (``POST /api/v1/transcripts/{id}/chat/``)."""
        body: Dict[str, Any] = {"question": question}
        if session_id is not None:
            body["session_id"] = session_id
        path = f"{transcript_path(transcript_id)}chat/"
        return chat_from_api(self._client._text_call(path, body, model))

    def analyze(
        self,
        transcript_id: str,
        type: AnalysisType,  # noqa: A002
        *,
        model: Optional[str] = None,
    ) -> Analysis:
        """An analysis of a completed transcript's text, as :meth:`Client.analyze`."""
        path = f"{transcript_path(transcript_id)}analyze/"
        return analysis_from_api(self._client._text_call(path, {"type": type}, model))

    def generate(
        self,
        transcript_id: str,
        type: ContentType,  # noqa: A002
        *,
        model: Optional[str] = None,
    ) -> Generated:
        """Content written from a completed transcript, as :meth:`Client.generate` (chapter
        markers get the segments' start times)."""
        path = f"{transcript_path(transcript_id)}generate/"
        return generated_from_api(self._client._text_call(path, {"type": type}, model))


class Keys:
    """The active keys of the account (``client.keys``). A new key shares the account's
    plan and quota."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> List[ApiKeyInfo]:
        answer = self._client._request("GET", "/api/v1/keys/")
        return [key_from_api(key) for key in answer["results"]]

    def create(self, name: Optional[str] = None) -> CreatedKey:
        """A new key; its raw ``key`` is shown this once."""
        body = {} if name is None else {"name": name}
        return created_key_from_api(self._client._send_json("POST", "/api/v1/keys/", body))

    def delete(self, key_id: str) -> None:
        """Revokes a key; the account's last one is refused (409): create another first."""
        self._client._exchange("DELETE", f"/api/v1/keys/{urllib.parse.quote(key_id, safe='')}/")


def _form_fields(given: Mapping[str, Any]) -> Dict[str, str]:
    """The form fields of the values given (not None); booleans as ``true``/``false``."""
    return {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in given.items()
        if value is not None
    }


def _json_object(raw: bytes) -> Optional[Dict[str, Any]]:
    """``raw`` as a JSON object; None when it is anything else."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


__all__ = ["Client", "Keys", "Transcripts"]
