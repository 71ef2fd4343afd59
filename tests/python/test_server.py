"""End-to-end tests of `stt serve` (shared/spec/API.md sections 1, 3, 4, 5 and 6) with the
clients people use: the two seed programs of the asynchronous API run unchanged but for the
base URL and key, the official `openai` package, and `requests` with `srt` and `webvtt-py`
parsing the subtitles.

Servers run from target/release/stt (see conftest.py). The main one serves the default model
(base, the largest installed); the others use tiny.en where the model does not matter.
"""

import ast
import io
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import openai
import pytest
import requests
import srt
import webvtt
from openai import OpenAI

from stt_testing import FIXTURES, Server, auth, fixture_path, wait_until, wav_bytes

HERE = Path(__file__).resolve().parent
ADMIN_KEY = "test-admin-" + uuid.uuid4().hex
TIMEOUT = 180  # seconds for one HTTP request that transcribes

JFK = "jfk.flac"
SHORT = "en_librispeech_1089-134691-0000.flac"  # 2 s, "HE COULD WAIT NO LONGER"
URL_CLIP = "en_librispeech_1272-141231-0002.mp3"  # 13 s
FILE_CLIP = "en_ljspeech_LJ001-0005.mp3"  # 8 s


def manifest_row(name):
    for line in (FIXTURES / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        columns = line.split("\t")
        if columns[0] == name:
            return columns
    raise AssertionError(f"{name} is not in {FIXTURES / 'MANIFEST.tsv'}")


def reference(name):
    """The reference transcript of a fixture, from MANIFEST.tsv."""
    return manifest_row(name)[3]


def reference_duration(name):
    return float(manifest_row(name)[2])


def words(text):
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def assert_transcript(hypothesis, name, at_least=0.7):
    """At least `at_least` of the reference words of fixture `name` are in `hypothesis`."""
    expected = words(reference(name))
    found = set(words(hypothesis))
    present = [word for word in expected if word in found]
    share = len(present) / len(expected)
    assert share >= at_least, (
        f"{name}: only {share:.0%} of the reference words in {hypothesis!r} "
        f"(reference {reference(name)!r})"
    )


def assert_error(response, status, *needles):
    """`response` has `status` and a JSON `{"error": "..."}` naming each of `needles`."""
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text[:500]}"
    )
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.headers
    )
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    message = body["error"]
    assert message.strip(), body
    for needle in needles:
        options = needle if isinstance(needle, tuple) else (needle,)
        assert any(option.lower() in message.lower() for option in options), (
            f"error {message!r} does not name {' or '.join(options)!r}"
        )
    return message


def upload(path, name=None):
    return (name or Path(path).name, Path(path).read_bytes())


def post_transcribe(server, key, name=SHORT, files=None, **fields):
    files = files if files is not None else {"file": upload(fixture_path(name))}
    headers = auth(key) if key else {}
    return requests.post(server.url("/v1/transcribe"), headers=headers, files=files,
                         data=fields, timeout=TIMEOUT)


def create_upload_job(server, key, name, **fields):
    return requests.post(
        server.url("/v1/stt/create"), headers=auth(key),
        files={"audio": upload(fixture_path(name))}, data=fields, timeout=TIMEOUT,
    )


def wait_for_job(server, key, generation_id, timeout=TIMEOUT):
    """Polls `GET /v1/stt/{id}` until the job ends; returns (response, body)."""
    seen = []

    def poll():
        response = requests.get(server.url(f"/v1/stt/{generation_id}"), headers=auth(key),
                                timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] in ("waiting", "active", "completed", "failed"), body
        seen.append(body["status"])
        return (response, body) if body["status"] in ("completed", "failed") else None

    ended = wait_until(poll, timeout, 0.3)
    assert ended, f"job {generation_id} did not end in {timeout} s (statuses {seen[-5:]})"
    return ended


def assert_deepgram_result(body, generation_id, fixture, model):
    """The `result` of a completed job in Deepgram's pre-recorded shape (API.md section 3)."""
    assert body["status"] == "completed", body
    result = body["result"]
    metadata = result["metadata"]
    assert metadata["request_id"] == generation_id
    assert metadata["channels"] == 1
    assert metadata["models"] == [model]
    duration = reference_duration(fixture)
    assert abs(metadata["duration"] - duration) < 0.6, (metadata["duration"], duration)
    created = datetime.fromisoformat(metadata["created"])
    assert created.tzinfo is not None, metadata["created"]
    assert abs(datetime.now(created.tzinfo) - created) < timedelta(minutes=10), created

    channel = result["results"]["channels"][0]
    assert channel["detected_language"] == "en"
    alternative = channel["alternatives"][0]
    transcript = alternative["transcript"]
    assert_transcript(transcript, fixture)
    assert 0.0 <= alternative["confidence"] <= 1.0
    found = alternative["words"]
    assert len(found) >= len(words(reference(fixture))) // 2, found
    previous_start = 0.0
    for word in found:
        assert set(word) >= {"word", "start", "end", "confidence", "punctuated_word"}, word
        assert word["word"] == word["word"].lower(), word
        assert re.fullmatch(r"[\w']+", word["word"]), word
        assert word["word"] in word["punctuated_word"].lower(), word
        assert 0.0 <= word["start"] <= word["end"] <= duration + 0.5, word
        assert word["start"] >= previous_start - 1e-6, found
        assert 0.0 <= word["confidence"] <= 1.0, word
        # Jobs label speakers by default; one voice is speaker 0.
        assert word["speaker"] == 0, word
        previous_start = word["start"]
    assert " ".join(w["punctuated_word"] for w in found).split() == transcript.split()
    return transcript


