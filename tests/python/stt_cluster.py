"""A scale-out deployment on loopback for the tests and benchmarks: one PostgreSQL
(`scripts/postgres.sh`), one S3-compatible object store (moto in server mode), and any number
of `stt serve --role api` nodes and `stt worker` nodes sharing them."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

from stt_testing import REPO, Server, wait_until

BUCKET = "stt-audio"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Postgres:
    """A throwaway PostgreSQL server; `url` names a new database in it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="stt-postgres.", dir="/tmp")
        script = REPO / "scripts" / "postgres.sh"
        self.script = str(script)
        done = subprocess.run([self.script, "start", self.dir], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"PostgreSQL did not start: {done.stderr}"
        self.admin_url = done.stdout.strip()
        self.url = self.new_database()

    def new_database(self):
        name = f"stt_{os.urandom(6).hex()}"
        self.sql(f"CREATE DATABASE {name}")
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def sql(self, statement, url=None):
        done = subprocess.run(["psql", url or self.admin_url, "-tAc", statement],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{statement}: {done.stderr}"
        return done.stdout.strip()

    def stop(self):
        subprocess.run([self.script, "stop", self.dir], capture_output=True, timeout=120)
        subprocess.run(["rm", "-rf", self.dir])


class ObjectStore:
    """moto's S3 server on a free loopback port, with one bucket; `env` is what the nodes
    need to reach it (the usual AWS variables)."""

    def __init__(self, log_dir):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log = open(Path(log_dir) / "moto.log", "w")
        moto = Path(sys.executable).parent / "moto_server"
        self.process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=self._log, stderr=subprocess.STDOUT)
        self.env = {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "stt-test",
            "AWS_SECRET_ACCESS_KEY": "stt-test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        self.client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="stt-test", aws_secret_access_key="stt-test-secret",
        )

        def bucket_made():
            try:
                self.client.create_bucket(Bucket=BUCKET)
                return True
            except Exception:
                return None  # not up yet

        assert wait_until(bucket_made, 30), "moto_server did not start"
        self.storage = f"s3://{BUCKET}/audio"

    def objects(self):
        listed = self.client.list_objects_v2(Bucket=BUCKET)
        return [item["Key"] for item in listed.get("Contents", [])]

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self._log.close()


class Cluster:
    """PostgreSQL, the object store, and the nodes started on them."""

    def __init__(self, base_dir, flags=()):
        self.base_dir = Path(base_dir)
        self.flags = list(flags)
        self.postgres = Postgres()
        self.store = ObjectStore(self.base_dir)
        self.nodes = []

    def _start(self, command, name, flags, wrapper=()):
        data_dir = self.base_dir / f"{name}-{len(self.nodes)}"
        role = ["--role", "api"] if command == "serve" else []
        node = Server(data_dir, [*role, "--storage", self.store.storage, *self.flags, *flags],
                      command=command, database=self.postgres.url, env=self.store.env,
                      wrapper=wrapper)
        self.nodes.append(node)
        return node

    def api(self, *flags):
        return self._start("serve", "api", flags)

    def worker(self, *flags, wrapper=()):
        """`wrapper`: a command line the worker runs under (`taskset -c 0`, say)."""
        return self._start("worker", "worker", flags, wrapper)

    def restart(self, node):
        """The same node again on its data directory (after it stopped or was killed)."""
        node.stop()
        again = Server(node.data_dir, node.flags, command=node.command,
                       database=self.postgres.url, env=self.store.env, wrapper=node.wrapper)
        self.nodes[self.nodes.index(node)] = again
        return again

    def create_key(self, **options):
        return self.nodes[0].create_key(**options)

    def stop(self):
        for node in self.nodes:
            node.stop()
        self.store.stop()
        self.postgres.stop()


def wait_for(predicate, timeout, what):
    start = time.monotonic()
    assert wait_until(predicate, timeout), f"{what} did not happen within {timeout} s"
    return time.monotonic() - start
