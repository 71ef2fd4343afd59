#!/usr/bin/env bash
# The main job: set up (idempotent), then transcribe a recording with the base model.
# Usage: scripts/run.sh [FILE] [stt transcribe options...]   (default: fixtures/audio/jfk.flac, txt)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if (($# == 0)); then
  set -- fixtures/audio/jfk.flac --format txt
fi
exec target/release/stt transcribe "$@"
