"""The text features: `stt.LLM` on the real small models (qwen2.5-coder-0.5b, minilm-l6) in
this process, and the client's text calls against the session's real `stt serve`. Texts are
short and calls few, for 2 cores."""

import math
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import stt
from conftest import fixture_path

LLM_MODEL = "qwen2.5-coder-0.5b"
TEXT = (
    "Maria thanked the whole team for launching the new website two weeks early. "
    "Customers love it, and sales grew by twenty percent in the first week."
)


@pytest.fixture(scope="module")
def llm():
    # One thread: llama.cpp's threads wait for each other at every step, so two threads on a
    # 2-core machine that anything else is using slow down tenfold; one only halves.
    return stt.LLM(LLM_MODEL, threads=1)


@pytest.fixture(scope="module")
def client(server):
    """A client in an account of its own, holding the transcript of jfk."""
    created = server.create_key(plan="paid", name="text")
    client = stt.Client(server.base, api_key=created["key"])
    client.transcribe(fixture_path("jfk.flac"))
    return client


def test_local_summary_streams_its_pieces(llm):
    assert llm.model == LLM_MODEL and not llm.on_gpu
    pieces = []
    summary = llm.summarize(TEXT, on_text=pieces.append)
    assert summary.strip() and len(pieces) > 1
    assert "".join(pieces).strip() == summary
    assert all(isinstance(piece, str) for piece in pieces)


def test_an_exception_in_on_text_stops_the_call(llm):
    calls = []

    def stop(piece):
        calls.append(piece)
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        llm.translate(TEXT, "de", on_text=stop)
    assert len(calls) == 1


def test_ctrl_c_stops_a_generation_promptly():
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import stt
            llm = stt.LLM({LLM_MODEL!r}, threads=1)
            pieces = []
            def on_text(piece):
                if not pieces:
                    print("started", flush=True)
                pieces.append(piece)
            try:
                llm.generate({TEXT!r}, "blog_post", on_text=on_text)
                print("finished", flush=True)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
        """)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stdout.readline().strip() == "started"
    time.sleep(0.5)
    child.send_signal(signal.SIGINT)
    interrupted_at = time.monotonic()
    out, err = child.communicate(timeout=60)
    assert out.strip() == "interrupted", (out, err)
    # Cancelled within a token; a blog post takes far longer.
    assert time.monotonic() - interrupted_at < 10


def test_local_analysis_and_its_errors(llm):
    sentiment = llm.analyze(TEXT, "sentiment")
    assert sentiment["label"] in {"positive", "negative", "neutral"}
    assert isinstance(sentiment["reason"], str)
    with pytest.raises(stt.InvalidOptionError) as bad:
        llm.analyze(TEXT, "mood")
    assert bad.value.kind == "invalid_option"
    assert "sentiment" in str(bad.value) and "pii_redact" in str(bad.value)
    with pytest.raises(stt.InvalidOptionError, match="empty"):
        llm.summarize("   ")
    with pytest.raises(stt.InvalidOptionError, match="brief"):
        llm.summarize(TEXT, style="short")  # type: ignore[arg-type]


def test_local_quiz_is_structured(llm):
    quiz = llm.generate("Paris is the capital of France.", "quiz")
    assert isinstance(quiz, stt.Generated)
    assert (quiz.type, quiz.model, quiz.content) == ("quiz", LLM_MODEL, None)
    questions = quiz.result["questions"]
    assert questions
    for question in questions:
        assert question["question"] and len(question["options"]) == 4
        assert question["answer"] in range(4)


def test_local_translation(llm):
    spanish = llm.translate("Good morning, my friends.", "es")
    assert spanish.strip() and spanish != "Good morning, my friends."
    with pytest.raises(stt.InvalidOptionError) as unknown:
        llm.translate(TEXT, "xx")
    assert "xx" in str(unknown.value) and "es" in str(unknown.value)
    assert "supported" in str(unknown.value)


def test_local_embeddings(llm):
    vectors = llm.embed([
        "The meeting was moved to Friday.",
        "We rescheduled the meeting for Friday.",
        "Penguins live in the southern hemisphere.",
    ])
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    for vector in vectors:
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, abs_tol=1e-3)

    def cosine(a, b):
        return math.fsum(x * y for x, y in zip(a, b))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
    assert llm.embed([]) == []
    with pytest.raises(stt.InvalidOptionError):
        llm.embed("one string")


def test_client_text_calls(client):
    summary = client.summarize(TEXT, model=LLM_MODEL)
    assert summary.summary.strip() and (summary.style, summary.model) == ("brief", LLM_MODEL)

    redacted = client.analyze("Write to maria.lopez@example.com today.", "pii_redact",
                              model=LLM_MODEL)
    assert (redacted.type, redacted.model) == ("pii_redact", LLM_MODEL)
    assert "[EMAIL]" in redacted.result["redacted_text"]
    assert "maria.lopez@example.com" not in redacted.result["redacted_text"]
    assert any(e["type"] == "email" for e in redacted.result["entities"])

    quotes = client.generate("We choose to go to the Moon.", "key_quotes", model=LLM_MODEL)
    assert (quotes.type, quotes.content) == ("key_quotes", None)
    assert quotes.result["quotes"] and all(isinstance(q, str) for q in quotes.result["quotes"])

    with pytest.raises(stt.ServerError) as bad:
        client.analyze(TEXT, "mood", model=LLM_MODEL)  # type: ignore[arg-type]
    assert bad.value.status == 400 and "sentiment" in str(bad.value)


def test_client_translation_and_embeddings(client):
    one = client.translate("Thank you very much.", "es", model=LLM_MODEL)
    assert isinstance(one, stt.Translation) and one.translated_text.strip()
    assert (one.source_language, one.target_language, one.model) == ("en", "es", LLM_MODEL)
    batch = client.translate(["Hello.", "Good night."], "fr", model=LLM_MODEL)
    assert [t.target_language for t in batch] == ["fr", "fr"]
    assert all(t.translated_text.strip() for t in batch)
    with pytest.raises(stt.ServerError) as unknown:
        client.translate("Hello.", "xx")
    assert unknown.value.status == 400 and "supported" in str(unknown.value)

    embedded = client.embed(["The meeting was moved to Friday.", "Penguins swim."])
    assert embedded.dimensions == 384 and [len(v) for v in embedded.embeddings] == [384, 384]
    assert math.isclose(math.fsum(x * x for x in embedded.embeddings[0]), 1.0, abs_tol=1e-3)


def test_client_chat_about_a_transcript(client):
    transcript_id = client.transcripts.list().results[0].id
    answer = client.transcripts.chat(transcript_id, "What should you ask?", model=LLM_MODEL)
    assert isinstance(answer, stt.ChatAnswer) and answer.answer.strip()
    assert answer.session_id and answer.model == LLM_MODEL
    assert answer.sources and all(isinstance(s, stt.ChatSource) for s in answer.sources)
    assert all(type(s.segment_order) is int and s.text for s in answer.sources)
    assert any("country" in s.text for s in answer.sources)

    sentiment = client.transcripts.analyze(transcript_id, "sentiment", model=LLM_MODEL)
    assert sentiment.result["label"] in {"positive", "negative", "neutral"}
    with pytest.raises(stt.ServerError) as missing:
        client.transcripts.generate("no-such-id", "quiz", model=LLM_MODEL)
    assert missing.value.status == 404