def parse_srt(text):
    cues = list(srt.parse(text))
    assert cues, f"no cues in {text!r}"
    previous_end = timedelta(0)
    for index, cue in enumerate(cues, start=1):
        assert cue.index == index, cues
        assert cue.start < cue.end, cue
        assert cue.start >= previous_end - timedelta(milliseconds=1), cues
        assert cue.content.strip(), cue
        previous_end = cue.end
    assert re.search(r"^\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d$", text, re.M), text
    return cues


def vtt_seconds(stamp):
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def parse_vtt(text):
    assert text.startswith("WEBVTT"), text[:50]
    assert re.search(r"^\d\d:\d\d:\d\d\.\d\d\d --> \d\d:\d\d:\d\d\.\d\d\d", text, re.M), text
    captions = list(webvtt.from_buffer(io.StringIO(text), strict=True))
    assert captions, f"no cues in {text!r}"
    previous_end = 0.0
    for caption in captions:
        start, end = vtt_seconds(caption.start), vtt_seconds(caption.end)
        assert start < end, caption
        assert start >= previous_end - 0.001, captions
        assert caption.text.strip(), caption
        previous_end = end
    return captions


# --- servers and keys -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(start_server):
    """The default model (base), private URLs allowed for the loopback fixture server, key
    admin over HTTP on, and one alias."""
    return start_server("--allow-private-urls", "--admin-key", ADMIN_KEY,
                        "--alias", "large-v3=tiny.en", name="main")


@pytest.fixture(scope="module")
def limited_server(start_server):
    """Strict models, 1 MB uploads, results kept 3 s, private URLs refused."""
    return start_server("--model", "tiny.en", "--strict-models", "--max-upload-mb", "1",
                        "--result-ttl", "3", name="limited")


@pytest.fixture(scope="module")
def anonymous_server(start_server):
    return start_server("--model", "tiny.en", "--anonymous", "--anonymous-daily", "1",
                        name="anonymous")


@pytest.fixture(scope="module")
def key(server):
    return server.create_key(plan="paid", name="tests")["key"]


@pytest.fixture(scope="module")
def client(server, key):
    return OpenAI(base_url=f"{server.base}/v1", api_key=key, max_retries=0, timeout=TIMEOUT)


# --- discovery and health (section 5) -------------------------------------------------------


def test_health_models_and_languages_need_no_key(server):
    health = requests.get(server.url("/health"), timeout=10)
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] == "ok"
    assert body["gpu_available"] is False
    assert body["gpu_name"] is None and body["gpu_memory_mb"] is None
    # The default device is auto; this machine's ONNX Runtime has no CUDA, so the CPU.
    assert body["execution_provider"] == "cpu" and body["device"] == "cpu"
    for name in ("gpu_available", "gpu_name", "gpu_memory_mb"):
        assert name in body, body

    models = requests.get(server.url("/v1/models"), timeout=10)
    assert models.status_code == 200, models.text
    listed = {model["id"]: model for model in models.json()["models"]}
    assert {"base", "tiny.en"} <= set(listed), listed
    for model in listed.values():
        assert set(model) >= {"id", "name", "languages", "speed"}, model
        assert isinstance(model["name"], str) and model["name"], model
        assert model["speed"] in ("very_fast", "fast", "standard"), model
    assert listed["base"]["languages"] == 99
    assert listed["tiny.en"]["languages"] == 1

    languages = requests.get(server.url("/v1/languages"), timeout=10)
    assert languages.status_code == 200, languages.text
    entries = languages.json()["languages"]
    assert len(entries) == 99, len(entries)
    codes = {entry["code"]: entry["name"] for entry in entries}
    assert codes["en"] == "english" and codes["de"] == "german" and codes["ja"] == "japanese"
    assert all(set(entry) == {"code", "name"} for entry in entries), entries[:3]

    english_only = requests.get(server.url("/v1/languages"), params={"model": "tiny.en"},
                                timeout=10)
    assert english_only.status_code == 200, english_only.text
    assert english_only.json()["languages"] == [{"code": "en", "name": "english"}]


# --- the seed programs (section 3) ----------------------------------------------------------


