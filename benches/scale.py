"""Scale-out benchmark on loopback: 2 API nodes, 3 workers, PostgreSQL and an S3-compatible
store (moto), all real processes (tests/python/stt_cluster.py).

1. 200 mixed requests (synchronous and asynchronous, 4 keys, one with a small quota) from 16
   clients spread over both API nodes. Meanwhile one worker is killed with SIGKILL while it
   holds a job (and started again), and one API node is restarted (SIGTERM: it finishes what
   it answered). Checked: every accepted job completes exactly once (one usage row each, no
   job lost), the small quota is never exceeded.
2. Throughput with 1 worker, then 3 (each worker pinned to one core: this machine has 2).
3. The latency the queue adds to a synchronous request: one request at a time through an
   API node and a worker, against `stt serve --role all` on the same model.

usage: python benches/scale.py [--requests 200] [--model tiny.en]
Writes benches/out/scale.md and benches/out/scale.json.
"""

import argparse
import concurrent.futures
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from stt_cluster import Cluster, wait_for  # noqa: E402
from stt_testing import Server, auth, fixture_path  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
CLIPS = ["jfk.flac", "en_librispeech_1089-134686-0000.flac",
         "en_librispeech_1089-134686-0001.flac", "en_librispeech_1089-134691-0000.flac"]
TIMEOUT = 900



def start_worker(cluster, core):
    """A worker on one core: its thread count follows the affinity it starts with."""
    return cluster.worker("--workers", "1", wrapper=["taskset", "-c", str(core % os.cpu_count())])


def send(node_for, key, clip, mode):
    """One request; retried on another API node when the connection breaks (a restart)."""
    for attempt in range(3):
        node = node_for(attempt)
        try:
            with open(fixture_path(clip), "rb") as audio:
                if mode == "sync":
                    response = requests.post(node.url("/v1/transcribe"), headers=auth(key),
                                             files={"file": (clip, audio)}, timeout=TIMEOUT)
                    return {"mode": mode, "status": response.status_code}
                response = requests.post(node.url("/v1/stt/create"), headers=auth(key),
                                         files={"audio": (clip, audio)}, timeout=TIMEOUT)
                body = response.json() if response.status_code in (200, 201) else {}
                return {"mode": mode, "status": response.status_code,
                        "id": body.get("generation_id")}
        except requests.ConnectionError:
            time.sleep(1)
    return {"mode": mode, "status": "connection failed"}


def mixed_load(cluster, apis, workers, count):
    keys = [cluster.create_key(plan="paid", concurrency=64) for _ in range(3)]
    small = cluster.create_key(minutes=5, concurrency=64)
    rng = random.Random(7)
    plan = [(rng.choice(keys + [small]), rng.choice(CLIPS), rng.choice(["sync", "async"]))
            for _ in range(count)]
    results = [None] * count
    done = []

    def one(index):
        key, clip, mode = plan[index]
        results[index] = {**send(lambda attempt: apis[(index + attempt) % len(apis)],
                                 key["key"], clip, mode), "key": key["id"]}
        done.append(index)

    def chaos():
        wait_for(lambda: len(done) >= count // 4 or None, TIMEOUT, "a quarter of the load")
        victim = workers[0]
        active = lambda: cluster.postgres.sql(  # noqa: E731
            "SELECT COUNT(*) FROM jobs WHERE status = 'active'", cluster.postgres.url)
        wait_for(lambda: active() != "0" or None, 60, "an active job")
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        events.append(f"killed a worker (SIGKILL) after {len(done)} requests")
        workers[0] = start_worker(cluster, 0)
        wait_for(lambda: len(done) >= count // 2 or None, TIMEOUT, "half of the load")
        apis[1] = cluster.restart(apis[1])
        events.append(f"restarted an API node (SIGTERM) after {len(done)} requests")

    events = []
    started = time.monotonic()
    chaos_thread = threading.Thread(target=chaos)
    chaos_thread.start()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(count)))
    chaos_thread.join()
    # Every accepted asynchronous job ends; each completed one has exactly one usage row.
    jobs = [r for r in results if r["mode"] == "async" and r.get("id")]
    db = cluster.postgres
    subjects = ", ".join(f"'account:{key['account']}'" for key in keys + [small])
    mine = f"kind = 'async' AND subject IN ({subjects})"

    def all_ended():
        ended = db.sql(f"SELECT COUNT(*) FROM jobs WHERE {mine} "
                       "AND status IN ('completed', 'failed')", db.url)
        return True if int(ended) >= len(jobs) else None

    wait_for(all_ended, TIMEOUT, "the end of every job")
    elapsed = time.monotonic() - started
    statuses = db.sql(f"SELECT status, COUNT(*) FROM jobs WHERE {mine} GROUP BY status", db.url)
    failures = db.sql(f"SELECT LEFT(error, 90), COUNT(*) FROM jobs WHERE {mine} "
                      "AND status = 'failed' GROUP BY 1", db.url)
    completed_async = int(db.sql(f"SELECT COUNT(*) FROM jobs WHERE {mine} "
                                 "AND status = 'completed'", db.url))
    async_usage = int(db.sql(f"SELECT COUNT(*) FROM usage WHERE job_id IN "
                             f"(SELECT id FROM jobs WHERE {mine})", db.url))
    sync_ok = sum(1 for r in results if r["mode"] == "sync" and r["status"] == 200)
    small_credits = int(db.sql(f"SELECT COALESCE(SUM(credits), 0) FROM usage "
                               f"WHERE subject = 'account:{small['account']}'", db.url))
    by_status = {}
    for r in results:
        by_status[f"{r['mode']} {r['status']}"] = by_status.get(f"{r['mode']} {r['status']}", 0) + 1
    return {
        "requests": count, "seconds": round(elapsed, 1), "responses": by_status,
        "async_accepted": len(jobs), "async_jobs_by_status": statuses.replace("\n", ", "),
        "async_completed": completed_async, "async_usage_rows": async_usage,
        "async_failures": failures.replace("\n", "; "),
        "sync_answered_200": sync_ok, "small_quota_minutes": 5,
        "small_quota_credits_used": small_credits, "events": events,
    }


