"""Load test of `stt serve` on loopback: mixed synchronous and asynchronous requests from many
concurrent clients, then one large streamed upload, with the server's memory sampled.

Phase 1: REQUESTS requests from CLIENTS threads, in a fixed mix: /v1/transcribe (json, srt),
/v1/audio/transcriptions (json) and /v1/stt/create + polling /v1/stt/{id} until it ends. Every
request must end 200/201 (async: completed), or 429/503 (counted as refused, with
Retry-After); anything else (another 5xx, a failed job, a connection error) is an error, and
a job that never ends is lost. Reported: throughput, latency percentiles per kind, status
counts, server peak RSS.
Phase 2: UPLOAD_MB of bytes streamed chunked (no Content-Length, so the server cannot refuse
early) to a key whose limit is half of it: the answer must be 413 and the server's RSS must
not grow by anything near the upload size.

usage: ~/.cache/stt/venv/bin/python benches/load.py [--requests 200] [--clients 32]
           [--model tiny.en] [--upload-mb 400] [--stt target/release/stt] [--check]
Writes benches/out/load.json. With --check the exit status is 1 when a request errored, a job
was lost or memory was not bounded (tests/python/test_server_load.py runs it this way).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(os.environ.get("STT_FIXTURES", REPO.parent / "shared" / "fixtures" / "audio"))
CLIPS = [
    "en_librispeech_1089-134691-0000.flac",
    "en_librispeech_1089-134686-0001.flac",
    "en_ljspeech_LJ001-0005.mp3",
    "jfk.flac",
]
KINDS = ["transcribe_json", "transcribe_srt", "openai_json", "async_job"]
# Memory is bounded when the peak stays under this, whatever the load and upload sizes.
RSS_BOUND_MB = 2048


def start_server(stt, data_dir, model):
    process = subprocess.Popen(
        [stt, "serve", "--port", "0", "--data-dir", data_dir, "--model", model],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return process, match.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    sys.exit("the server did not start")


def create_key(stt, data_dir, *args):
    out = subprocess.run(
        [stt, "keys", "create", "--data-dir", data_dir, *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["key"]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    """The server's resident memory every 100 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self):
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.1)

    def stop(self):
        self.running = False
        self.join()
        return self.peak


