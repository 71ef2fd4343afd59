"""The transcript workspace (`/api/v1/`, the seed's REST API) end to end: transcriptions made
with a key are kept under its account, listed with pages, filters and search, read, exported
to seven formats (each read back by an independent reader: `srt` and `webvtt-py` strict,
`csv`, `python-docx`, poppler's `pdftotext`), deleted; accounts see only their own.
"""

import csv
import io
import json
import shutil
import subprocess
import time
import unicodedata
import uuid
from datetime import datetime, timedelta, timezone

import docx
import pytest
import requests
import srt
import webvtt

from stt_testing import auth, fixture_path, stt_binary, wait_until

TIMEOUT = 180
ADMIN_KEY = "test-admin-" + uuid.uuid4().hex
TWO_SPEAKERS = "2spk_pyannote_sample.wav"
JFK = "jfk.flac"
RUSSIAN = "ru_coqui_stt_sample.wav"
JAPANESE = "ja_picovoice_test_ja.wav"
EXPORTS = ["txt", "srt", "vtt", "json", "csv", "docx", "pdf"]


@pytest.fixture(scope="module")
def server(start_server):
    return start_server("--admin-key", ADMIN_KEY, name="workspace")


@pytest.fixture(scope="module")
def owner(server):
    return server.create_key(plan="paid", name="owner")


@pytest.fixture(scope="module")
def stranger(server):
    return server.create_key(plan="paid", name="stranger")


