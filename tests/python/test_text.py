"""The text features of seed `002_…` end to end, on the real 0.5B LLM (Qwen2.5-Coder Q4_K_M on
llama.cpp) and the real MiniLM embedder, through a real `stt serve`: summaries, analyses and
generated content (structured types checked against their shapes), translation, embeddings,
PII redaction (patterned PII by detectors), streaming as Server-Sent Events, chat over a stored
transcript with its sources, the bounded worker pool (503 when full, a call cancelled when its
client goes away), and the refusals of bad input.
"""

import csv
import json
import math
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from stt_testing import auth, fixture_path

LLM = "qwen2.5-coder-0.5b"
TIMEOUT = 300
TWO_SPEAKERS = "2spk_pyannote_sample.wav"
SONNETS = "en_librivox_sonnets_001_002_106s.mp3"


def reference(name):
    with open(fixture_path("MANIFEST.tsv"), encoding="utf-8") as manifest:
        rows = {row["file"]: row for row in csv.DictReader(manifest, delimiter="\t")}
    return rows[name]["reference_text"]


@pytest.fixture(scope="module")
def server(start_server):
    return start_server("--llm-model", LLM, name="text")


@pytest.fixture(scope="module")
def key(server):
    return server.create_key(plan="paid", name="text")["key"]


def post(server, key, path, body, status=200):
    response = requests.post(server.url(path), headers=auth(key), json=body, timeout=TIMEOUT)
    assert response.status_code == status, response.text
    return response.json()


def test_summaries_name_the_main_content_of_real_recordings(server, key):
    sonnets = post(server, key, "/v1/summarize", {"text": reference(SONNETS)})
    assert sonnets["style"] == "brief" and sonnets["model"] == LLM
    assert any(word in sonnets["summary"].lower() for word in ("beauty", "sonnet", "poem", "youth")), sonnets
    call = post(server, key, "/v1/summarize", {"text": reference(TWO_SPEAKERS), "style": "bullet_points"})
    summary = call["summary"]
    assert call["style"] == "bullet_points"
    assert "New Jersey" in summary or "Chicago" in summary, summary
    assert summary.lstrip().startswith(("-", "*", "•", "1")), summary


MEETING = ("Thanks everyone for joining. Maria will send the budget to Pedro by Friday, and "
           "Tom owns the launch checklist. The demo went really well and the client was happy. "
           "Should we move the launch to March?")


@pytest.mark.parametrize("kind,check", [
    ("sentiment", lambda r: r["label"] in {"positive", "negative", "neutral"} and isinstance(r["reason"], str)),
    ("topics", lambda r: all(isinstance(t, str) and t for t in r["topics"])),
    ("entities", lambda r: all({"text", "type"} == set(e) for e in r["entities"])),
    ("action_items", lambda r: all({"task", "owner", "due"} == set(a) for a in r["action_items"])),
    ("questions", lambda r: all(isinstance(q, str) and q for q in r["questions"])),
])
def test_every_analysis_answers_its_documented_shape(server, key, kind, check):
    answer = post(server, key, "/v1/analyze", {"text": MEETING, "type": kind})
    assert answer["type"] == kind and answer["model"] == LLM
    assert check(answer["result"]), answer


def test_structured_content_has_its_shape_and_prose_is_text(server, key):
    quiz = post(server, key, "/v1/generate", {"text": MEETING, "type": "quiz"})["result"]
    assert quiz["questions"], quiz
    for question in quiz["questions"]:
        assert len(question["options"]) == 4 and question["answer"] in range(4), question
    cards = post(server, key, "/v1/generate", {"text": MEETING, "type": "flashcards"})["result"]
    assert all(card["front"] and card["back"] for card in cards["flashcards"]), cards
    post_ = post(server, key, "/v1/generate", {"text": MEETING, "type": "social_media"})
    assert post_["content"].strip() and "result" not in post_, post_


