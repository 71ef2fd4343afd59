"""Accepted asynchronous jobs survive a crash: kill the server (SIGKILL) while jobs are waiting
and running, start it again on the same data directory, and every job ends completed, or
failed with a reason."""

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from functools import partial
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
STT = REPO / "target" / "release" / "stt"
FIXTURES = Path(os.environ.get("STT_FIXTURES", REPO.parent / "shared" / "fixtures" / "audio"))


def start(data_dir):
    process = subprocess.Popen(
        [STT, "serve", "--port", "0", "--data-dir", data_dir, "--model", "tiny.en",
         "--allow-private-urls"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        match = re.search(r"listening on (http://\S+)", process.stdout.readline())
        if match:
            return process, match.group(1)
        assert process.poll() is None, "the server exited while starting"
    process.kill()
    raise AssertionError("the server did not start in 120 s")


def serve_fixtures():
    """A loopback HTTP server for `url` jobs."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(FIXTURES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_jobs_accepted_before_a_crash_are_finished_after_restart(tmp_path):
    data_dir = str(tmp_path / "data")
    key = json.loads(
        subprocess.run(
            [STT, "keys", "create", "--data-dir", data_dir, "--plan", "paid",
             "--concurrency", "100"],
            check=True, capture_output=True, text=True,
        ).stdout
    )["key"]
    headers = {"Authorization": f"Bearer {key}"}
    fixtures = serve_fixtures()
    fixture_url = f"http://127.0.0.1:{fixtures.server_address[1]}"

    server, base = start(data_dir)
    ids = []
    try:
        for index in range(8):
            if index % 4 == 3:
                response = requests.post(
                    f"{base}/v1/stt/create", headers=headers,
                    json={"model": "#g1_whisper-large", "url": f"{fixture_url}/jfk.flac"},
                    timeout=30,
                )
            else:
                with open(FIXTURES / "jfk.flac", "rb") as audio:
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
        server.send_signal(signal.SIGKILL)
        server.wait()

    # One waiting upload disappears while the server is down: that job must fail, saying why.
    uploads = Path(data_dir) / "uploads"
    missing = ids[-2]
    (uploads / missing).unlink()

    server, base = start(data_dir)
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
        # The interrupted download is fetched again, and the uploads of ended jobs stay until
        # their results expire.
        assert (uploads / ids[3]).is_file()
    finally:
        server.terminate()
        server.wait()
        fixtures.shutdown()
        shutil.rmtree(data_dir, ignore_errors=True)