def throughput(cluster, api, workers, jobs=24):
    key = cluster.create_key(plan="paid", concurrency=jobs)
    started = time.monotonic()
    ids = [send(lambda _: api, key["key"], "jfk.flac", "async")["id"] for _ in range(jobs)]
    db = cluster.postgres
    id_list = ", ".join(f"'{i}'" for i in ids)
    wait_for(lambda: db.sql(f"SELECT COUNT(*) FROM jobs WHERE id IN ({id_list}) "
                            f"AND status = 'completed'", db.url) == str(jobs) or None,
             TIMEOUT, f"{jobs} jobs on {len(workers)} workers")
    elapsed = time.monotonic() - started
    return {"workers": len(workers), "jobs": jobs, "seconds": round(elapsed, 1),
            "jobs_per_minute": round(jobs / elapsed * 60, 1)}


def sync_latency(node, key, runs=10):
    times = []
    for _ in range(runs):
        started = time.monotonic()
        response = send(lambda _: node, key, "en_librispeech_1089-134691-0000.flac", "sync")
        assert response["status"] == 200, response
        times.append(time.monotonic() - started)
    return round(statistics.median(times) * 1000), round(min(times) * 1000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--model", default="tiny.en")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="stt-scale."))
    cluster = Cluster(base, ["--model", args.model])
    report = {"cores": os.cpu_count(), "model": args.model}
    try:
        apis = [cluster.api(), cluster.api()]
        workers = [start_worker(cluster, 0)]
        report["throughput_1"] = throughput(cluster, apis[0], workers)
        workers += [start_worker(cluster, 1), start_worker(cluster, 2)]
        report["throughput_3"] = throughput(cluster, apis[0], workers)
        print(json.dumps(report), flush=True)
        report["mixed"] = mixed_load(cluster, apis, workers, args.requests)
        print(json.dumps(report["mixed"]), flush=True)
        # Latency: the queue's path with idle workers, then one `--role all` server.
        key = cluster.create_key(plan="paid")
        queued = sync_latency(apis[0], key["key"])
        for worker in workers[1:]:
            worker.stop()
        single = Server(base / "single", ["--model", args.model, "--workers", "1"],
                        wrapper=["taskset", "-c", "0"])
        local_key = single.create_key(plan="paid")["key"]
        direct = sync_latency(single, local_key)
        single.stop()
        report["sync_latency_ms"] = {"queued_median": queued[0], "queued_min": queued[1],
                                     "direct_median": direct[0], "direct_min": direct[1],
                                     "added_by_queue_median": queued[0] - direct[0]}
    finally:
        cluster.stop()
    (OUT / "scale.json").write_text(json.dumps(report, indent=2))
    t1, t3, mixed, lat = (report["throughput_1"], report["throughput_3"], report["mixed"],
                          report["sync_latency_ms"])
    lines = [
        f"# Scale-out on loopback ({report['cores']} cores, {args.model})", "",
        "| workers | jobs | seconds | jobs/min |", "|---|---|---|---|",
        *(f"| {t['workers']} | {t['jobs']} | {t['seconds']} | {t['jobs_per_minute']} |"
          for t in (t1, t3)),
        f"\n3 workers / 1 worker: {t3['jobs_per_minute'] / t1['jobs_per_minute']:.2f}x", "",
        f"Mixed load: {mixed['requests']} requests in {mixed['seconds']} s; "
        f"{'; '.join(mixed['events'])}.",
        f"Responses: {mixed['responses']}.",
        f"Async jobs accepted {mixed['async_accepted']}, by status {mixed['async_jobs_by_status']}, "
        f"usage rows {mixed['async_usage_rows']}; sync answered 200: {mixed['sync_answered_200']}.",
        f"Failed jobs' reasons: {mixed['async_failures'] or 'none'}.",
        f"Small quota: {mixed['small_quota_credits_used']} of {mixed['small_quota_minutes']} "
        "minutes used.", "",
        f"Synchronous request (2 s clip), median of 10: {lat['queued_median']} ms through the "
        f"queue vs {lat['direct_median']} ms on one `--role all` server: "
        f"{lat['added_by_queue_median']} ms added (fastest: {lat['queued_min']} vs "
        f"{lat['direct_min']} ms).",
    ]
    (OUT / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