def test_patterned_pii_is_redacted_by_detectors(server, key):
    text = ("Call me on +44 20 7946 0958 or write to jane.doe@example.org. My card is "
            "4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, server 10.1.2.3.")
    result = post(server, key, "/v1/analyze", {"text": text, "type": "pii_redact"})["result"]
    found = {(e["type"], e["text"]) for e in result["entities"] if e["source"] == "pattern"}
    assert found == {("phone", "+44 20 7946 0958"), ("email", "jane.doe@example.org"),
                     ("credit_card", "4111 1111 1111 1111"), ("iban", "DE89 3704 0044 0532 0130 00"),
                     ("ip_address", "10.1.2.3")}, result
    for entity in result["entities"]:
        assert text[entity["start"]:entity["end"]] == entity["text"], entity
        assert entity["text"] not in result["redacted_text"]
    assert "[EMAIL]" in result["redacted_text"] and "[CREDIT_CARD]" in result["redacted_text"]


def test_translation_single_batch_and_unsupported_languages(server, key):
    single = post(server, key, "/v1/translate", {"text": "Good morning, thank you very much.", "target": "es"})
    assert single["source_language"] == "en" and single["target_language"] == "es"
    assert any(word in single["translated_text"].lower() for word in ("gracias", "buenos")), single
    batch = post(server, key, "/v1/translate", {"texts": ["Hello", "Thank you"], "target": "fr"})
    assert len(batch["translations"]) == 2 and all(t["translated_text"] for t in batch["translations"])
    refused = post(server, key, "/v1/translate", {"text": "Hello", "target": "tlh"}, status=400)
    assert "tlh" in refused["error"] and "es" in refused["error"], refused


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b))


def test_embeddings_are_unit_vectors_that_rank_paraphrases_first(server, key):
    texts = ["The meeting was moved to next Tuesday.",
             "We postponed the meeting until Tuesday next week.",
             "Bananas are rich in potassium."]
    answer = post(server, key, "/v1/embed", {"texts": texts})
    assert answer["dimensions"] == 384 and len(answer["embeddings"]) == 3
    for vector in answer["embeddings"]:
        assert len(vector) == 384 and math.isclose(math.sqrt(cosine(vector, vector)), 1.0, abs_tol=1e-3)
    anchor, paraphrase, unrelated = answer["embeddings"]
    assert cosine(anchor, paraphrase) > cosine(anchor, unrelated) + 0.3


def sse_events(response):
    event = None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: "):
            yield event, json.loads(line[len("data: "):])


