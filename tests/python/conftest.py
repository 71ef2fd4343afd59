"""Fixtures for the tests of `stt serve` (helpers in stt_testing.py). When a test that uses
a server fails, the tail of that server's stderr is added to the failure report.
"""

import pytest

from stt_testing import Server, serve_fixtures


@pytest.fixture(scope="session")
def start_server(tmp_path_factory):
    """A factory: `start_server("--model", "tiny.en", ...)` starts a server on a fresh data
    directory and returns its `Server`; every server is stopped at the end of the session."""
    servers = []

    def start(*flags, name="stt"):
        server = Server(tmp_path_factory.mktemp(name) / "data", flags)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Server):
            state = "running" if value.alive() else f"exited ({value.process.returncode})"
            report.sections.append(
                (f"stt serve {' '.join(value.flags)} [{state}] stderr", value.stderr())
            )


@pytest.fixture(scope="session")
def fixture_http():
    """A loopback HTTP server over the audio fixtures; yields its base URL."""
    server, base = serve_fixtures()
    yield base
    server.shutdown()
    server.server_close()
