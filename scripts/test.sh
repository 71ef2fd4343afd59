#!/usr/bin/env bash
# The whole test suite: set-up, formatting, lints, Rust tests on the real models and fixtures,
# the Python checks of the converter and the server, and the Python and Node SDKs as pip and
# npm install them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

export STT_HOME="${STT_HOME:-$HOME/.cache/stt}"
export STT_PYTHON="$STT_HOME/venv/bin/python"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --release --quiet
"$STT_PYTHON" -m pytest -q tests/python
scripts/test_python_sdk.sh
scripts/test_node_sdk.sh
