"""What the Python test suites share (this directory's tests, and the SDK's in
stt-py/tests): the release `stt` binary, the audio fixtures, `stt serve` processes on loopback
with their own data directories, a loopback HTTP server over the fixtures, and the one word
normalisation and edit distance that every word error rate here (tests and benches/) counts with.

Nothing is built here: `target/release/stt` must exist (`cargo build --release -p stt-server`
or scripts/setup.sh). Only the standard library and pytest are used.
"""

import functools
import hashlib
import http.server
import io
import json
import os
import re
import struct
import subprocess
import threading
import time
import wave
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STT = REPO / "target" / "release" / "stt"
FIXTURES = Path(os.environ.get("STT_FIXTURES", REPO.parent / "shared" / "fixtures" / "audio"))
START_TIMEOUT_S = 120


def words(text):
    """Lower-case words without punctuation (and without the `[left]`/`[right]` speaker notes
    of some references)."""
    text = re.sub(r"\[(left|right)\]", " ", text.lower())
    text = re.sub(r"[^\w']+", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


def edit_distance(reference, hypothesis):
    """Word insertions, deletions and substitutions between two word lists."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i] + [0] * len(hypothesis)
        for j, h in enumerate(hypothesis, 1):
            current[j] = min(previous[j - 1] + (r != h), previous[j] + 1, current[j - 1] + 1)
        previous = current
    return previous[-1]


def wer(reference, hypothesis):
    """Word error rate of `hypothesis` against `reference` (texts)."""
    expected = words(reference)
    return edit_distance(expected, words(hypothesis)) / max(1, len(expected))


def stt_binary():
    if not STT.is_file() or not os.access(STT, os.X_OK):
        pytest.fail(
            f"{STT} is missing: build it first with `cargo build --release -p stt-server` "
            "(or run scripts/setup.sh)",
            pytrace=False,
        )
    return STT


def fixture_path(name):
    path = FIXTURES / name
    if not path.is_file():
        pytest.fail(f"audio fixture {path} is missing (set STT_FIXTURES)", pytrace=False)
    return path


def test_database(data_dir):
    """With `STT_TEST_DATABASE` (a PostgreSQL server's URL, set by scripts/test.sh for the
    second pass of the server tests), the database of the server on `data_dir`: created on
    first use, the same one for a server restarted on that directory. None otherwise."""
    base = os.environ.get("STT_TEST_DATABASE")
    if not base:
        return None
    name = "stt_" + hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    exists = subprocess.run(["psql", base, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                            capture_output=True, text=True, timeout=60, check=True)
    if exists.stdout.strip() != "1":
        subprocess.run(["psql", base, "-qc", f"CREATE DATABASE {name}"], capture_output=True,
                       text=True, timeout=60, check=True)
    return base.rsplit("/", 1)[0] + "/" + name


class Server:
    """One `stt serve` process on a free loopback port, with its own data directory (and its
    own PostgreSQL database when the tests run against one: `test_database`)."""

    def __init__(self, data_dir, flags, command="serve", database=None, env=None, wrapper=()):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        database = database or test_database(self.data_dir)
        self.store_flags = ["--data-dir", str(self.data_dir)]
        if database:
            self.store_flags += ["--database", database]
        self.flags = list(flags)
        self.stderr_path = self.data_dir.parent / f"{self.data_dir.name}.stderr.log"
        # Appended to, so that a server restarted on the same directory keeps the first log.
        self._stderr = open(self.stderr_path, "a")
        self.command = command
        self.wrapper = list(wrapper)
        argv = [*self.wrapper, str(stt_binary()), command, "--port", "0", *self.store_flags,
                *self.flags]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
            text=True, env={**os.environ, **(env or {})},
        )
        self.base = self._wait_for_listening()
        # Keep draining standard output so that the server never blocks on a full pipe.
        threading.Thread(target=self._drain_stdout, daemon=True).start()

    def _wait_for_listening(self):
        found = {}

        def read():
            for line in self.process.stdout:
                match = re.search(r"listening on (http://\S+)", line)
                if match:
                    found["base"] = match.group(1).rstrip("/")
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        if "base" not in found:
            self.process.kill()
            self.process.wait()
            why = ("exited with status %d" % self.process.returncode
                   if not reader.is_alive() else f"did not listen within {START_TIMEOUT_S} s")
            pytest.fail(f"`stt {self.command} {' '.join(self.flags)}` {why}; stderr:\n{self.stderr()}",
                        pytrace=False)
        return found["base"]

    def _drain_stdout(self):
        for _ in self.process.stdout:
            pass

    def url(self, path):
        return f"{self.base}{path}"

    def stderr(self, tail_chars=6000):
        try:
            return self.stderr_path.read_text(errors="replace")[-tail_chars:]
        except OSError as error:
            return f"(cannot read stderr: {error})"

    def alive(self):
        return self.process.poll() is None

    def create_key(self, **options):
        """`stt keys create` on this server's data directory; returns its JSON (`id`, `key`,
        limits). Options: plan, minutes, concurrency, max_upload_mb, name."""
        command = [str(stt_binary()), "keys", "create", *self.store_flags]
        for name, value in options.items():
            command += [f"--{name.replace('_', '-')}", str(value)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{command} failed: {done.stderr}"
        created = json.loads(done.stdout.strip().splitlines()[-1])
        assert created["key"] and created["id"], created
        return created

    def revoke_key(self, key_id):
        command = [str(stt_binary()), "keys", "revoke", key_id, *self.store_flags]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{command} failed: {done.stderr}"

    def stop(self):
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr.close()


def wav_bytes(samples, rate=16000):
    """A 16-bit mono WAV of `samples` (integers) at `rate` Hz."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


def auth(key):
    return {"Authorization": f"Bearer {key}"}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_fixtures():
    """A loopback HTTP server over the audio fixtures (for `url` jobs); returns it and its
    base URL. Call `shutdown()` and `server_close()` on it when done."""
    handler = functools.partial(_QuietHandler, directory=str(FIXTURES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def wait_until(predicate, timeout, interval=0.25):
    """Calls `predicate` until it returns something other than None (a 404 response is
    falsy, hence not truthiness), or `timeout` seconds pass; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value is not None or time.monotonic() > deadline:
            return value
        time.sleep(interval)