def test_answers_stream_as_server_sent_events(server, key):
    with requests.post(server.url("/v1/summarize"), headers=auth(key), stream=True, timeout=TIMEOUT,
                       json={"text": reference(TWO_SPEAKERS), "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(response))
    deltas = [data["text"] for event, data in events if event == "delta"]
    kinds = [event for event, _ in events]
    assert len(deltas) > 3 and kinds[-1] == "done" and kinds.count("done") == 1, kinds
    assert "".join(deltas).strip() == events[-1][1]["summary"]


def test_chat_answers_from_the_stored_call_with_its_sources(server, key):
    with fixture_path(TWO_SPEAKERS).open("rb") as audio:
        made = requests.post(server.url("/v1/transcribe"), headers=auth(key),
                             files={"file": (TWO_SPEAKERS, audio)}, timeout=TIMEOUT)
    assert made.status_code == 200, made.text
    transcript_id = made.headers["x-transcript-id"]
    segments = made.json()["segments"]
    path = f"/api/v1/transcripts/{transcript_id}/chat/"
    first = post(server, key, path, {"question": "Where does Diane live now?"})
    assert "jersey" in first["answer"].lower(), first
    cited = [segments[s["segment_order"]]["text"] for s in first["sources"]]
    assert any("Diane" in text for text in cited[:2]), first["sources"]
    for source in first["sources"]:
        assert source["text"] == segments[source["segment_order"]]["text"].strip()
        assert -1.0 <= source["score"] <= 1.0
    second = post(server, key, path, {"question": "Where is Sheila originally from?",
                                      "session_id": first["session_id"]})
    assert second["session_id"] == first["session_id"]
    assert "chicago" in second["answer"].lower(), second
    assert any("Sheila" in s["text"] for s in second["sources"][:2]), second["sources"]
    notes = post(server, key, f"/api/v1/transcripts/{transcript_id}/generate/", {"type": "chapter_markers"})
    starts = [chapter["start"] for chapter in notes["result"]["chapters"]]
    assert starts == sorted(starts) and starts[0] == 0, notes


def test_bad_requests_are_refused_by_name(server, key):
    cases = [
        ({"text": "hi", "type": "horoscope"}, "/v1/analyze", 400, "sentiment"),
        ({"text": "hi", "style": "haiku"}, "/v1/summarize", 400, "bullet_points"),
        ({"text": "   "}, "/v1/summarize", 400, "empty"),
        ({"txt": "hi"}, "/v1/summarize", 400, "txt"),
        ({"texts": []}, "/v1/embed", 400, "empty"),
        ({"text": "a", "texts": ["b"], "target": "es"}, "/v1/translate", 400, "either"),
        ({"text": "x" * 200_001}, "/v1/summarize", 413, "200000"),
    ]
    for body, path, status, named in cases:
        answer = post(server, key, path, body, status=status)
        assert named in answer["error"], (body, answer)
    response = requests.post(server.url("/v1/summarize"), json={"text": "hi"}, timeout=30)
    assert response.status_code == 401, response.text
    response = requests.post(server.url("/v1/summarize"), headers=auth(key), data=b"\xff{", timeout=30)
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    missing = post(server, key, "/api/v1/transcripts/nope/chat/", {"question": "hi"}, status=404)
    assert "nope" in missing["error"]


def test_texts_longer_than_the_context_are_summarised_in_pieces(start_server):
    server = start_server("--llm-model", LLM, "--llm-context", "1024", name="text-small")
    key = server.create_key(plan="paid")["key"]
    with open(fixture_path("MANIFEST.tsv"), encoding="utf-8") as manifest:
        english = {row["reference_text"] for row in csv.DictReader(manifest, delimiter="\t")
                   if row["language"] == "en"}
    text = " ".join(sorted(english))
    # About 850 tokens: with the prompt and the answer, more than one call's 1024.
    assert len(text.split()) > 600, len(text.split())
    summary = post(server, key, "/v1/summarize", {"text": text})["summary"]
    assert summary.strip(), summary


def test_full_queue_is_503_and_a_client_that_leaves_frees_its_worker(start_server):
    server = start_server("--llm-model", LLM, "--llm-workers", "1", "--llm-queue", "1", name="text-pool")
    key = server.create_key(plan="paid", concurrency=10)["key"]
    body = {"text": reference(SONNETS), "type": "social_media"}

    def generate():
        return requests.post(server.url("/v1/generate"), headers=auth(key), json=body, timeout=TIMEOUT)

    # One running, one queued, the third refused at once.
    with ThreadPoolExecutor(3) as pool:
        running = []
        for _ in range(2):
            running.append(pool.submit(generate))
            time.sleep(0.5)
        third = generate()
        assert third.status_code == 503 and third.headers.get("retry-after"), third.text
        for future in running:
            assert future.result().status_code == 200

    # A streaming client that disconnects after its first token cancels its call: then one
    # call runs and one waits, and nothing is refused.
    host, port = server.base.removeprefix("http://").split(":")
    payload = json.dumps({**body, "stream": True}).encode()
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Authorization: Bearer {key}\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
                     + payload)
        received = b""
        while b"event: delta" not in received:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
    time.sleep(1)
    with ThreadPoolExecutor(2) as pool:
        answers = [pool.submit(generate) for _ in range(2)]
        codes = [future.result().status_code for future in answers]
    assert codes == [200, 200], codes
