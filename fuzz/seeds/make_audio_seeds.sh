#!/usr/bin/env bash
# Regenerates fuzz/seeds/audio_bytes/: fractions of a second of the fixtures in the codecs and
# layouts that cut fixtures do not give (an MP4 with its index first or fragmented, ALAC, CAF,
# ADPCM, A-law/µ-law, float and 24-bit multichannel WAV, MP2). Needs ffmpeg. Each file is the
# hint byte of fuzz_targets/audio_bytes.rs (0 none, 1 wav, 2 mp3, 3 flac, 4 ogg, 5 m4a, 6 webm)
# followed by the file. benches/fuzz.sh adds the fixtures themselves.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=${FUZZ_FIXTURES:-../shared/fixtures/audio}/en_librivox_sonnet001_first9s.m4a
out=fuzz/seeds/audio_bytes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
make() { # NAME HINT EXT FFMPEG_ARGS...
  local name=$1 hint=$2 ext=$3
  shift 3
  ffmpeg -v error -y -ss 1 -i "$src" -t 0.15 "$@" "$tmp/$name.$ext"
  { printf "\\x$(printf %02x "$hint")"; cat "$tmp/$name.$ext"; } >"$out/$name"
}
make m4a-faststart 5 m4a -c:a aac -b:a 32k -movflags +faststart
make m4a-fragmented 5 m4a -c:a aac -b:a 32k -movflags frag_keyframe+empty_moov
make m4a-alac 5 m4a -c:a alac -ac 1 -ar 8000
make caf-pcm 0 caf -c:a pcm_s16be -ac 1 -ar 8000
make wav-f32-stereo 1 wav -c:a pcm_f32le -ar 11025 -ac 2
make wav-s24-6ch 1 wav -c:a pcm_s24le -ac 6 -ar 8000
make wav-u8 1 wav -c:a pcm_u8 -ac 1 -ar 8000
make wav-alaw 1 wav -c:a pcm_alaw -ac 1 -ar 8000
make wav-mulaw 1 wav -c:a pcm_mulaw -ac 1 -ar 8000
make wav-adpcm-ima 1 wav -c:a adpcm_ima_wav -ac 1 -ar 8000
make wav-adpcm-ms 1 wav -c:a adpcm_ms -ac 2 -ar 8000
make mp2 2 mp2 -c:a mp2 -ac 1 -ar 22050 -b:a 32k
make ogg-opus 4 ogg -c:a libopus -ac 1 -b:a 12k
make webm-opus 6 webm -c:a libopus -ac 2 -b:a 16k
make flac-24bit 3 flac -c:a flac -sample_fmt s32 -ac 1 -ar 8000
make aiff-s16 0 aiff -ac 1 -ar 8000
make adts-aac 0 aac -c:a aac -b:a 24k -ac 1
ls -l "$out"
