#!/usr/bin/env bash
# The Python SDK as users get it: build the abi3 wheel, `pip install` it into a fresh venv
# (its onnxruntime dependency from PyPI, pinned by scripts/requirements.txt as constraints),
# then run stt-py/tests there against the real engine, models and a real `stt serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
unset STT_PYTHON STT_ORT_LIB ORT_DYLIB_PATH # the SDK must find its runtime by itself

wheels=target/wheels
rm -rf "$wheels"
"$STT_HOME/venv/bin/maturin" build --quiet --release --strip -m stt-py/Cargo.toml -o "$wheels"

venv="$STT_HOME/sdk-test-venv"
rm -rf "$venv"
python3 -m venv "$venv"
# Constraints cannot name extras (`moto[server]`): the pins without them.
constraints="$venv/constraints.txt"
sed 's/\[[^]]*\]//' scripts/requirements.txt >"$constraints"
"$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" \
  "$wheels"/stt-*.whl pytest mypy
"$venv/bin/python" -m pytest -q stt-py/tests "$@"
