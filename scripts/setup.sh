#!/usr/bin/env bash
# Sets up everything on a fresh machine, idempotently (a second run only checks):
# Debian packages, a Python venv with the converter's and the tests' packages, the ONNX Runtime
# library, a release build of `stt`, the base and tiny.en models and the Silero voice activity
# detector under $STT_HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

venv="$STT_HOME/venv"
log() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages: ffmpeg (formats symphonia cannot read, test media), cmake (builds libopus),
# postgresql (the shared database of the tests and the scale benchmark, started by them), the
# fonts of PDF exports (DejaVu Sans: Latin, Greek, Cyrillic; Noto Sans CJK: Chinese, Japanese,
# Korean) and poppler-utils (pdftotext, pdftoppm: the tests read the PDFs back).
missing=()
for pkg in ffmpeg cmake postgresql fonts-dejavu-core fonts-noto-cjk poppler-utils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python: converter dependencies and the reference implementations.
stamp="$venv/.requirements"
if ! cmp -s scripts/requirements.txt "$stamp" 2>/dev/null; then
  log "creating Python environment in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements.txt
  cp scripts/requirements.txt "$stamp"
fi

# ONNX Runtime library, copied from the onnxruntime wheel into the project's cache.
mkdir -p "$STT_HOME/runtime"
if ! ls "$STT_HOME"/runtime/libonnxruntime.so* >/dev/null 2>&1; then
  capi=$("$venv/bin/python" -c "import importlib.util as u, os; print(os.path.join(os.path.dirname(u.find_spec('onnxruntime').origin), 'capi'))")
  log "copying ONNX Runtime from $capi"
  cp "$capi"/libonnxruntime.so.* "$STT_HOME/runtime/"
fi

# The Rust test runner (the machine image has it; elsewhere it is built once).
cargo nextest --version >/dev/null 2>&1 || cargo install --locked --quiet cargo-nextest

log "building stt (release)"
cargo build --release --quiet -p stt-server
# Where every script and test looks for it.
mkdir -p target/release
ln -sfn "../$CARGO_BUILD_TARGET/release/stt" target/release/stt

STT_PYTHON="$venv/bin/python" target/release/stt models pull base tiny.en silero-vad campplus >/dev/null
log "ready: models in $STT_HOME/models, runtime in $STT_HOME/runtime"
