#!/usr/bin/env bash
# Usage: benches/fuzz.sh [TARGET...]   (default: every target below; SECONDS_PER_TARGET=300)
#
# Builds the cargo-fuzz targets in fuzz/ (`cargo +nightly fuzz build`: release, debug
# assertions, AddressSanitizer), seeds fuzz/corpus/TARGET/ (fixtures, fuzz/seeds/TARGET/,
# fuzz/regressions/TARGET/), runs each target for SECONDS_PER_TARGET seconds and prints its
# executions, coverage and any crash/timeout/OOM input written to fuzz/artifacts/TARGET/.
# Exits 1 if a target wrote such an input. Not part of CI. Needs the nightly toolchain and
# cargo-fuzz (`cargo install cargo-fuzz`).
#
# Safe to run again: the corpus grows from run to run, seeds are only copied in.
#
# Settings (environment):
#   SECONDS_PER_TARGET  run time of each target (default 300)
#   FUZZ_RSS_LIMIT_MB   memory limit; past it the input is an OOM finding (default 2048)
#   FUZZ_TIMEOUT        seconds one input may take; past it, a timeout finding (default 10)
#   FUZZ_FIXTURES       audio fixtures (default ../shared/fixtures/audio from the repo root)
#   AUDIO_SEED_BYTES    fixtures larger than twice this are cut to it (default 16384)
#
# The targets run with PATH holding only llvm-symbolizer, so the audio decoder's ffmpeg
# fallback is never found and the built-in decoders are what is fuzzed (stt-core has no switch
# for it), and with TMPDIR on a private directory, removed afterwards.
#
# audio_bytes tolerates the decoder panics stt-core catches (it turns them into errors) and, to
# fuzz on past a bug already reported, panics whose message contains one of the |-separated
# pieces in STT_FUZZ_KNOWN_PANICS; it logs each place once and saves its first input under
# fuzz/artifacts/audio_bytes/caught/ (see fuzz/fuzz_targets/audio_bytes.rs).
#
# Adding a target: `cargo +nightly fuzz add NAME` in fuzz/ (writes fuzz/fuzz_targets/NAME.rs
# and its [[bin]] in fuzz/Cargo.toml), then one line below.
set -euo pipefail

# NAME  MAX_LEN (bytes of one input)
TARGETS_TABLE="
audio_bytes     262144
multipart_form  81920
stream_messages 65536
"

cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/env.sh
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-300}
RSS_LIMIT_MB=${FUZZ_RSS_LIMIT_MB:-2048}
TIMEOUT=${FUZZ_TIMEOUT:-10}
FIXTURES=${FUZZ_FIXTURES:-$ROOT/../shared/fixtures/audio}
AUDIO_SEED_BYTES=${AUDIO_SEED_BYTES:-16384}
FUZZ=$ROOT/fuzz
TRIPLE=$CARGO_BUILD_TARGET

log() { printf '[fuzz] %s\n' "$*" >&2; }

declare -A MAX_LEN=()
ALL=()
while read -r name max_len; do
  [[ -n ${name:-} ]] || continue
  MAX_LEN[$name]=$max_len
  ALL+=("$name")
done <<<"$TARGETS_TABLE"
if (($# > 0)); then SELECTED=("$@"); else SELECTED=("${ALL[@]}"); fi
for target in "${SELECTED[@]}"; do
  [[ -n ${MAX_LEN[$target]:-} ]] || { log "unknown target $target (known: ${ALL[*]})"; exit 2; }
done

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  log "needs cargo-fuzz and the nightly toolchain: rustup toolchain install nightly; cargo install cargo-fuzz"
  exit 2
fi

# Its own lock file, started from the workspace's so both build the same dependency versions.
[[ -f $FUZZ/Cargo.lock ]] || cp "$ROOT/Cargo.lock" "$FUZZ/Cargo.lock"
log "building (cargo +nightly fuzz build --target $TRIPLE)"
(cd "$FUZZ" && cargo +nightly fuzz build --target "$TRIPLE")
BIN_DIR=$FUZZ/target/$TRIPLE/release

# Seeds --------------------------------------------------------------------------------------

# The first input byte of audio_bytes picks the extension hint (fuzz_targets/audio_bytes.rs):
# 0 none, 1 wav, 2 mp3, 3 flac, 4 ogg, 5 m4a, 6 webm.
audio_hint() {
  case ${1,,} in
    wav) echo 1 ;; mp3) echo 2 ;; flac) echo 3 ;; ogg | opus) echo 4 ;;
    m4a | mp4) echo 5 ;; webm) echo 6 ;; *) echo 0 ;;
  esac
}

# seed FILE HINT_BYTE SOURCE [BYTES]: HINT_BYTE, then SOURCE (its first BYTES if given).
seed() {
  local out=$1 hint=$2 source=$3 bytes=${4:-}
  [[ -f $out ]] && return 0
  {
    printf "\\x$(printf %02x "$hint")"
    if [[ -n $bytes ]]; then head -c "$bytes" "$source"; else cat "$source"; fi
  } >"$out.tmp"
  mv "$out.tmp" "$out"
}