def one_request(base, key, index):
    kind = KINDS[index % len(KINDS)]
    clip = FIXTURES / CLIPS[index % len(CLIPS)]
    headers = {"Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    outcome = {"kind": kind, "status": None, "error": None}
    try:
        with open(clip, "rb") as audio:
            if kind.startswith("transcribe"):
                fmt = "srt" if kind.endswith("srt") else "json"
                response = requests.post(
                    f"{base}/v1/transcribe",
                    headers=headers,
                    files={"file": (clip.name, audio)},
                    data={"response_format": fmt},
                    timeout=600,
                )
            elif kind == "openai_json":
                response = requests.post(
                    f"{base}/v1/audio/transcriptions",
                    headers=headers,
                    files={"file": (clip.name, audio)},
                    data={"model": "whisper-1"},
                    timeout=600,
                )
            else:
                response = requests.post(
                    f"{base}/v1/stt/create",
                    headers=headers,
                    files={"audio": (clip.name, audio)},
                    timeout=600,
                )
        outcome["status"] = response.status_code
        if response.status_code in (429, 503):
            outcome["retry_after"] = response.headers.get("Retry-After")
        elif kind == "async_job" and response.status_code == 201:
            outcome["generation_id"] = response.json()["generation_id"]
            outcome["job"] = poll(base, headers, outcome["generation_id"])
        elif response.status_code != 200:
            outcome["error"] = f"{response.status_code}: {response.text[:200]}"
        else:
            response.content  # the whole body arrived
    except Exception as error:  # noqa: BLE001 - every failure is counted, none stops the run
        outcome["error"] = repr(error)
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def poll(base, headers, generation_id, timeout=900):
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = requests.get(f"{base}/v1/stt/{generation_id}", headers=headers, timeout=60).json()
        if body["status"] in ("completed", "failed"):
            return body["status"] if body["status"] == "completed" else f"failed: {body.get('error')}"
        time.sleep(0.2)
    return "lost"


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def load_phase(base, key, count, clients, pid):
    sampler = Sampler(pid)
    sampler.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        outcomes = list(pool.map(lambda i: one_request(base, key, i), range(count)))
    wall = time.perf_counter() - started
    peak = sampler.stop()

    statuses, errors, lost, refused = {}, [], 0, 0
    for outcome in outcomes:
        statuses[str(outcome["status"])] = statuses.get(str(outcome["status"]), 0) + 1
        job = outcome.get("job")
        if outcome["status"] in (429, 503):
            refused += 1
            if not outcome.get("retry_after"):
                errors.append(f"{outcome['status']} without Retry-After")
        elif outcome["error"]:
            errors.append(outcome["error"])
        elif job == "lost":
            lost += 1
        elif job and job != "completed":
            errors.append(job)
    completed = [o for o in outcomes if o["status"] in (200, 201) and not o["error"]]
    latency = {}
    for kind in KINDS:
        seconds = [o["seconds"] for o in completed if o["kind"] == kind]
        if seconds:
            latency[kind] = {
                "n": len(seconds),
                "p50": percentile(seconds, 50),
                "p90": percentile(seconds, 90),
                "p99": percentile(seconds, 99),
                "mean": statistics.mean(seconds),
            }
    return {
        "requests": count,
        "clients": clients,
        "wall_seconds": wall,
        "throughput_per_second": len(completed) / wall,
        "completed": len(completed),
        "refused_429_503": refused,
        "errors": errors,
        "lost_jobs": lost,
        "statuses": statuses,
        "latency_seconds": latency,
        "peak_rss_mb": peak,
    }


def upload_phase(base, key, upload_mb, pid):
    """Streams `upload_mb` MB in chunks to a key allowed half of it."""
    chunk = os.urandom(1024 * 1024)

    def body():
        for _ in range(upload_mb):
            yield chunk

    boundary = "loadtestboundary"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"big.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
    ).encode()

    def multipart():
        yield head
        yield from body()
        yield f"\r\n--{boundary}--\r\n".encode()

    before = rss_mb(pid)
    sampler = Sampler(pid)
    sampler.start()
    try:
        response = requests.post(
            f"{base}/v1/transcribe",
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            data=multipart(),
            timeout=600,
        )
        status, text = response.status_code, response.text[:200]
    except requests.ConnectionError as error:
        # The server may close the connection after answering 413 mid-upload.
        status, text = None, repr(error)
    peak = sampler.stop()
    return {
        "upload_mb": upload_mb,
        "status": status,
        "answer": text,
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "growth_mb": peak - before,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--upload-mb", type=int, default=400)
    parser.add_argument("--stt", default=str(REPO / "target" / "release" / "stt"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        server, base = start_server(args.stt, data_dir, args.model)
        try:
            key = create_key(args.stt, data_dir, "--plan", "paid", "--concurrency", "1000")
            small_key = create_key(
                args.stt, data_dir, "--max-upload-mb", str(args.upload_mb // 2)
            )
            report = {
                "model": args.model,
                "load": load_phase(base, key, args.requests, args.clients, server.pid),
                "upload": upload_phase(base, small_key, args.upload_mb, server.pid),
                "health_after": requests.get(f"{base}/health", timeout=10).status_code,
            }
        finally:
            server.kill()
            server.wait()

    out = REPO / "benches" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(report, indent=2))

    load, upload = report["load"], report["upload"]
    print(f"model {args.model}: {load['requests']} requests from {load['clients']} clients "
          f"in {load['wall_seconds']:.1f} s, {load['throughput_per_second']:.2f} completed/s")
    print(f"  completed {load['completed']}, refused (429/503) {load['refused_429_503']}, "
          f"errors {len(load['errors'])}, lost jobs {load['lost_jobs']}, statuses {load['statuses']}")
    for kind, stats in load["latency_seconds"].items():
        print(f"  {kind:16} n={stats['n']:3}  p50 {stats['p50']:6.2f} s  p90 {stats['p90']:6.2f} s"
              f"  p99 {stats['p99']:6.2f} s")
    print(f"  server peak RSS {load['peak_rss_mb']:.0f} MB")
    print(f"upload of {upload['upload_mb']} MB over a {upload['upload_mb'] // 2} MB limit: "
          f"status {upload['status']}, RSS {upload['rss_before_mb']:.0f} -> peak "
          f"{upload['peak_rss_mb']:.0f} MB")
    for error in load["errors"][:10]:
        print(f"  error: {error}")

    problems = []
    if load["errors"]:
        problems.append(f"{len(load['errors'])} requests errored")
    if load["lost_jobs"]:
        problems.append(f"{load['lost_jobs']} jobs lost")
    if load["completed"] + load["refused_429_503"] != load["requests"]:
        problems.append("requests unaccounted for")
    if max(load["peak_rss_mb"], upload["peak_rss_mb"]) > RSS_BOUND_MB:
        problems.append(f"server RSS over {RSS_BOUND_MB} MB")
    if upload["growth_mb"] > upload["upload_mb"] / 4:
        problems.append(f"RSS grew {upload['growth_mb']:.0f} MB during the upload")
    if upload["status"] not in (413, None):
        problems.append(f"oversize upload answered {upload['status']}")
    if report["health_after"] != 200:
        problems.append("server unhealthy after the run")
    print("PASS" if not problems else "FAIL: " + "; ".join(problems))
    if args.check and problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
