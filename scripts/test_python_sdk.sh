#!/usr/bin/env bash
# The Python SDK as users get it: the release's manylinux wheel (dist/, scripts/package.sh)
# installed by `pip install` into a fresh venv with no Rust on the PATH (its onnxruntime and onnx
# dependencies from PyPI, pinned by scripts/requirements.txt as constraints), then stt-py/tests
# run there against the real engine, models and a real `stt serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
unset STT_PYTHON STT_ORT_LIB ORT_DYLIB_PATH # the SDK must find its runtime by itself
PATH=$(path_without_rust)
! command -v cargo rustc >/dev/null || { echo "cargo or rustc still on the PATH" >&2; exit 1; }

wheels=(dist/stt-*-manylinux_*_"$(uname -m)".whl)
[ -f "${wheels[0]}" ] || { echo "no manylinux wheel in dist/: run scripts/package.sh" >&2; exit 1; }

venv="$STT_HOME/sdk-test-venv"
rm -rf "$venv"
python3 -m venv "$venv"
# Constraints cannot name extras (`moto[server]`): the pins without them.
constraints="$venv/constraints.txt"
sed 's/\[[^]]*\]//' scripts/requirements.txt >"$constraints"
"$venv/bin/pip" install -q --disable-pip-version-check --only-binary=:all: -c "$constraints" \
  "${wheels[0]}" pytest mypy
"$venv/bin/python" -m pytest -q stt-py/tests "$@"
