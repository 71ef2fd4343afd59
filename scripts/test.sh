#!/usr/bin/env bash
# The whole test suite: set-up, formatting, lints, Rust tests on the real models and fixtures,
# and the Python checks of the converter against CTranslate2.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

export STT_HOME="${STT_HOME:-$HOME/.cache/stt}"
export STT_PYTHON="$STT_HOME/venv/bin/python"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --release --quiet
"$STT_PYTHON" -m pytest -q tests/python