def transcribe(server, key, name, endpoint="/v1/transcribe", **fields):
    with fixture_path(name).open("rb") as audio:
        response = requests.post(server.url(endpoint), headers=auth(key),
                                 files={"file": (name, audio)}, data=fields, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response


@pytest.fixture(scope="module")
def stored(server, owner):
    """Five kept transcriptions of the owner (native, OpenAI and job endpoints; English,
    Russian, Japanese; two speakers) and one made with `store=false`; ids by fixture."""
    key = owner["key"]
    ids = {}
    ids[TWO_SPEAKERS] = transcribe(server, key, TWO_SPEAKERS).headers["x-transcript-id"]
    time.sleep(1.1)
    between = datetime.now(timezone.utc)
    ids[JFK] = transcribe(server, key, JFK, "/v1/audio/transcriptions",
                          model="whisper-1").headers["x-transcript-id"]
    ids[RUSSIAN] = transcribe(server, key, RUSSIAN).headers["x-transcript-id"]
    ids[JAPANESE] = transcribe(server, key, JAPANESE).headers["x-transcript-id"]
    assert "x-transcript-id" not in transcribe(server, key, JFK, store="false").headers

    with fixture_path(JFK).open("rb") as audio:
        created = requests.post(server.url("/v1/stt/create"), headers=auth(key),
                                files={"audio": ("speech.flac", audio)}, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    job_id = created.json()["generation_id"]
    ids["job"] = created.headers["x-transcript-id"]
    early = get(server, key, f"/api/v1/transcripts/{ids['job']}/").json()
    assert early["status"] in ("processing", "completed"), early
    assert early["source"] == "job" and early["file_name"] == "speech.flac", early

    def finished():
        status = get(server, key, f"/v1/stt/{job_id}").json()["status"]
        return status if status in ("completed", "failed") else None

    assert wait_until(finished, timeout=TIMEOUT) == "completed"
    return {"ids": ids, "between": between, "job_id": job_id}


def get(server, key, path, **params):
    return requests.get(server.url(path), headers=auth(key), params=params, timeout=60)


def listed(server, key, **params):
    response = get(server, key, "/api/v1/transcripts/", **params)
    assert response.status_code == 200, response.text
    return response.json()


def detail(server, key, transcript_id):
    response = get(server, key, f"/api/v1/transcripts/{transcript_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def export(server, key, transcript_id, format):
    response = get(server, key, f"/api/v1/transcripts/{transcript_id}/export/{format}/")
    assert response.status_code == 200, (format, response.text)
    return response


def compact(text):
    """Text without whitespace, in NFKC: how a PDF's extracted text is compared."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def test_listing_pages_through_every_kept_transcript_newest_first(server, owner, stored):
    key = owner["key"]
    everything = listed(server, key)
    assert everything["count"] == 5, everything
    assert [t["id"] for t in everything["results"]][-1] == stored["ids"][TWO_SPEAKERS]
    first = everything["results"][0]
    assert first["id"] == stored["ids"]["job"] and first["status"] == "completed", first
    assert "country" in first["text_preview"].lower(), first

    seen, page = [], listed(server, key, page_size=2, status="completed")
    assert page["previous"] is None
    while True:
        seen += [t["id"] for t in page["results"]]
        if page["next"] is None:
            break
        assert "status=completed" in page["next"] and "page_size=2" in page["next"]
        response = requests.get(server.url(page["next"]), headers=auth(key), timeout=60)
        page = response.json()
        assert page["previous"] is not None
    assert seen == [t["id"] for t in everything["results"]]
    assert get(server, key, "/api/v1/transcripts/", page=4, page_size=2).status_code == 404
    for bad in [{"page": 0}, {"page_size": 1000}, {"status": "done"},
                {"created_after": "last week"}, {"lang": "en"}]:
        response = get(server, key, "/api/v1/transcripts/", **bad)
        assert response.status_code == 400 and response.json()["error"], (bad, response.text)


def test_filters_by_status_language_date_and_text(server, owner, stored):
    key, ids = owner["key"], stored["ids"]

    def found(**params):
        return {t["id"] for t in listed(server, key, **params)["results"]}

    assert found(status="processing") == set() and found(status="failed") == set()
    assert found(language="ru") == {ids[RUSSIAN]}
    assert found(language="ja") == {ids[JAPANESE]}
    assert found(created_after=stored["between"].isoformat()) == set(ids.values()) - {ids[TWO_SPEAKERS]}
    assert found(created_before=stored["between"].isoformat()) == {ids[TWO_SPEAKERS]}
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    assert found(created_after=tomorrow) == set()
    assert len(found(created_before=tomorrow)) == 5
    assert found(search="COUNTRY") == {ids[JFK], ids["job"]}
    assert found(search="pyannote") == {ids[TWO_SPEAKERS]}, "file names are searched"
    assert found(search="country", created_after=stored["between"].isoformat(),
                 language="en") == {ids[JFK], ids["job"]}
    # Case folding beyond ASCII: the Russian transcript's first word, in capitals.
    russian_word = detail(server, key, ids[RUSSIAN])["text"].split()[0].strip(".,!?")
    assert found(search=russian_word.upper()) == {ids[RUSSIAN]}
    assert found(search="100%_") == set(), "LIKE wildcards are literal"


def test_detail_has_the_segments_words_and_speakers(server, owner, stored):
    body = detail(server, owner["key"], stored["ids"][TWO_SPEAKERS])
    assert body["status"] == "completed" and body["source"] == "transcribe", body
    assert body["file_name"] == TWO_SPEAKERS and body["language"] == "en"
    assert abs(body["duration"] - 30.0) < 0.1
    assert len(body["speakers"]) >= 2, body["speakers"]
    assert [s["order"] for s in body["segments"]] == list(range(len(body["segments"])))
    assert {s["speaker"] for s in body["segments"]} <= set(body["speakers"])
    assert all(s["words"] and s["start"] < s["end"] for s in body["segments"])
    joined = " ".join(s["text"] for s in body["segments"])
    assert compact(joined) == compact(body["text"])
    openai = detail(server, owner["key"], stored["ids"][JFK])
    assert openai["source"] == "openai" and "country" in openai["text"]


def test_every_export_reads_back_with_an_independent_reader(server, owner, stored):
    key, transcript_id = owner["key"], stored["ids"][TWO_SPEAKERS]
    body = detail(server, key, transcript_id)
    segments = body["segments"]
    texts = [s["text"] for s in segments]

    txt = export(server, key, transcript_id, "txt")
    assert txt.headers["content-type"].startswith("text/plain")
    assert 'filename="2spk_pyannote_sample.txt"' in txt.headers["content-disposition"]
    assert txt.text.strip() == body["text"]

    cues = list(srt.parse(export(server, key, transcript_id, "srt").text, ignore_errors=False))
    assert [c.content.split(": ", 1)[1] for c in cues] == texts
    assert [c.content.split(": ", 1)[0] for c in cues] == [s["speaker"] for s in segments]

    vtt = export(server, key, transcript_id, "vtt")
    captions = list(webvtt.from_buffer(io.StringIO(vtt.text), strict=True))
    assert len(captions) == len(segments)

    exported = export(server, key, transcript_id, "json").json()
    assert exported["text"] == body["text"]
    assert [s["text"] for s in exported["segments"]] == texts

    rows = list(csv.DictReader(io.StringIO(export(server, key, transcript_id, "csv").text)))
    assert [r["text"] for r in rows] == texts
    assert [r["speaker"] for r in rows] == [s["speaker"] for s in segments]
    assert all(abs(float(r["start"]) - s["start"]) < 0.002 for r, s in zip(rows, segments))

    document = docx.Document(io.BytesIO(export(server, key, transcript_id, "docx").content))
    paragraphs = [p.text for p in document.paragraphs]
    assert any(TWO_SPEAKERS in p for p in paragraphs[:3]), paragraphs[:5]
    assert all(any(text in p for p in paragraphs) for text in texts)
    bold = {run.text.strip().rstrip(":") for p in document.paragraphs for run in p.runs if run.bold}
    assert set(body["speakers"]) <= bold, bold

    pdf = export(server, key, transcript_id, "pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    extracted = pdftotext(pdf.content)
    assert TWO_SPEAKERS in extracted
    assert_in_order(texts, extracted)

    response = get(server, key, f"/api/v1/transcripts/{transcript_id}/export/odt/")
    assert response.status_code == 400 and "docx" in response.json()["error"]


def assert_in_order(texts, document):
    """Each of `texts` is in `document` (whitespace aside), after the one before."""
    document, position = compact(document), 0
    for text in texts:
        found = document.find(compact(text), position)
        assert found >= 0, (text, document[position:position + 300])
        position = found + len(compact(text))


def pdftotext(pdf):
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is missing: run scripts/setup.sh"
    done = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=pdf,
                          capture_output=True, timeout=60, check=True)
    return done.stdout.decode("utf-8")


@pytest.mark.parametrize("fixture", [RUSSIAN, JAPANESE])
def test_documents_in_other_scripts_keep_their_text(server, owner, stored, fixture, tmp_path):
    key, transcript_id = owner["key"], stored["ids"][fixture]
    body = detail(server, key, transcript_id)
    assert body["text"].strip(), body
    texts = [segment["text"] for segment in body["segments"]]
    pdf = export(server, key, transcript_id, "pdf").content
    assert_in_order(texts, pdftotext(pdf))
    # A page image to look at (kept in the test's temporary directory).
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-",
                    str(tmp_path / "page")], input=pdf, capture_output=True, check=True)
    assert list(tmp_path.glob("page*.png"))
    document = docx.Document(io.BytesIO(export(server, key, transcript_id, "docx").content))
    assert_in_order(texts, "\n".join(p.text for p in document.paragraphs))


def test_another_account_sees_none_of_it(server, owner, stranger, stored):
    theirs = stranger["key"]
    assert listed(server, theirs)["count"] == 0
    for transcript_id in stored["ids"].values():
        for path in [f"/api/v1/transcripts/{transcript_id}/",
                     f"/api/v1/transcripts/{transcript_id}/export/pdf/"]:
            assert get(server, theirs, path).status_code == 404, path
        response = requests.delete(server.url(f"/api/v1/transcripts/{transcript_id}/"),
                                   headers=auth(theirs), timeout=60)
        assert response.status_code == 404
    response = requests.delete(server.url(f"/api/v1/keys/{owner['id']}/"),
                               headers=auth(theirs), timeout=60)
    assert response.status_code == 404
    assert get(server, owner["key"], "/api/v1/account/").status_code == 200
    # Nobody else gets in: no key, a wrong key, the operator's key.
    for headers in [{}, auth("stt_wrong"), auth(ADMIN_KEY)]:
        response = requests.get(server.url("/api/v1/transcripts/"), headers=headers, timeout=60)
        assert response.status_code == 401, response.text


def test_account_profile_keys_usage_and_cloud(server, owner, stored):
    key = owner["key"]
    account = get(server, key, "/api/v1/account/").json()
    assert account["id"] == owner["account"] and account["plan"] == "paid", account
    assert account["monthly_minutes"] is None and account["credits_remaining"] is None
    assert account["credits_used"] >= 6 and account["minutes_used"] > 1.0, account

    changes = {"name": "Ada", "email": "ada@example.com",
               "email_preferences": {"job_completed": True}}
    updated = requests.put(server.url("/api/v1/account/"), headers=auth(key), json=changes,
                           timeout=60).json()
    assert (updated["name"], updated["email"]) == ("Ada", "ada@example.com")
    assert updated["email_preferences"] == {"job_completed": True, "usage_alerts": True,
                                            "product_updates": False}
    for refused in [{"plan": "free"}, {"monthly_minutes": 1}, {"email": "nope"}, {"x": 1}]:
        response = requests.put(server.url("/api/v1/account/"), headers=auth(key),
                                json=refused, timeout=60)
        assert response.status_code == 400, (refused, response.text)
    assert get(server, key, "/api/v1/account/").json()["plan"] == "paid"

    keys = get(server, key, "/api/v1/keys/").json()
    assert [k["id"] for k in keys["results"]] == [owner["id"]]
    assert keys["results"][0]["prefix"] == key[:8]
    created = requests.post(server.url("/api/v1/keys/"), headers=auth(key),
                            json={"name": "laptop"}, timeout=60)
    assert created.status_code == 201, created.text
    second = created.json()
    assert second["key"].startswith("stt_") and "hash" not in second
    assert get(server, second["key"], "/api/v1/account/").json()["id"] == owner["account"]
    assert listed(server, second["key"])["count"] == 5, "keys of one account share it"
    assert get(server, key, "/api/v1/keys/").json()["count"] == 2
    deleted = requests.delete(server.url(f"/api/v1/keys/{second['id']}/"), headers=auth(key),
                              timeout=60)
    assert deleted.status_code == 204
    assert get(server, second["key"], "/api/v1/account/").status_code == 401
    last = requests.delete(server.url(f"/api/v1/keys/{owner['id']}"), headers=auth(key),
                           timeout=60)
    assert last.status_code == 409, last.text

    usage = get(server, key, "/api/v1/usage/").json()
    assert len(usage["days"]) == 30
    today = datetime.now(timezone.utc).date().isoformat()
    assert usage["days"][-1]["date"] == today
    assert usage["days"][-1]["requests"] >= 6 and usage["days"][-1]["minutes"] > 1.0
    assert usage["total"]["requests"] == sum(day["requests"] for day in usage["days"])
    assert len(get(server, key, "/api/v1/usage/", days=7).json()["days"]) == 7
    assert get(server, key, "/api/v1/usage/", days=0).status_code == 400

    cloud = get(server, key, "/api/v1/cloud/").json()
    assert cloud["count"] == 1 and cloud["results"][0]["status"] == "running"


def test_a_transcript_made_elsewhere_is_kept_and_used_like_the_others(server):
    """Live captions saved by the web app: `POST /api/v1/transcripts/` keeps checked segments,
    which list, search and export like a transcription's; bad ones are refused by name."""
    key = server.create_key(plan="paid", name="importer")["key"]
    path = "/api/v1/transcripts/"
    body = {"file_name": "Live captions", "language": "en", "segments": [
        {"start": 0.0, "end": 2.5, "text": " And so, my fellow Americans,", "speaker": "Ada"},
        {"start": 3.0, "end": 6.25, "text": "ask not what your country can do for you."},
    ]}
    created = requests.post(server.url(path), headers=auth(key), json=body, timeout=60)
    assert created.status_code == 201, created.text
    kept = created.json()
    assert (kept["source"], kept["status"], kept["duration"]) == ("imported", "completed", 6.25)
    assert kept["text"] == "And so, my fellow Americans, ask not what your country can do for you."
    assert kept["speakers"] == ["Ada"]
    assert [t["id"] for t in listed(server, key, search="COUNTRY")["results"]] == [kept["id"]]
    subtitles = list(srt.parse(export(server, key, kept["id"], "srt").text))
    assert [s.start for s in subtitles] == [timedelta(0), timedelta(seconds=3)]
    assert subtitles[0].content == "Ada: And so, my fellow Americans,"

    def refused(payload, status, words, headers=None):
        response = requests.post(server.url(path), headers={**auth(key), **(headers or {})},
                                 timeout=60, **payload)
        assert response.status_code == status, (payload.get("json"), response.text)
        assert words in response.json()["error"], response.text

    segment = {"start": 0, "end": 1, "text": "x"}
    refused({"json": {"segments": []}}, 400, "segments")
    refused({"json": {"segments": [{**segment, "start": 2}]}}, 400, "segments[0]")
    refused({"json": {"segments": [segment], "language": "english"}}, 400, "language")
    refused({"json": {"segments": [segment], "owner": "someone"}}, 400, "unknown field")
    huge = b'{"segments": [{"start": 0, "end": 1, "text": "' + b"x" * (9 << 20) + b'"}]}'
    refused({"data": huge}, 413, "larger than", {"Content-Type": "application/json"})
    anonymous = requests.post(server.url(path), json=body, timeout=60)
    assert anonymous.status_code == 401, anonymous.text
    assert listed(server, key)["count"] == 1


def test_deleting_removes_the_transcript_and_its_job(server, owner, stored):
    key, ids = owner["key"], stored["ids"]
    for transcript_id in [ids[JFK], ids["job"]]:
        path = f"/api/v1/transcripts/{transcript_id}/"
        response = requests.delete(server.url(path), headers=auth(key), timeout=60)
        assert response.status_code == 204, response.text
        assert get(server, key, path).status_code == 404
        assert get(server, key, path + "export/txt/").status_code == 404
        again = requests.delete(server.url(path), headers=auth(key), timeout=60)
        assert again.status_code == 404
    assert get(server, key, f"/v1/stt/{stored['job_id']}").status_code == 404
    assert listed(server, key)["count"] == 3


def test_operator_cli_makes_accounts_with_several_keys(server):
    def stt(*args):
        done = subprocess.run([str(stt_binary()), *args, *server.store_flags],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    [account] = stt("accounts", "create", "--name", "Team", "--plan", "free",
                    "--monthly-minutes", "90")
    assert (account["plan"], account["monthly_minutes"]) == ("free", 90)
    [first] = stt("keys", "create", "--account", account["id"], "--name", "a")
    [second] = stt("keys", "create", "--account", account["id"], "--name", "b")
    assert first["account"] == second["account"] == account["id"]
    assert first["monthly_minutes"] == 90
    [changed] = stt("accounts", "update", account["id"], "--monthly-minutes", "unlimited")
    assert changed["monthly_minutes"] is None
    seen = get(server, second["key"], "/api/v1/account/").json()
    assert seen["id"] == account["id"] and seen["credits_remaining"] is None
    assert get(server, first["key"], "/api/v1/keys/").json()["count"] == 2
    assert any(a["id"] == account["id"] for a in stt("accounts", "list"))
