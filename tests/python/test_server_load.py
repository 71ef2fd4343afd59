"""The server under load: benches/load.py with its checks (96 requests here, 200 in the bench,
mixed synchronous and asynchronous, from 32 concurrent clients all complete or get a proper 429/503, no job is lost,
no other 5xx, memory bounded during the load and a 400 MB streamed upload), and a full queue
answered with 503 and Retry-After."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from stt_testing import auth, fixture_path

REPO = Path(__file__).resolve().parents[2]


def test_load_and_large_upload():
    result = subprocess.run(
        [sys.executable, str(REPO / "benches" / "load.py"), "--check",
         "--requests", "96", "--clients", "32", "--upload-mb", "400"],
        capture_output=True, text=True, timeout=1500,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout


def test_a_full_queue_is_503_with_retry_after(start_server):
    server = start_server("--model", "tiny.en", "--workers", "1", "--queue", "1",
                          name="queue")
    headers = auth(server.create_key(plan="paid", concurrency=100)["key"])
    audio = fixture_path("jfk.flac").read_bytes()

    def post(_):
        return requests.post(server.url("/v1/transcribe"), headers=headers,
                             files={"file": ("jfk.flac", audio)}, timeout=300)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) == {200, 503}, statuses
    for response in responses:
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) > 0
            assert "busy" in response.json()["error"]
    assert requests.get(server.url("/health"), timeout=10).status_code == 200
