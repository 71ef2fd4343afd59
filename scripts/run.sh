#!/usr/bin/env bash
# The main job: set up (idempotent), then transcribe a recording with the base model.
# Usage: scripts/run.sh [FILE] [stt transcribe options...]
# Without arguments: plain text of fixtures/audio/jfk.flac, decoded in text-only mode (no
# timestamp tokens), which is what a plain-text answer for a clip under 30 s needs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if (($# == 0)); then
  set -- fixtures/audio/jfk.flac --format txt --without-timestamps
fi
exec target/release/stt transcribe "$@"