def test_seed_programs_run_unchanged(server, fixture_http, tmp_path):
    """Both programs of seed 000 (URL and file upload), with only base URL, key and sample
    changed, print the transcript. They poll every 10 s, so they run side by side."""
    key = server.create_key(plan="paid", name="seed")["key"]
    shutil.copy(fixture_path(FILE_CLIP), tmp_path / "stt-sample.mp3")
    env = dict(os.environ, STT_BASE_URL=f"{server.base}/v1", STT_API_KEY=key,
               STT_SAMPLE_URL=f"{fixture_http}/{URL_CLIP}")
    programs = {
        "seed_aimlapi_url.py": URL_CLIP,
        "seed_aimlapi_file.py": FILE_CLIP,
    }
    running = {
        script: subprocess.Popen([sys.executable, str(HERE / script)], cwd=tmp_path, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for script in programs
    }
    for script, process in running.items():
        try:
            stdout, stderr = process.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            raise AssertionError(f"{script} did not finish: {stdout}\n{stderr}")
        assert process.returncode == 0, f"{script} failed:\n{stdout}\n{stderr}"
        lines = stdout.splitlines()
        created = ast.literal_eval(lines[0])
        assert set(created) == {"generation_id"}, lines[0]
        uuid.UUID(created["generation_id"])
        match = re.search(r"Processing complete:(?:/n)?\s*(.*)", stdout, re.S)
        assert match, f"{script} printed no transcript:\n{stdout}\n{stderr}"
        assert_transcript(match.group(1), programs[script])


# --- OpenAI-compatible surface (section 4) --------------------------------------------------


def test_openai_json_names_the_model(client):
    with fixture_path(JFK).open("rb") as audio:
        raw = client.audio.transcriptions.with_raw_response.create(model="whisper-1",
                                                                   file=audio)
    assert raw.headers.get("x-model") == "base", dict(raw.headers)
    transcription = raw.parse()
    assert isinstance(transcription, openai.types.audio.Transcription), transcription
    assert_transcript(transcription.text, JFK, at_least=0.9)


@pytest.mark.parametrize("response_format", ["text", "srt", "vtt"])
def test_openai_text_and_subtitles(client, response_format):
    with fixture_path(JFK).open("rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio,
                                                    response_format=response_format)
    assert isinstance(result, str), type(result)
    if response_format == "text":
        assert_transcript(result, JFK, at_least=0.9)
        assert not re.search(r"-->|WEBVTT|^\d+$", result, re.M), result
    elif response_format == "srt":
        cues = parse_srt(result)
        assert_transcript(" ".join(cue.content for cue in cues), JFK, at_least=0.9)
    else:
        captions = parse_vtt(result)
        assert_transcript(" ".join(caption.text for caption in captions), JFK, at_least=0.9)


def test_openai_verbose_json_with_words_and_segments(client):
    with fixture_path(JFK).open("rb") as audio:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert isinstance(result, openai.types.audio.TranscriptionVerbose), type(result)
    assert result.language == "english"
    assert abs(result.duration - 11.0) < 0.2, result.duration
    assert_transcript(result.text, JFK, at_least=0.9)
    body = result.model_dump()
    assert body["segments"], body
    previous_end = 0.0
    for index, segment in enumerate(body["segments"]):
        for field in ("id", "seek", "start", "end", "text", "tokens", "temperature",
                      "avg_logprob", "compression_ratio", "no_speech_prob"):
            assert field in segment and segment[field] is not None, (field, segment)
        assert segment["id"] == index
        assert isinstance(segment["seek"], int) and segment["seek"] >= 0
        assert previous_end - 1e-6 <= segment["start"] < segment["end"] <= 11.5, segment
        assert segment["tokens"] and all(isinstance(t, int) for t in segment["tokens"])
        assert 0.0 <= segment["temperature"] <= 1.0
        assert segment["avg_logprob"] <= 0.0
        assert segment["compression_ratio"] > 0.0
        assert 0.0 <= segment["no_speech_prob"] <= 1.0
        previous_end = segment["end"]
    assert result.words, "verbose_json without words despite timestamp_granularities=word"
    assert len(result.words) >= 15, result.words
    previous_start = 0.0
    for word in result.words:
        assert word.word.strip() == word.word and word.word, word
        assert previous_start - 1e-6 <= word.start <= word.end <= 11.5, word
        previous_start = word.start
    assert_transcript(" ".join(word.word for word in result.words), JFK, at_least=0.9)


def test_openai_verbose_json_without_word_granularity_has_no_words(client):
    with fixture_path(SHORT).open("rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio,
                                                    response_format="verbose_json")
    assert not result.words, result.words
    assert result.segments and result.segments[0].tokens, result
    assert_transcript(result.text, SHORT)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # openai marks translations so
@pytest.mark.parametrize("name, key_words", [
    ("de_picovoice_test_de.wav", ["portal", "room", "hall"]),
    ("fr_picovoice_test_fr.wav", ["consulate", "general"]),
])
def test_openai_translation_is_english(client, name, key_words):
    with fixture_path(name).open("rb") as audio:
        result = client.audio.translations.create(model="whisper-1", file=audio)
    text = result.text
    assert text.strip() and text.isascii(), text
    found = words(text)
    for key_word in key_words:
        assert any(word.startswith(key_word) for word in found), f"{key_word!r} not in {text!r}"


def test_openai_errors_are_client_exceptions(server, client):
    with fixture_path(SHORT).open("rb") as audio:
        with pytest.raises(openai.BadRequestError) as error:
            client.audio.transcriptions.create(model="gpt-4o", file=audio)
    # openai prints OpenAI's own `{"error": {"message": ...}}`; ours is `{"error": "..."}`
    # (API.md section 6), which the exception keeps as its body.
    assert error.value.status_code == 400
    assert "gpt-4o" in str(error.value.body), error.value.body
    stranger = OpenAI(base_url=f"{server.base}/v1", api_key="stt_not_a_key", max_retries=0)
    with fixture_path(SHORT).open("rb") as audio:
        with pytest.raises(openai.AuthenticationError):
            stranger.audio.transcriptions.create(model="whisper-1", file=audio)


# --- synchronous transcription (section 1) --------------------------------------------------


def test_transcribe_json_shape(server, key):
    response = post_transcribe(server, key, JFK, model="whisper-large", language="en",
                               diarize="true", response_format="json")
    assert response.status_code == 200, response.text
    assert response.headers["x-model"] == "base"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_transcript(body["text"], JFK, at_least=0.9)
    assert body["language"] == "en"
    assert abs(body["duration"] - 11.0) < 0.2, body["duration"]
    assert body["speakers"] == ["Speaker 1"], body
    assert body["segments"], body
    previous_end = 0.0
    for segment in body["segments"]:
        assert set(segment) >= {"start", "end", "text", "confidence", "words"}, segment
        assert previous_end - 1e-6 <= segment["start"] < segment["end"] <= 11.5, segment
        assert segment["text"].strip() == segment["text"] and segment["text"], segment
        assert 0.0 <= segment["confidence"] <= 1.0, segment
        assert segment["speaker"] == "Speaker 1", segment
        assert segment["words"], segment
        for word in segment["words"]:
            assert set(word) >= {"word", "start", "end"}, word
            assert segment["start"] - 0.05 <= word["start"] <= word["end"] <= segment["end"] + 0.05
            assert word["word"] in segment["text"], (word, segment["text"])
        previous_end = segment["end"]
    joined = " ".join(segment["text"] for segment in body["segments"])
    assert words(joined) == words(body["text"]), (joined, body["text"])


@pytest.mark.parametrize("response_format, content_type", [
    ("txt", "text/plain"),
    ("srt", "application/x-subrip"),
    ("vtt", "text/vtt"),
])
def test_transcribe_text_and_subtitles(server, key, response_format, content_type):
    response = post_transcribe(server, key, JFK, language="auto", diarize="false",
                               response_format=response_format)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(content_type), response.headers
    assert response.headers["x-model"] == "base"
    text = response.text
    if response_format == "txt":
        assert_transcript(text, JFK, at_least=0.9)
        assert "-->" not in text and not text.lstrip().startswith("{"), text
    elif response_format == "srt":
        cues = parse_srt(text)
        assert cues[-1].end.total_seconds() <= 11.5
        assert_transcript(" ".join(cue.content for cue in cues), JFK, at_least=0.9)
    else:
        captions = parse_vtt(text)
        assert vtt_seconds(captions[-1].end) <= 11.5
        assert_transcript(" ".join(caption.text for caption in captions), JFK, at_least=0.9)


TWO_SPEAKERS = "2spk_pyannote_sample.wav"
STEREO = "2spk_faster_whisper_stereo_diarization.wav"


def test_speakers_are_labelled_by_default(server, key):
    """Diarization is on unless asked off (API.md section 1): the telephone call of two women
    gets two speakers, counted without being told, in order of appearance, on segments and
    words; `speakers=1` and `diarize=false` are honoured."""
    response = post_transcribe(server, key, TWO_SPEAKERS, model="base", beam_size="1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["speakers"] == ["Speaker 1", "Speaker 2"], body["speakers"]
    segments = body["segments"]
    assert segments[0]["speaker"] == "Speaker 1", segments[0]
    for segment in segments:
        assert segment["speaker"] in body["speakers"], segment
        assert all(word["speaker"] == segment["speaker"] for word in segment["words"]), segment
    # Sheila introduces herself; Diane (who spoke first) says where she is.
    sheila = next(s for s in segments if "Sheila" in s["text"] or "Texas" in s["text"])
    assert sheila["speaker"] == "Speaker 2", segments
    diane = next(s for s in segments if "Diane" in s["text"])
    assert diane["speaker"] == "Speaker 1", segments

    told = post_transcribe(server, key, TWO_SPEAKERS, model="base", beam_size="1", speakers="1")
    assert told.status_code == 200, told.text
    assert told.json()["speakers"] == ["Speaker 1"], told.json()["speakers"]
    off = post_transcribe(server, key, SHORT, diarize="false")
    assert off.status_code == 200, off.text
    assert off.json()["speakers"] == [] and off.json()["segments"][0]["speaker"] is None, off.json()


def test_subtitles_name_speakers(server, key):
    srt_text = post_transcribe(server, key, SHORT, response_format="srt").text
    assert all(cue.content.startswith("Speaker 1: ") for cue in parse_srt(srt_text)), srt_text
    vtt_text = post_transcribe(server, key, SHORT, response_format="vtt").text
    parse_vtt(vtt_text)
    assert "<v Speaker 1>" in vtt_text, vtt_text


def test_speakers_by_channel(server, key):
    """A stereo recording with one speaker per channel: labelled by channel on request, and
    asked of mono audio it is a clear 400."""
    response = post_transcribe(server, key, STEREO, model="base", diarize_by_channel="true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["speakers"] == ["Speaker 1", "Speaker 2"], body
    said = {s["speaker"]: s["text"].lower() for s in body["segments"]}
    assert "wizard" in said["Speaker 1"] and "horizon" in said["Speaker 2"], body["segments"]
    mono = post_transcribe(server, key, SHORT, diarize_by_channel="true")
    assert_error(mono, 400, "channel")


def test_containers_decode(server, key):
    """A compressed container the built-in decoders read and one left to ffmpeg's side."""
    for name in ("en_librivox_sonnet001_first9s.m4a", "en_librivox_sonnet001_first9s.webm"):
        response = post_transcribe(server, key, name, model="tiny.en", response_format="txt")
        assert response.status_code == 200, (name, response.text)
        assert_transcript(response.text, name)


def test_damaged_last_frame_degrades_gracefully(server, key):
    name = "en_librivox_sonnet001_first9s_badlastframe.flac"
    response = post_transcribe(server, key, name, model="tiny.en")
    assert response.status_code == 200, response.text
    assert_transcript(response.json()["text"], name)


def test_model_names_resolve(server, key):
    """Uninstalled Whisper names run the default and say so; aliases map; others are 400."""
    turbo = post_transcribe(server, key, model="large-v3-turbo")
    assert turbo.status_code == 200, turbo.text
    assert turbo.headers["x-model"] == "base"
    assert turbo.json()["model"] == "base"
    assert_transcript(turbo.json()["text"], SHORT)

    aliased = post_transcribe(server, key, model="large-v3", response_format="txt")
    assert aliased.status_code == 200, aliased.text
    assert aliased.headers["x-model"] == "tiny.en"
    assert_transcript(aliased.text, SHORT)

    for name in ("gpt-4o", "nova-2"):
        refused = post_transcribe(server, key, model=name)
        assert_error(refused, 400, name, "whisper")


def test_strict_models_refuse_uninstalled_whisper(limited_server):
    key = limited_server.create_key(plan="paid")["key"]
    refused = post_transcribe(limited_server, key, model="medium")
    assert_error(refused, 400, "medium", "base", "tiny.en")
    job = requests.post(limited_server.url("/v1/stt/create"), headers=auth(key),
                        files={"audio": upload(fixture_path(SHORT))},
                        data={"model": "#g1_whisper-large"}, timeout=TIMEOUT)
    assert_error(job, 400, "whisper-large", "tiny.en")
    installed = post_transcribe(limited_server, key, model="tiny.en", response_format="txt")
    assert installed.status_code == 200, installed.text
    assert installed.headers["x-model"] == "tiny.en"


# --- asynchronous jobs (section 3) ----------------------------------------------------------


def test_async_url_job(server, key, fixture_http):
    response = requests.post(
        server.url("/v1/stt/create"), headers=auth(key),
        json={"model": "#g1_whisper-large", "url": f"{fixture_http}/{JFK}"}, timeout=60,
    )
    assert response.status_code in (200, 201), response.text
    generation_id = response.json()["generation_id"]
    uuid.UUID(generation_id)
    done, body = wait_for_job(server, key, generation_id)
    assert done.headers["x-model"] == "base"
    assert_deepgram_result(body, generation_id, JFK, "base")


def test_async_upload_job(server, key):
    response = create_upload_job(server, key, FILE_CLIP, model="tiny.en")
    assert response.status_code in (200, 201), response.text
    generation_id = response.json()["generation_id"]
    done, body = wait_for_job(server, key, generation_id)
    assert done.headers["x-model"] == "tiny.en"
    assert_deepgram_result(body, generation_id, FILE_CLIP, "tiny.en")


def test_async_failures_are_reported(server, key, fixture_http):
    """A URL that answers 404 and an upload that is not audio end as failed jobs (or are
    refused at once), with the reason."""
    missing = requests.post(server.url("/v1/stt/create"), headers=auth(key),
                            json={"url": f"{fixture_http}/no-such-file.mp3"}, timeout=60)
    assert missing.status_code in (200, 201), missing.text
    _, body = wait_for_job(server, key, missing.json()["generation_id"], timeout=60)
    assert body["status"] == "failed", body
    assert "404" in body["error"], body

    noise = requests.post(server.url("/v1/stt/create"), headers=auth(key),
                          files={"audio": ("noise.mp3", os.urandom(30000), "audio/mpeg")},
                          timeout=60)
    if noise.status_code == 400:
        assert_error(noise, 400, ("audio", "format"))
    else:
        assert noise.status_code in (200, 201), noise.text
        _, body = wait_for_job(server, key, noise.json()["generation_id"], timeout=60)
        assert body["status"] == "failed", body
        assert re.search(r"audio|format", body["error"], re.I), body


def test_jobs_belong_to_their_creator(server, key):
    response = create_upload_job(server, key, SHORT, model="tiny.en")
    assert response.status_code in (200, 201), response.text
    generation_id = response.json()["generation_id"]
    wait_for_job(server, key, generation_id)

    other = server.create_key(plan="paid", name="someone else")["key"]
    foreign = requests.get(server.url(f"/v1/stt/{generation_id}"), headers=auth(other),
                           timeout=10)
    assert_error(foreign, 404)
    assert set(foreign.json()) == {"error"}, foreign.text
    assert "transcript" not in foreign.text and "completed" not in foreign.text
    unknown = requests.get(server.url(f"/v1/stt/{uuid.uuid4()}"), headers=auth(key), timeout=10)
    assert_error(unknown, 404)
    garbage = requests.get(server.url("/v1/stt/not-a-uuid%20at-all"), headers=auth(key),
                           timeout=10)
    assert_error(garbage, 404)
    anonymous = requests.get(server.url(f"/v1/stt/{generation_id}"), timeout=10)
    assert_error(anonymous, 401)


def test_results_expire_after_their_lifetime(limited_server):
    """With --result-ttl 3 a completed job answers 404 a few seconds after its creation.

    Transcribing can take longer than the lifetime on a busy machine, so the job may never be
    seen completed; the key's one-minute quota being spent afterwards shows that it was."""
    key = limited_server.create_key(plan="free", minutes=1)["key"]
    created_at = time.monotonic()
    response = create_upload_job(limited_server, key, SHORT)
    assert response.status_code in (200, 201), response.text
    generation_id = response.json()["generation_id"]
    statuses = []

    def gone():
        answer = requests.get(limited_server.url(f"/v1/stt/{generation_id}"),
                              headers=auth(key), timeout=10)
        if answer.status_code == 404:
            return answer
        assert answer.status_code == 200, answer.text
        statuses.append((round(time.monotonic() - created_at, 2), answer.json()["status"]))
        return None

    expired = wait_until(gone, 60, 0.1)
    elapsed = time.monotonic() - created_at
    assert expired is not None, f"still there after 60 s: {statuses[-3:]}"
    assert_error(expired, 404, "kept")
    assert "failed" not in {status for _, status in statuses}, statuses
    assert elapsed >= 2.0, (elapsed, statuses)
    again = requests.get(limited_server.url(f"/v1/stt/{generation_id}"), headers=auth(key),
                         timeout=10)
    assert again.status_code == 404
    spent = post_transcribe(limited_server, key)
    assert_error(spent, 402, ("credit", "minutes"))


# --- bad input (section 6) ------------------------------------------------------------------


def small_file():
    return {"file": upload(fixture_path(FILE_CLIP))}


BAD_FORMS = {
    "missing file": (lambda: {"model": (None, "whisper-1")}, {}, ("missing", "file")),
    "not multipart": (lambda: {}, {"model": "whisper-1"}, "multipart"),
    "empty file": (lambda: {"file": ("empty.wav", b"")}, {}, "empty"),
    "random bytes": (lambda: {"file": ("noise.mp3", os.urandom(50000))}, {},
                     ("unsupported", "corrupt", "audio")),
    "truncated header": (lambda: {"file": ("cut.flac", fixture_path(JFK).read_bytes()[:300])},
                         {}, ("corrupt", "truncated", "audio")),
    "text file": (lambda: {"file": ("notes.mp3", b"hello, this is not audio\n" * 200)}, {},
                  ("unsupported", "corrupt", "audio")),
    "beam_size abc": (small_file, {"beam_size": "abc"}, "beam_size"),
    "beam_size zero": (small_file, {"beam_size": "0"}, "beam_size"),
    "temperature hot": (small_file, {"temperature": "hot"}, "temperature"),
    "temperature 7": (small_file, {"temperature": "7"}, "temperature"),
    "diarize maybe": (small_file, {"diarize": "maybe"}, "diarize"),
    "speakers -1": (small_file, {"speakers": "-1"}, "speakers"),
    "speakers 1000": (small_file, {"speakers": "1000"}, "speakers"),
    "diarize_by_channel maybe": (small_file, {"diarize_by_channel": "maybe"}, "diarize_by_channel"),
    "word_timestamps x": (small_file, {"word_timestamps": "x"}, "word_timestamps"),
    "task summarize": (small_file, {"task": "summarize"}, "task"),
    "response_format docx": (small_file, {"response_format": "docx"}, "response_format"),
    "language klingon": (small_file, {"language": "klingon"}, "language"),
    "model gpt-4o": (small_file, {"model": "gpt-4o"}, "gpt-4o"),
}


@pytest.mark.parametrize("case", list(BAD_FORMS))
def test_bad_transcribe_requests_are_400(server, key, case):
    files, fields, needle = BAD_FORMS[case]
    response = post_transcribe(server, key, files=files(), **fields)
    assert_error(response, 400, needle)


def test_bad_openai_requests_are_400(server, key):
    url = server.url("/v1/audio/transcriptions")
    cases = [
        ({"model": (None, "whisper-1")}, {}, ("missing", "file")),
        (small_file(), {"model": "whisper-1", "response_format": "xml"}, "response_format"),
        (small_file(), {"model": "whisper-1", "temperature": "hot"}, "temperature"),
        (small_file(), {"model": "whisper-1", "response_format": "verbose_json",
                        "timestamp_granularities[]": "sentence"}, "timestamp_granularities"),
    ]
    for files, fields, needle in cases:
        response = requests.post(url, headers=auth(key), files=files, data=fields,
                                 timeout=TIMEOUT)
        assert_error(response, 400, needle)
    not_multipart = requests.post(url, headers=auth(key), json={"model": "whisper-1"},
                                  timeout=30)
    assert_error(not_multipart, 400, "multipart")


def test_bad_job_requests_are_400(server, key):
    url = server.url("/v1/stt/create")
    headers = {**auth(key), "Content-Type": "application/json"}
    for body, needle in [
        ('{"model": "#g1_whisper-large", "url": ', "json"),
        ("not json at all", "json"),
        ('["http://example.com/a.mp3"]', "object"),
        ('{"model": "#g1_whisper-large"}', "url"),
        ('{"url": "ftp://example.com/a.mp3"}', "http"),
        ('{"url": "not a url"}', "url"),
        ('{"url": "http://example.com/a.mp3", "model": "gpt-4o"}', "gpt-4o"),
        ('{"url": "http://example.com/a.mp3", "beam_size": "abc"}', "beam_size"),
    ]:
        response = requests.post(url, headers=headers, data=body, timeout=30)
        assert_error(response, 400, needle)
    no_audio = requests.post(url, headers=auth(key), files={"model": (None, "whisper-1")},
                             timeout=30)
    assert_error(no_audio, 400, ("missing", "audio"))


def test_malformed_bodies_are_4xx_with_reasons(server, key):
    url = server.url("/v1/transcribe")
    headers = auth(key)
    tiny = ("short.wav", wav_bytes([0] * 1600))
    cases = [
        ("no samples", dict(files={"file": ("none.wav", wav_bytes([]))}), ("no audio", "empty",
                                                                           "no samples")),
        ("two files", dict(files=[("file", tiny), ("file", tiny)]), "more than one"),
        ("prompt over 64 KB", dict(files={"file": tiny}, data={"prompt": "x" * 70000}),
         "prompt"),
        ("100 fields", dict(files=[("file", tiny)] + [(f"f{i}", (None, "1")) for i in range(100)]),
         "fields"),
        ("field not UTF-8", dict(files={"file": tiny, "language": (None, b"\xff\xfe")}),
         ("utf-8", "language")),
        ("no boundary", dict(headers={**headers, "Content-Type": "multipart/form-data"},
                             data=b"garbage"), ("multipart", "boundary")),
        ("cut multipart", dict(headers={**headers,
                                        "Content-Type": "multipart/form-data; boundary=XYZ"},
                               data=b'--XYZ\r\nContent-Disposition: form-data; name="file"; '
                                    b'filename="a.wav"\r\n\r\nabc'), "multipart"),
    ]
    for name, request, needle in cases:
        request.setdefault("headers", headers)
        response = requests.post(url, timeout=60, **request)
        assert_error(response, 400, needle)
    bad_auth = requests.post(url, headers={"Authorization": "Bearer \xe9".encode("latin-1")},
                             files={"file": tiny}, timeout=30)
    assert_error(bad_auth, 401, "authorization")
    for body in ({"url": 5}, {"url": ["http://example.com/a.mp3"]}):
        job = requests.post(server.url("/v1/stt/create"), headers=headers, json=body,
                            timeout=30)
        assert_error(job, 400, "url")
    unknown = requests.get(server.url("/v1/no-such-endpoint"), timeout=10)
    assert_error(unknown, 404)


def test_silence_is_an_empty_transcript(server, key):
    response = post_transcribe(server, key, files={"file": ("quiet.wav", wav_bytes([0] * 48000))},
                               model="tiny.en")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "" and body["segments"] == [], body
    assert abs(body["duration"] - 3.0) < 0.01


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:1/x.mp3",
    "http://169.254.169.254/",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost/sample.mp3",
    "http://10.0.0.1/sample.mp3",
    "http://192.168.1.1/sample.mp3",
    "http://[::1]/sample.mp3",
    "http://0.0.0.0/sample.mp3",
    "http://[64:ff9b::7f00:1]/sample.mp3",  # NAT64 of 127.0.0.1
    "http://[2002:7f00:1::]/sample.mp3",  # 6to4 of 127.0.0.1
    "http://[fec0::1]/sample.mp3",  # site-local
    "http://198.18.0.1/sample.mp3",  # benchmarking
    "http://192.0.0.170/sample.mp3",  # IETF protocol assignments
    "http://240.0.0.1/sample.mp3",  # reserved
])
def test_private_urls_are_refused(limited_server, url):
    key = limited_server.create_key(plan="paid")["key"]
    response = requests.post(limited_server.url("/v1/stt/create"), headers=auth(key),
                             json={"model": "#g1_whisper-large", "url": url}, timeout=30)
    assert_error(response, 400, ("private", "not allowed"))


def test_private_url_of_a_live_server_is_refused(limited_server, fixture_http):
    """The loopback fixture server really answers, and still is not fetched."""
    key = limited_server.create_key(plan="paid")["key"]
    assert requests.get(f"{fixture_http}/{SHORT}", timeout=10).status_code == 200
    response = requests.post(limited_server.url("/v1/stt/create"), headers=auth(key),
                             json={"url": f"{fixture_http}/{SHORT}"}, timeout=30)
    assert_error(response, 400, ("private", "not allowed"))


def test_oversize_uploads_are_413(limited_server):
    key = limited_server.create_key(plan="paid")["key"]
    headers = auth(key)
    for size in (3 * 1024 * 1024, 1536 * 1024):  # refused by length, and while streaming
        body = os.urandom(size)
        response = requests.post(limited_server.url("/v1/transcribe"), headers=headers,
                                 files={"file": ("big.wav", body)}, timeout=60)
        assert_error(response, 413, ("too large", "limit"))
        assert "1 MB" in response.json()["error"], response.text
        job = requests.post(limited_server.url("/v1/stt/create"), headers=headers,
                            files={"audio": ("big.wav", body)}, timeout=60)
        assert_error(job, 413, ("too large", "limit"))


def test_keys_are_required_and_checked(server, key):
    missing = post_transcribe(server, None)
    assert_error(missing, 401, "key")
    unknown = post_transcribe(server, "stt_" + "0" * 48)
    assert_error(unknown, 401, ("invalid", "key"))
    wrong_scheme = requests.post(server.url("/v1/transcribe"),
                                 headers={"Authorization": f"Basic {key}"},
                                 files={"file": upload(fixture_path(SHORT))}, timeout=30)
    assert_error(wrong_scheme, 401, "bearer")
    job = requests.post(server.url("/v1/stt/create"), json={"url": "http://example.com/a.mp3"},
                        timeout=30)
    assert_error(job, 401, "key")

    revoked = server.create_key(plan="paid", name="to revoke")
    ok = post_transcribe(server, revoked["key"], model="tiny.en", response_format="txt")
    assert ok.status_code == 200, ok.text
    server.revoke_key(revoked["id"])
    refused = post_transcribe(server, revoked["key"], model="tiny.en")
    assert_error(refused, 401, "revoked")


def test_spent_quota_is_402(server):
    key = server.create_key(plan="free", minutes=1, name="one minute")["key"]
    first = post_transcribe(server, key, JFK, model="tiny.en", response_format="txt")
    assert first.status_code == 200, first.text
    assert_transcript(first.text, JFK)
    second = post_transcribe(server, key, JFK, model="tiny.en")
    assert_error(second, 402, ("credit", "quota", "minutes"))
    job = create_upload_job(server, key, SHORT)
    assert_error(job, 402, ("credit", "quota", "minutes"))


def test_audio_longer_than_the_remaining_quota_is_402(server):
    """A 106 s file needs 2 minutes; a key with 1 minute left is refused, not charged."""
    key = server.create_key(plan="free", minutes=1, name="too long")["key"]
    response = post_transcribe(server, key, "en_librivox_sonnets_001_002_106s.mp3",
                               model="tiny.en")
    assert_error(response, 402, ("credit", "minutes"))
    still = post_transcribe(server, key, SHORT, model="tiny.en", response_format="txt")
    assert still.status_code == 200, still.text


def test_concurrency_limit_is_429(server):
    key = server.create_key(plan="paid", concurrency=1, name="one at a time")["key"]
    job = create_upload_job(server, key, JFK)
    assert job.status_code in (200, 201), job.text
    busy = post_transcribe(server, key, SHORT, model="tiny.en")
    assert_error(busy, 429, ("at once", "concurren", "limit"))
    assert int(busy.headers["retry-after"]) > 0
    wait_for_job(server, key, job.json()["generation_id"])
    free_again = post_transcribe(server, key, SHORT, model="tiny.en", response_format="txt")
    assert free_again.status_code == 200, free_again.text


def test_anonymous_daily_limit_is_429(anonymous_server):
    first = post_transcribe(anonymous_server, None, response_format="txt")
    assert first.status_code == 200, first.text
    assert_transcript(first.text, SHORT)
    second = post_transcribe(anonymous_server, None)
    assert_error(second, 429, ("anonymous", "limit"))
    retry_after = int(second.headers["retry-after"])
    assert 0 < retry_after <= 24 * 3600, retry_after
    key = anonymous_server.create_key(plan="paid")["key"]
    keyed = post_transcribe(anonymous_server, key, response_format="txt")
    assert keyed.status_code == 200, keyed.text


# --- key administration over HTTP (section 6) -----------------------------------------------


def test_key_admin_over_http(server, key):
    keys_url = server.url("/v1/keys")
    admin = auth(ADMIN_KEY)
    for headers in ({}, auth("wrong-admin-key"), auth(key)):
        assert_error(requests.get(keys_url, headers=headers, timeout=10), 401)
        assert_error(requests.post(keys_url, headers=headers, json={"name": "x"}, timeout=10),
                     401)

    created = requests.post(keys_url, headers=admin,
                            json={"name": "over http", "plan": "paid"}, timeout=10)
    assert created.status_code == 201, created.text
    new = created.json()
    raw, key_id = new["key"], new["id"]
    assert raw and key_id and raw != key_id
    assert new["name"] == "over http" and new["plan"] == "paid" and new["revoked"] is False

    used = post_transcribe(server, raw, model="tiny.en", response_format="txt")
    assert used.status_code == 200, used.text
    assert_transcript(used.text, SHORT)

    listed = requests.get(keys_url, headers=admin, timeout=10)
    assert listed.status_code == 200, listed.text
    assert raw not in listed.text
    entries = {entry["id"]: entry for entry in listed.json()["keys"]}
    assert key_id in entries, entries
    assert "key" not in entries[key_id] and "hash" not in entries[key_id], entries[key_id]
    assert entries[key_id]["revoked"] is False

    bad = requests.post(keys_url, headers={**admin, "Content-Type": "application/json"},
                        data="{not json", timeout=10)
    assert_error(bad, 400, "json")

    revoked = requests.delete(f"{keys_url}/{key_id}", headers=admin, timeout=10)
    assert revoked.status_code == 200, revoked.text
    refused = post_transcribe(server, raw, model="tiny.en")
    assert_error(refused, 401, "revoked")
    listed = requests.get(keys_url, headers=admin, timeout=10).json()["keys"]
    assert [entry["revoked"] for entry in listed if entry["id"] == key_id] == [True]
    assert_error(requests.delete(f"{keys_url}/key_nope", headers=admin, timeout=10), 404)
    assert_error(requests.delete(f"{keys_url}/{key_id}", headers=auth("wrong"), timeout=10),
                 401)


def test_key_admin_is_off_without_admin_key(limited_server):
    response = requests.get(limited_server.url("/v1/keys"), headers=auth("anything"),
                            timeout=10)
    assert response.status_code in (401, 403), response.text
    assert response.json()["error"]


# --- after everything ----------------------------------------------------------------------


def test_servers_survived_everything(server, limited_server, anonymous_server, key):
    for each in (server, limited_server, anonymous_server):
        assert each.alive(), f"{each.flags} exited:\n{each.stderr()}"
        health = requests.get(each.url("/health"), timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    assert "panicked" not in server.stderr(10**7)
    response = post_transcribe(server, key, model="tiny.en", response_format="txt")
    assert response.status_code == 200, response.text
    assert_transcript(response.text, SHORT)


def test_errors_do_not_reveal_server_paths(server, key):
    """A client sent bytes, not a path: an error about them should not show where the server
    keeps its files."""
    for files in ({"file": ("noise.mp3", os.urandom(20000))},
                  {"file": ("cut.flac", fixture_path(JFK).read_bytes()[:300])}):
        response = post_transcribe(server, key, files=files)
        message = assert_error(response, 400)
        assert str(server.data_dir) not in message, message


def test_wrong_method_is_a_json_error(server, key):
    """API.md section 6: errors are JSON `{"error": ...}`, this one included."""
    response = requests.get(server.url("/v1/transcribe"), headers=auth(key), timeout=10)
    assert_error(response, 405, ("method", "post"))


@pytest.fixture
def throwaway_server(start_server):
    """A server of its own for input that might bring it down."""
    return start_server("--model", "tiny.en", name="throwaway")


def test_huge_beam_size_is_refused_not_a_crash(throwaway_server):
    """`beam_size` is a whole number, but not every whole number can be honoured: a huge one
    must be refused (or bounded), never take the process down."""
    key = throwaway_server.create_key(plan="paid")["key"]
    try:
        response = post_transcribe(throwaway_server, key, beam_size="1000000000000",
                                   response_format="txt")
    except requests.ConnectionError as error:
        time.sleep(1)
        raise AssertionError(
            f"the server dropped the connection (alive: {throwaway_server.alive()}): {error}"
        )
    if response.status_code != 200:
        assert_error(response, 400, "beam_size")
    assert throwaway_server.alive()
    assert requests.get(throwaway_server.url("/health"), timeout=10).status_code == 200


def test_huge_beam_size_job_fails_without_killing_the_server(throwaway_server):
    """The same through `/v1/stt/create`: refused at once, or a failed job; and the server,
    restarted on its data directory, does not die again retrying the job."""
    key = throwaway_server.create_key(plan="paid")["key"]
    response = create_upload_job(throwaway_server, key, SHORT, beam_size="1000000000000")
    if response.status_code == 400:
        assert_error(response, 400, "beam_size")
    else:
        assert response.status_code in (200, 201), response.text
        generation_id = response.json()["generation_id"]
        try:
            _, body = wait_for_job(throwaway_server, key, generation_id, timeout=60)
        except requests.ConnectionError as error:
            time.sleep(1)
            restarted = Server(throwaway_server.data_dir, throwaway_server.flags)
            time.sleep(5)
            alive_after_restart = restarted.alive()
            restarted.stop()
            raise AssertionError(
                f"the job took the server down (alive: {throwaway_server.alive()}; "
                f"restarted on the same data directory, alive 5 s later: "
                f"{alive_after_restart}): {error}"
            )
        assert body["status"] == "failed" and "beam_size" in body["error"], body
    assert throwaway_server.alive()
