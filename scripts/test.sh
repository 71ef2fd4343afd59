#!/usr/bin/env bash
# The whole test suite: set-up, formatting, lints, Rust tests on the real models and fixtures,
# the Python checks of the converter and the server, the release artifacts, and the Python and
# Node SDKs as pip and npm install them from those artifacts. Every stage's time is printed at the end (README, "Tests").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export STT_PYTHON="$STT_HOME/venv/bin/python"

timings=()
stage() {
  local name=$1 start=$SECONDS
  shift
  printf '[test] %s\n' "$name" >&2
  "$@"
  timings+=("$(printf '%-34s %5d s' "$name" $((SECONDS - start)))")
}
report() {
  local status=$?
  printf '[test] stage times:\n' >&2
  printf '[test]   %s\n' "${timings[@]}" >&2
  printf '[test] total %d s, exit %d\n' "$SECONDS" "$status" >&2
}
trap report EXIT

lint() {
  cargo fmt --all -- --check
  # In the release profile: the build scripts (libopus, SQLite, ring) already ran for set-up.
  cargo clippy --release --workspace --all-targets --quiet -- -D warnings
}

# The server's contract again on PostgreSQL: the storage tests and the server's pytest files,
# each server with its own database on one throwaway PostgreSQL on loopback.
on_postgres() (
  dir=$(mktemp -d /tmp/stt-postgres.XXXXXX)
  trap 'scripts/postgres.sh stop "$dir"; rm -rf "$dir"' EXIT
  url=$(scripts/postgres.sh start "$dir")
  STT_TEST_DATABASE=$url cargo nextest run --release --no-fail-fast --status-level fail \
    -p stt-server -E 'test(/storage::/)'
  STT_TEST_DATABASE=$url "$STT_PYTHON" -m pytest -q tests/python/test_server.py \
    tests/python/test_server_hardening.py tests/python/test_stream.py \
    tests/python/test_server_restart.py tests/python/test_workspace.py tests/python/test_jobs.py
)

stage "set-up" scripts/setup.sh
stage "fmt, clippy" lint
stage "Rust tests (nextest)" cargo nextest run --release --no-fail-fast --status-level fail \
  --final-status-level slow
stage "converter and server (pytest)" "$STT_PYTHON" -m pytest -q --durations=12 tests/python
stage "server on PostgreSQL" on_postgres
stage "web app (Chromium)" node --test tests/web/app.test.mjs
# The release's artifacts, built with zig for glibc 2.28; the archive and the binaries checked,
# then both SDKs installed from them with no Rust on the PATH.
release() {
  scripts/package.sh
  "$STT_PYTHON" -m pytest -q tests/release
}
stage "release artifacts (package.sh)" release
stage "Python SDK (wheel, pytest)" scripts/test_python_sdk.sh
stage "Node SDK (npm registry, node --test)" scripts/test_node_sdk.sh
