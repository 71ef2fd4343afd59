"""Fixtures of the Python SDK tests. They run in a fresh virtualenv where the built wheel is
installed (scripts/test_python_sdk.sh), against the real engine, models and fixtures."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "python"))

from stt_testing import FIXTURES, Server, fixture_path, serve_fixtures  # noqa: E402

import stt  # noqa: E402

__all__ = ["FIXTURES", "REPO", "fixture_path"]


@pytest.fixture(scope="session")
def base():
    """The base model, loaded once."""
    return stt.Whisper("base")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A `stt serve` on loopback (base as its model, private urls allowed so that
    `url` jobs can fetch from the fixture server) and an API key for it."""
    server = Server(
        tmp_path_factory.mktemp("sdk-server") / "data",
        ["--model", "base", "--workers", "1", "--allow-private-urls"],
    )
    server.key = server.create_key(plan="paid")["key"]
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fixture_http():
    http_server, base_url = serve_fixtures()
    yield base_url
    http_server.shutdown()
    http_server.server_close()
