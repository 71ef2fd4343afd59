"""Asynchronous jobs as a client that shows them to a person uses them (the web app): progress
while a job runs, cancelling it, its transcript exported in every format with speakers renamed,
and `GET /v1/capabilities`, which says what the server offers. A real `stt serve` with base.
"""

import io
import json
import re
import zipfile

import pytest
import requests

from stt_testing import auth, fixture_path, wait_until

LONG = "en_librivox_sonnets_001_002_106s.mp3"
TWO_SPEAKERS = "2spk_pyannote_sample.wav"
SHORT = "en_librispeech_1089-134691-0000.flac"
CANCELLED = "cancelled by its creator"
EXPORTS = {
    "txt": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt",
    "json": "application/json", "csv": "text/csv",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}


@pytest.fixture(scope="module")
def server(start_server):
    return start_server("--model", "base", name="jobs")


@pytest.fixture(scope="module")
def key(server):
    return server.create_key(plan="paid", name="jobs")["key"]


def create_job(server, key, name):
    with open(fixture_path(name), "rb") as audio:
        response = requests.post(server.url("/v1/stt/create"), headers=auth(key),
                                 files={"audio": (name, audio)}, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()["generation_id"]


def get_job(server, key, generation_id):
    response = requests.get(server.url(f"/v1/stt/{generation_id}"), headers=auth(key), timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_status(server, key, generation_id, statuses, timeout=240):
    body = wait_until(lambda: (lambda b: b if b["status"] in statuses else None)(
        get_job(server, key, generation_id)), timeout, 0.05)
    assert body, f"job {generation_id} never reached {statuses}"
    return body


def test_an_active_job_reports_its_progress(server, key):
    generation_id = create_job(server, key, LONG)
    seen = []

    def poll():
        body = get_job(server, key, generation_id)
        if body["status"] == "active":
            seen.append(body["progress"])
        else:
            assert "progress" not in body, body
        return body if body["status"] in ("completed", "failed") else None

    body = wait_until(poll, 240, 0.05)
    assert body and body["status"] == "completed", body
    assert seen, "the job was never seen active"
    assert all(0 <= value <= 1 for value in seen), seen
    assert seen == sorted(seen), f"progress went back: {seen}"
    assert any(0 < value < 1 for value in seen), f"no progress between the ends: {sorted(set(seen))}"


def test_a_cancelled_job_stops_its_worker_and_says_why(server, key):
    generation_id = create_job(server, key, LONG)
    wait_for_status(server, key, generation_id, ("active",))
    other = server.create_key(plan="paid", name="someone else")["key"]
    assert requests.delete(server.url(f"/v1/stt/{generation_id}"), headers=auth(other),
                           timeout=30).status_code == 404

    response = requests.delete(server.url(f"/v1/stt/{generation_id}"), headers=auth(key), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"generation_id": generation_id, "status": "failed", "error": CANCELLED}
    assert get_job(server, key, generation_id) == {
        "generation_id": generation_id, "status": "failed", "error": CANCELLED}

    # The worker drops the transcription at its next lease renewal, long before it would end.
    stopped = wait_until(lambda: True if f"job {generation_id}: stopped" in server.stderr() else None,
                         10, 0.2)
    assert stopped, server.stderr()

    def idle():
        metrics = requests.get(server.url("/metrics"), timeout=10).text
        return True if re.search(r'stt_worker_slots\{state="busy"\} 0\b', metrics) else None

    assert wait_until(idle, 10, 0.2), "the worker is still busy"
    again = requests.delete(server.url(f"/v1/stt/{generation_id}"), headers=auth(key), timeout=30)
    assert again.status_code == 409 and "failed already" in again.json()["error"]

    # A job after it runs to the end.
    follow_up = create_job(server, key, SHORT)
    assert wait_for_status(server, key, follow_up, ("completed", "failed"))["status"] == "completed"


def test_a_waiting_job_can_be_cancelled_and_unknown_ones_are_404(server, key):
    running = create_job(server, key, LONG)
    waiting = create_job(server, key, SHORT)  # behind `running` on the one worker
    response = requests.delete(server.url(f"/v1/stt/{waiting}"), headers=auth(key), timeout=30)
    assert response.status_code == 200, response.text
    assert get_job(server, key, waiting)["error"] == CANCELLED
    requests.delete(server.url(f"/v1/stt/{running}"), headers=auth(key), timeout=30)
    unknown = requests.delete(server.url("/v1/stt/no-such-job"), headers=auth(key), timeout=30)
    assert unknown.status_code == 404 and "no generation" in unknown.json()["error"]


@pytest.fixture(scope="module")
def two_speaker_job(server, key):
    generation_id = create_job(server, key, TWO_SPEAKERS)
    body = wait_for_status(server, key, generation_id, ("completed", "failed"))
    assert body["status"] == "completed", body
    return generation_id, body


def export(server, key, generation_id, fmt, **query):
    return requests.get(server.url(f"/v1/stt/{generation_id}/export/{fmt}"), headers=auth(key),
                        params=query, timeout=60)


def test_the_result_keeps_deepgrams_shape(two_speaker_job):
    generation_id, body = two_speaker_job
    assert body["result"]["metadata"]["request_id"] == generation_id
    words = body["result"]["results"]["channels"][0]["alternatives"][0]["words"]
    assert {word["speaker"] for word in words} == {0, 1}


def test_a_completed_job_exports_in_every_format(server, key, two_speaker_job):
    generation_id, _ = two_speaker_job
    for fmt, content_type in EXPORTS.items():
        response = export(server, key, generation_id, fmt)
        assert response.status_code == 200, (fmt, response.text)
        assert response.headers["content-type"].startswith(content_type), fmt
        assert f'filename="transcript.{fmt}"' in response.headers["content-disposition"]
    document = zipfile.ZipFile(io.BytesIO(export(server, key, generation_id, "docx").content))
    assert "Speaker 1" in document.read("word/document.xml").decode()
    assert export(server, key, generation_id, "pdf").content.startswith(b"%PDF-")
    transcript = export(server, key, generation_id, "json").json()
    assert transcript["speakers"] == ["Speaker 1", "Speaker 2"]
    assert transcript["segments"] and all(segment["words"] for segment in transcript["segments"])


def test_renamed_speakers_carry_into_the_exports(server, key, two_speaker_job):
    generation_id, _ = two_speaker_job
    names = json.dumps({"Speaker 1": "Ada Lovelace", "Speaker 2": "Grace"})
    transcript = export(server, key, generation_id, "json", speaker_names=names).json()
    assert transcript["speakers"] == ["Ada Lovelace", "Grace"]
    assert {segment["speaker"] for segment in transcript["segments"]} == {"Ada Lovelace", "Grace"}
    subtitles = export(server, key, generation_id, "srt", speaker_names=names).text
    assert "Ada Lovelace" in subtitles and "Speaker 1" not in subtitles
    # A label not named keeps its own.
    partly = export(server, key, generation_id, "vtt", speaker_names=json.dumps({"Speaker 2": "Grace"}))
    assert "Speaker 1" in partly.text and "Grace" in partly.text


@pytest.mark.parametrize("names, needle", [
    ("not json", "JSON object"),
    (json.dumps(["Ada"]), "JSON object"),
    (json.dumps({"Speaker 1": ""}), "1 to 100 characters"),
    (json.dumps({"Speaker 1": "x" * 101}), "1 to 100 characters"),
    (json.dumps({"Speaker 1": "two\nlines"}), "one line"),
])
def test_bad_speaker_names_are_400(server, key, two_speaker_job, names, needle):
    response = export(server, key, two_speaker_job[0], "srt", speaker_names=names)
    assert response.status_code == 400
    assert "speaker_names" in response.json()["error"] and needle in response.json()["error"]


def test_exports_need_a_known_format_and_a_finished_job(server, key, two_speaker_job):
    response = export(server, key, two_speaker_job[0], "mp3")
    assert response.status_code == 400 and "docx or pdf" in response.json()["error"]
    other = server.create_key(plan="paid", name="not the creator")["key"]
    assert export(server, other, two_speaker_job[0], "txt").status_code == 404
    running = create_job(server, key, LONG)
    early = export(server, key, running, "txt")
    assert early.status_code == 409 and "only a completed one exports" in early.json()["error"]
    requests.delete(server.url(f"/v1/stt/{running}"), headers=auth(key), timeout=30)


def test_capabilities_say_what_this_server_offers(server):
    response = requests.get(server.url("/v1/capabilities"), timeout=10)
    assert response.status_code == 200
    body = response.json()
    # The set-up installs every model a feature needs, and `serve` runs every kind of worker.
    for feature in ("transcription", "diarization", "streaming", "summary", "chat", "speech",
                    "noise_removal"):
        assert body[feature] is True, (feature, body)
    assert body["anonymous"] is False and body["anonymous_max_upload_mb"] is None
    assert body["max_upload_mb"] > 0 and body["max_duration_seconds"] > 0
    assert body["export_formats"] == list(EXPORTS)
    assert re.fullmatch(r"\d+\.\d+\.\d+", body["version"])