seed_audio_bytes() {
  local corpus=$1 file base ext size cut
  if [[ ! -d $FIXTURES ]]; then
    log "no fixtures at $FIXTURES (set FUZZ_FIXTURES); audio_bytes starts from its corpus only"
    return 0
  fi
  declare -A seen=()
  for file in "$FIXTURES"/*; do
    base=$(basename "$file")
    ext=${base##*.}
    case ${ext,,} in wav | mp3 | flac | ogg | opus | m4a | mp4 | webm | aac | aiff | mkv) ;; *) continue ;; esac
    size=$(stat -c %s "$file")
    # Whole when small (an MP4's index may be at its end), else the first AUDIO_SEED_BYTES.
    cut=""
    ((size <= 2 * AUDIO_SEED_BYTES)) || cut=$AUDIO_SEED_BYTES
    seed "$corpus/fixture-$base" "$(audio_hint "$ext")" "$file" "$cut"
    # One seed per format without the hint, so that content sniffing alone is exercised too.
    if [[ -z ${seen[${ext,,}]:-} ]]; then
      seen[${ext,,}]=1
      seed "$corpus/fixture-nohint-$base" 0 "$file" "$cut"
    fi
  done
}

seed_multipart_form() {
  local corpus=$1 wav
  # Past the 16 KiB file limit, and a text field past read_form's 64 KiB limit.
  wav=$(ls "$FIXTURES"/*.wav 2>/dev/null | head -n 1 || true)
  if [[ -n $wav && ! -f $corpus/generated-file-too-large ]]; then
    {
      printf '\x00--X\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
      printf 'Content-Type: audio/wav\r\n\r\n'
      head -c 20000 "$wav"
      printf '\r\n--X\r\nContent-Disposition: form-data; name="model"\r\n\r\nbase\r\n--X--\r\n'
    } >"$corpus/generated-file-too-large"
  fi
  if [[ ! -f $corpus/generated-field-too-long ]]; then
    {
      printf '\x00--X\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n'
      head -c 65600 /dev/zero | tr '\0' 'a'
      printf '\r\n--X--\r\n'
    } >"$corpus/generated-field-too-long"
  fi
}

# Runs ---------------------------------------------------------------------------------------

# Without ffmpeg on PATH; llvm-symbolizer kept for AddressSanitizer's stack traces.
SAFE_PATH=$FUZZ/target/fuzz-path
mkdir -p "$SAFE_PATH"
if symbolizer=$(command -v llvm-symbolizer); then ln -sf "$symbolizer" "$SAFE_PATH/llvm-symbolizer"; fi
if PATH=$SAFE_PATH command -v ffmpeg >/dev/null; then log "ffmpeg is on the fuzzing PATH"; exit 2; fi
FUZZ_TMP=$(mktemp -d "${TMPDIR:-/tmp}/stt-fuzz.XXXXXX")
trap 'rm -rf "$FUZZ_TMP"' EXIT

found=0
summary=()
for target in "${SELECTED[@]}"; do
  corpus=$FUZZ/corpus/$target
  artifacts=$FUZZ/artifacts/$target
  logs=$FUZZ/logs
  mkdir -p "$corpus" "$artifacts" "$logs"
  if declare -F "seed_$target" >/dev/null; then "seed_$target" "$corpus"; fi
  for file in "$FUZZ/seeds/$target"/* "$FUZZ/regressions/$target"/*; do
    if [[ -f $file && ! -e $corpus/$(basename "$file") ]]; then cp "$file" "$corpus/"; fi
  done
  stamp=$logs/$target.start
  touch "$stamp"
  log_file=$logs/$target.log
  log "$target: ${SECONDS_PER_TARGET}s, corpus $(find "$corpus" -type f | wc -l) inputs, log $log_file"
  status=0
  mkdir -p "$artifacts/caught"
  env PATH="$SAFE_PATH" TMPDIR="$FUZZ_TMP" RUST_BACKTRACE=1 STT_FUZZ_CAUGHT_DIR="$artifacts/caught" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0" \
    "$BIN_DIR/$target" "$corpus" \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_LIMIT_MB" -timeout="$TIMEOUT" \
    -max_len="${MAX_LEN[$target]}" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    >"$log_file" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log_file" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log_file" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [^ ]*' "$log_file" | tail -n 1 || true)
  new=$(find "$artifacts" -maxdepth 1 -type f -newer "$stamp" | sort)
  caught=$(find "$artifacts/caught" -type f -newer "$stamp" | wc -l)
  line="$target: exit $status, ${execs:-?} executions (${rate:-?}/s), ${cov:-no coverage line}"
  ((caught == 0)) || line+=", $caught new tolerated panic(s) (caught by stt-core, or STT_FUZZ_KNOWN_PANICS; inputs in $artifacts/caught/)"
  if [[ -n $new ]]; then
    found=1
    line+=", FINDINGS: $(echo "$new" | xargs -n1 basename | tr '\n' ' ')"
    # What stopped it: a panic (audio_bytes prints its own header) or a sanitizer/libFuzzer error.
    grep -m1 -A1 -E "^==== (panic out of|load_bytes returned)|^thread '.*' panicked at" "$log_file" >&2 ||
      grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer)' "$log_file" >&2 || true
  else
    line+=", no crash/timeout/oom"
  fi
  summary+=("$line")
  log "$line"
done

printf '\n[fuzz] summary (%ss per target; inputs under fuzz/artifacts/, logs under fuzz/logs/)\n' "$SECONDS_PER_TARGET"
printf '[fuzz]   %s\n' "${summary[@]}"
if ((found)); then
  printf '[fuzz] reproduce: fuzz/target/%s/release/TARGET INPUT; minimise: cd fuzz && cargo +nightly fuzz tmin TARGET INPUT\n' "$TRIPLE"
fi
exit "$found"
