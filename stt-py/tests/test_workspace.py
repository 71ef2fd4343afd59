"""The client's transcript workspace calls (`/api/v1/`) against the session's real `stt serve`,
in an account of their own so that every count is exact."""

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

import stt
from conftest import fixture_path


@pytest.fixture(scope="module")
def workspace(server, fixture_http):
    """A new account holding one completed transcript (jfk) and one failed job's, with a
    transcription made with store=False between them."""
    created = server.create_key(plan="paid", name="workspace")
    client = stt.Client(server.base, api_key=created["key"])
    spoken = client.transcribe(fixture_path("jfk.flac"))
    client.transcribe(fixture_path("en_librispeech_1089-134691-0000.flac"), store=False)
    job_id = client.submit(url=f"{fixture_http}/does-not-exist.mp3")
    with pytest.raises(stt.JobFailedError):
        client.wait(job_id, timeout=120, poll_interval=0.3)
    by_status = {summary.status: summary for summary in client.transcripts.list().results}
    return SimpleNamespace(client=client, created=created, spoken=spoken, job_id=job_id,
                           stored=by_status["completed"], failed=by_status["failed"])


def status_of(call):
    with pytest.raises(stt.ServerError) as error:
        call()
    return error.value.status


def test_lists_what_the_key_stored_with_filters_and_pages(workspace):
    transcripts = workspace.client.transcripts
    page = transcripts.list()
    assert (page.count, page.next, page.previous) == (2, None, None)
    stored, failed = workspace.stored, workspace.failed
    assert (stored.source, stored.file_name, stored.language, stored.model) == (
        "transcribe", "jfk.flac", "en", "base")
    assert stored.text_preview == workspace.spoken.text[:200] and stored.error is None
    assert stored.duration == pytest.approx(11.0, abs=0.01)
    now = datetime.now(timezone.utc)
    assert now - timedelta(minutes=10) < stored.created <= now
    assert failed.source == "job" and failed.error and failed.text_preview == ""

    found = transcripts.list(status="completed", search="ASK NOT what")
    assert [s.id for s in found.results] == [stored.id]
    assert transcripts.list(search="could wait no longer").count == 0  # the store=False one
    assert transcripts.list(language="en", status="failed").count == 0
    assert transcripts.list(created_after=now.date() - timedelta(days=1)).count == 2
    later = now + timedelta(hours=1)
    assert transcripts.list(created_after=stored.created, created_before=later).count == 2
    assert transcripts.list(created_before="2000-01-01").results == []
    assert status_of(lambda: transcripts.list(page=2)) == 404

    halves = transcripts.list(page_size=1)
    assert halves.count == 2 and halves.next and halves.previous is None
    following = [s.id for s in transcripts.iter(page_size=1)]
    assert sorted(following) == sorted(s.id for s in page.results)


def test_gets_and_exports_a_transcript(workspace):
    transcripts = workspace.client.transcripts
    whole = transcripts.get(workspace.stored.id)
    assert (whole.id, whole.status, whole.created) == (
        workspace.stored.id, "completed", workspace.stored.created)
    assert "ask not what your country" in whole.transcript.text
    assert whole.transcript.text == workspace.spoken.text
    assert [s.text for s in whole.transcript.segments] == [
        s.text for s in workspace.spoken.segments]
    assert whole.transcript.segments[0].words
    assert transcripts.get(workspace.failed.id).transcript.text == ""

    srt = transcripts.export(whole.id, "srt").decode()
    assert "-->" in srt and "ask not what your country" in srt
    assert transcripts.export(whole.id, "docx").startswith(b"PK")
    assert transcripts.export(whole.id, "pdf").startswith(b"%PDF")
    assert json.loads(transcripts.export(whole.id, "json"))["text"] == whole.transcript.text
    assert transcripts.export(whole.id, "csv").decode().startswith("start,end,speaker,text")
    assert status_of(lambda: transcripts.export(workspace.failed.id, "txt")) == 409
    with pytest.raises(stt.InvalidOptionError, match="docx"):
        transcripts.export(whole.id, "doc")


def test_usage_and_account(workspace, server):
    client = workspace.client
    usage = client.usage(days=7)
    assert len(usage.days) == 7
    assert usage.days[-1].date == datetime.now(timezone.utc).date()
    assert usage.days[-1].requests >= 1
    assert usage.total.requests == sum(day.requests for day in usage.days)
    assert usage.total.minutes >= 0.18

    account = client.account()
    assert account.id == workspace.created["account"]
    assert account.plan == "paid" and account.minutes_used >= 0.18
    updated = client.update_account(name="Ada", email="ada@example.com",
                                    email_preferences={"job_completed": True})
    assert (updated.id, updated.name, updated.email) == (account.id, "Ada", "ada@example.com")
    assert updated.email_preferences == stt.EmailPreferences(
        True, account.email_preferences.usage_alerts, account.email_preferences.product_updates)
    cleared = client.update_account(email=None)
    assert cleared.email is None and cleared.name == "Ada"
    assert status_of(lambda: client.update_account(name="")) == 400
    assert status_of(stt.Client(server.base, api_key="").account) == 401


def test_keys_of_the_account(workspace, server):
    keys = workspace.client.keys
    laptop = keys.create(name="laptop")
    assert laptop.key.startswith("stt_") and laptop.prefix == laptop.key[:8]
    listed = {key.id: key for key in keys.list()}
    assert set(listed) == {workspace.created["id"], laptop.id}
    assert listed[laptop.id] == stt.ApiKeyInfo(laptop.id, "laptop", laptop.prefix, laptop.created)
    # The new key sees the same account; another account's sees none of it.
    with_laptop = stt.Client(server.base, api_key=laptop.key)
    assert with_laptop.transcripts.get(workspace.stored.id).id == workspace.stored.id
    stranger = stt.Client(server.base, api_key=server.key)
    assert status_of(lambda: stranger.transcripts.get(workspace.stored.id)) == 404
    assert status_of(lambda: stranger.keys.delete(laptop.id)) == 404

    keys.delete(laptop.id)
    assert [key.id for key in keys.list()] == [workspace.created["id"]]
    assert status_of(with_laptop.account) == 401
    assert status_of(lambda: keys.delete(workspace.created["id"])) == 409


def test_deleting_a_transcript(workspace):
    client = workspace.client
    client.transcripts.delete(workspace.stored.id)
    assert status_of(lambda: client.transcripts.get(workspace.stored.id)) == 404
    assert [s.id for s in client.transcripts.list().results] == [workspace.failed.id]
    client.transcripts.delete(workspace.failed.id)  # and with it, its job
    assert status_of(lambda: client.job(workspace.job_id)) == 404
    assert client.transcripts.list().results == []
