"""Accepted asynchronous jobs survive a crash: kill the server (SIGKILL) while jobs are waiting
and running, start it again on the same data directory, and every job ends completed, or
failed with a reason."""

import signal
import time

import requests

from stt_testing import Server, auth, fixture_path

FLAGS = ["--model", "tiny.en", "--allow-private-urls"]


def test_jobs_accepted_before_a_crash_are_finished_after_restart(tmp_path, fixture_http):
    data_dir = tmp_path / "data"
    server = Server(data_dir, FLAGS)
    base = server.base
    headers = auth(server.create_key(plan="paid", concurrency=100)["key"])
    jfk = fixture_path("jfk.flac")
    ids = []
    try:
        for index in range(8):
            if index % 4 == 3:
                response = requests.post(
                    f"{base}/v1/stt/create", headers=headers,
                    json={"model": "#g1_whisper-large", "url": f"{fixture_http}/jfk.flac"},
                    timeout=30,
                )
            else:
                with open(jfk, "rb") as audio:
                    response = requests.post(
                        f"{base}/v1/stt/create", headers=headers,
                        files={"audio": ("jfk.flac", audio)}, timeout=30,
                    )
            assert response.status_code == 201, response.text
            ids.append(response.json()["generation_id"])
        # Kill once a job is running, so that one is cut mid-inference and others wait.
        deadline = time.time() + 60
        statuses = []
        while time.time() < deadline:
            statuses = [requests.get(f"{base}/v1/stt/{i}", headers=headers, timeout=10)
                        .json()["status"] for i in ids]
            if "active" in statuses:
                break
            time.sleep(0.05)
        assert "active" in statuses, statuses
        assert "waiting" in statuses, statuses
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.stop()

    # One waiting upload disappears while the server is down: that job must fail, saying why.
    uploads = data_dir / "uploads"
    missing = ids[-2]
    (uploads / missing).unlink()

    server = Server(data_dir, FLAGS)
    base = server.base
    try:
        final = {}
        deadline = time.time() + 300
        while time.time() < deadline and len(final) < len(ids):
            for job_id in ids:
                body = requests.get(f"{base}/v1/stt/{job_id}", headers=headers, timeout=10).json()
                if body["status"] in ("completed", "failed"):
                    final[job_id] = body
            time.sleep(0.5)
        assert len(final) == len(ids), f"jobs never ended: {set(ids) - set(final)}"
        for job_id, body in final.items():
            if job_id == missing:
                assert body["status"] == "failed"
                assert "missing" in body["error"], body
                continue
            assert body["status"] == "completed", body
            transcript = body["result"]["results"]["channels"][0]["alternatives"][0]["transcript"]
            assert "your country" in transcript.lower(), transcript
        # The uploads of ended jobs stay until their results expire; a `url` job's download
        # (fetched again after the crash) is deleted once transcribed.
        assert (uploads / ids[0]).is_file()
        assert not list((data_dir / "tmp").iterdir())
    finally:
        server.stop()
