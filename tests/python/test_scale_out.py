"""Scale-out on loopback: API nodes (`stt serve --role api`) and `stt worker`s sharing a real
PostgreSQL and a real S3-compatible store (moto in server mode), driven over real sockets.
Requests queued by one API node are run by the workers; a worker killed with SIGKILL while
it holds a job loses it to another; limits hold across API nodes; audio leaves the bucket."""

import concurrent.futures
import signal

import pytest
import requests

from stt_cluster import Cluster, wait_for
from stt_testing import auth, fixture_path, wer, words

JFK = "jfk.flac"
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, ask what "
            "you can do for your country.")
TIMEOUT = 300


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), ["--model", "tiny.en"])
    cluster.api()
    cluster.api()
    cluster.worker("--workers", "1")
    yield cluster
    cluster.stop()


def transcribe(node, key, name=JFK):
    with open(fixture_path(name), "rb") as audio:
        return requests.post(node.url("/v1/transcribe"), headers=auth(key),
                             files={"file": (name, audio)}, timeout=TIMEOUT)


def job_ended(node, key, generation_id):
    body = requests.get(node.url(f"/v1/stt/{generation_id}"), headers=auth(key),
                        timeout=30).json()
    return body if body.get("status") in ("completed", "failed") else None


def metric(node, name):
    text = requests.get(node.url("/metrics"), timeout=30).text
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line.startswith(name)}


def usage_rows(cluster, account_id):
    return int(cluster.postgres.sql(
        f"SELECT COUNT(*) FROM usage WHERE subject = 'account:{account_id}'", cluster.postgres.url))


def test_an_api_node_queues_requests_that_a_worker_runs(cluster):
    api, other_api, worker = cluster.nodes
    key = cluster.create_key(plan="paid")
    # Synchronous: queued by the API node, run by the worker, answered by the API node.
    response = transcribe(api, key["key"])
    assert response.status_code == 200, response.text
    assert wer(JFK_TEXT, response.json()["text"]) < 0.1, response.json()["text"]
    # Asynchronous: created on one API node, read on the other.
    with open(fixture_path(JFK), "rb") as audio:
        created = requests.post(other_api.url("/v1/stt/create"), headers=auth(key["key"]),
                                files={"audio": (JFK, audio)}, timeout=TIMEOUT)
    assert created.status_code in (200, 201), created.text
    generation_id = created.json()["generation_id"]
    wait_for(lambda: job_ended(api, key["key"], generation_id), TIMEOUT, "the async job")
    body = job_ended(api, key["key"], generation_id)
    assert body["status"] == "completed", body
    transcript = body["result"]["results"]["channels"][0]["alternatives"][0]["transcript"]
    assert words(transcript)[:4] == ["and", "so", "my", "fellow"], transcript
    # One usage row per transcription, written by the worker with the result.
    assert usage_rows(cluster, key["account"]) == 2
    # The synchronous request's audio left the bucket when it was answered; the job's stays
    # for the result's lifetime.
    wait_for(lambda: len(cluster.store.objects()) == 1 or None, 30, "the upload's deletion")
    assert cluster.store.objects()[0].endswith(generation_id)
    # The worker's port serves operations only; its metrics count what it ran.
    assert requests.post(worker.url("/v1/transcribe"), timeout=30).status_code == 404
    runs = metric(worker, "stt_transcriptions_total")
    assert runs["stt_transcriptions_total"] >= 2, runs
    slots = metric(worker, "stt_worker_slots")
    assert slots == {'stt_worker_slots{state="busy"}': 0, 'stt_worker_slots{state="idle"}': 1}
    assert metric(api, "stt_queue_depth") == {"stt_queue_depth": 0}
    statuses = metric(api, "stt_http_responses_total")
    assert statuses.get('stt_http_responses_total{status="200"}', 0) >= 1, statuses
    assert requests.get(api.url("/readyz"), timeout=30).status_code == 200
    health = requests.get(api.url("/health"), timeout=30).json()
    assert (health["role"], health["workers"]) == ("api", 0), health


def test_requests_at_once_are_limited_across_api_nodes(cluster):
    api, other_api, _ = cluster.nodes
    key = cluster.create_key(plan="paid", concurrency=1)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(transcribe, node, key["key"])
                   for node in (api, other_api, api, other_api)]
        statuses = sorted(f.result().status_code for f in futures)
    # The single worker takes a while per request: at most one of the four ran at a time.
    assert statuses.count(200) >= 1 and statuses.count(429) >= 1, statuses
    assert set(statuses) <= {200, 429}, statuses


def test_a_quota_holds_across_api_nodes(cluster):
    api, other_api, _ = cluster.nodes
    # 1 minute a month, 11 s of audio per request: only the first is charged and served.
    key = cluster.create_key(minutes=1, concurrency=4)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(transcribe, node, key["key"])
                   for node in (api, other_api, api, other_api)]
        statuses = sorted(f.result().status_code for f in futures)
    assert statuses.count(200) == 1 and statuses.count(402) == 3, statuses
    assert usage_rows(cluster, key["account"]) == 1


def test_a_killed_workers_job_is_taken_over_and_done_once(cluster):
    api = cluster.nodes[0]
    key = cluster.create_key(plan="paid")
    # A long file, so that the worker is killed while it holds the job.
    long_clip = "en_librivox_sonnets_001_002_106s.mp3"
    with open(fixture_path(long_clip), "rb") as audio:
        created = requests.post(api.url("/v1/stt/create"), headers=auth(key["key"]),
                                files={"audio": (long_clip, audio)}, timeout=TIMEOUT)
    assert created.status_code in (200, 201), created.text
    generation_id = created.json()["generation_id"]
    worker = cluster.nodes[2]
    wait_for(lambda: requests.get(api.url(f"/v1/stt/{generation_id}"), headers=auth(key["key"]),
                                  timeout=30).json()["status"] == "active" or None,
             60, "the job's start")
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(10)
    replacement = cluster.worker("--workers", "1")
    took = wait_for(lambda: job_ended(api, key["key"], generation_id), TIMEOUT,
                    "the takeover")
    body = job_ended(api, key["key"], generation_id)
    assert body["status"] == "completed", body
    assert replacement.alive()
    assert usage_rows(cluster, key["account"]) == 1
    attempts = cluster.postgres.sql(
        f"SELECT attempts FROM jobs WHERE id = '{generation_id}'", cluster.postgres.url)
    assert attempts == "2", attempts
    print(f"taken over and finished {took:.0f} s after the kill")
