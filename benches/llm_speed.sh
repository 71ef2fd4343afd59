#!/usr/bin/env bash
# Usage: benches/llm_speed.sh
#
# Speed of our LLM runtime (stt-llm: llama.cpp through llama-cpp-2) against llama.cpp's own
# llama-bench, on the CPU, on the same GGUF files and thread count: prompt processing of 256
# tokens (pp256) and generation of 64 tokens (tg64) in tokens/s (mean ± sd of 3 runs), and
# peak resident memory of each process. For each of qwen2.5-coder-0.5b and qwen2.5-coder-1.5b
# (skipped when not installed), llama-bench (`-p 256 -n 64 -r 3 -o json`) and our bench
# (stt-llm/benches/speed.rs: Llm::generate on a 256-token prompt, 64 greedy tokens, one
# warm-up then 3 runs) run back to back, the order alternating from one model to the next.
# Prints a Markdown table, also written to benches/out/llm_speed.md (raw outputs in
# benches/out/llm_speed/).
#
# What differs by construction: llama-bench's pp test decodes 256 random tokens and its tg
# test decodes 64 tokens into an empty KV cache without sampling; ours reads a real chat prompt
# and generates after it (KV cache at 256..320 tokens), sampling each token with the runtime's
# sampler chain. So llama-bench also runs `-p 0 -n 64 -d 256` (tg64 after 256 tokens of
# context), the like-for-like figure for our generation; peak RSS is that of the first
# llama-bench run. Run it on an idle machine: with as many threads as cores, the figures fall
# apart when other processes compete for them (see the load warnings and the ± columns).
#
# llama-bench is built beside the project, from the llama.cpp source that llama-cpp-sys-2
# vendors, with the crate's cmake options (see the recipe printed when it is missing); that
# build and its outputs are never committed.
#
# Settings (environment):
#   LLAMA_BENCH         the llama-bench binary (default /tmp/llama-ref/build/bin/llama-bench)
#   STT_BENCH_THREADS   threads for both (default 2)
#   STT_BENCH_MODELS    space-separated model names (default: the two above)
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
source scripts/env.sh

LLAMA_BENCH="${LLAMA_BENCH:-/tmp/llama-ref/build/bin/llama-bench}"
THREADS="${STT_BENCH_THREADS:-2}"
MODELS="${STT_BENCH_MODELS:-qwen2.5-coder-0.5b qwen2.5-coder-1.5b}"
OUT=benches/out/llm_speed
PROMPT=256
GEN=64

if [[ ! -x "$LLAMA_BENCH" ]]; then
    sys_version="$(sed -n '/^name = "llama-cpp-sys-2"/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)"
    cat >&2 <<EOF
llama-bench not found at $LLAMA_BENCH (set LLAMA_BENCH). Build it beside the project, never
in it, from the llama.cpp source llama-cpp-sys-2 $sys_version vendors:

  mkdir -p /tmp/llama-ref
  cp -r ~/.cargo/registry/src/*/llama-cpp-sys-2-$sys_version/llama.cpp /tmp/llama-ref/src
  # The crates.io package strips the tools' sources: put tools/llama-bench/llama-bench.cpp
  # from upstream ggml-org/llama.cpp (the commit nearest the vendored one; adapt the few calls
  # whose signatures differ), a tools/llama-bench/CMakeLists.txt that builds it linking
  # llama-common and llama, and only add_subdirectory(llama-bench) in tools/CMakeLists.txt.
  F="-ffunction-sections -fdata-sections -fPIC -m64 -march=x86-64 -w"  # as the crate's build.rs
  cmake -S /tmp/llama-ref/src -B /tmp/llama-ref/build -DCMAKE_BUILD_TYPE=Release \\
    -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_OPENMP=ON -DLLAMA_CURL=OFF \\
    -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF \\
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \\
    "-DCMAKE_C_FLAGS=\$F" "-DCMAKE_CXX_FLAGS=\$F" "-DCMAKE_ASM_FLAGS=\$F"
  nice -n 10 cmake --build /tmp/llama-ref/build --target llama-bench -j 2
EOF
    exit 1
fi

mkdir -p "$OUT"

# Our bench, built once; then the binary is run directly (no cargo in the measured process).
echo "building stt-llm's speed bench..." >&2
build_log="$OUT/build.log"
if ! nice -n 10 cargo bench -p stt-llm --bench speed --no-run >"$build_log" 2>&1; then
    cat "$build_log" >&2
    exit 1
fi
ours_bin="$(sed -n 's/^ *Executable .*(\(.*\))$/\1/p' "$build_log" | tail -n 1)"

run_ours() { # MODEL -> $OUT/ours-MODEL.txt
    if [[ -n "$ours_bin" && -x "$ours_bin" ]]; then
        STT_BENCH_LLM="$1" STT_BENCH_THREADS="$THREADS" "$ours_bin" >"$OUT/ours-$1.txt"
    else
        STT_BENCH_LLM="$1" STT_BENCH_THREADS="$THREADS" \
            cargo bench -q -p stt-llm --bench speed >"$OUT/ours-$1.txt"
    fi
}

run_llama() { # MODEL GGUF -> $OUT/llama-MODEL.json, .stderr, .time, -d$PROMPT.json
    local args=(-m "$2" -t "$THREADS" -p "$PROMPT" -n "$GEN" -r 3 -o json)
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -v -o "$OUT/llama-$1.time" "$LLAMA_BENCH" "${args[@]}" \
            >"$OUT/llama-$1.json" 2>"$OUT/llama-$1.stderr"
    else
        rm -f "$OUT/llama-$1.time"
        "$LLAMA_BENCH" "${args[@]}" >"$OUT/llama-$1.json" 2>"$OUT/llama-$1.stderr"
    fi
    "$LLAMA_BENCH" -m "$2" -t "$THREADS" -p 0 -n "$GEN" -d "$PROMPT" -r 3 -o json \
        >"$OUT/llama-$1-d$PROMPT.json" 2>>"$OUT/llama-$1.stderr"
}

# "avg sd" of llama-bench's test with n_prompt=$2 n_gen=$3 (one field per line in its JSON).
llama_ts() {
    awk -v np="$2" -v ng="$3" '
        /"n_prompt":/ { p = $2 + 0 }
        /"n_gen":/ { g = $2 + 0 }
        /"avg_ts":/ { a = $2 + 0 }
        /"stddev_ts":/ { if (p == np && g == ng) printf "%.2f %.2f\n", a, $2 + 0 }
    ' "$1"
}

# A number from our bench's JSON line.
ours_field() {
    grep '^{"model"' "$1" | sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "") printf "%.2f", a / b }'; }

# "MEAN ± SD" with DIGITS decimals, or "n/a" when the figure is missing.
mean_sd() { # MEAN SD DIGITS
    if [[ -n "$1" ]]; then
        awk -v m="$1" -v s="$2" -v d="$3" 'BEGIN { printf "%." d "f ± %." d "f", m, s }'
    else
        printf 'n/a'
    fi
}

# Percent of CPU time idle over 3 s (from /proc/stat).
cpu_idle() {
    local a b
    a="$(head -n 1 /proc/stat)"
    sleep 3
    b="$(head -n 1 /proc/stat)"
    awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x); split(b, y)
        for (i = 2; i <= 9 && i <= n; i++) total += y[i] - x[i]  # guest time is in user already
        idle = (y[5] - x[5]) + (y[6] - x[6])
        printf "%d", (total > 0 ? 100 * idle / total : 100)
    }'
}

rows=()
notes=()
i=0
for model in $MODELS; do
    gguf="$STT_HOME/models/$model/model.gguf"
    if [[ ! -f "$gguf" ]]; then
        echo "skipping $model: not installed ($gguf missing; stt models pull $model)" >&2
        continue
    fi
    # The load average still counts the previous run; the idle share of the CPUs over the
    # last 3 s tells whether something else is running now.
    load="$(cut -d ' ' -f 1 /proc/loadavg)"
    idle="$(cpu_idle)"
    if ((idle < 85)); then
        echo "warning: the CPUs were only $idle % idle: other processes compete for them" >&2
        notes+=("$model: the CPUs were only $idle % idle just before its runs (figures unreliable)")
    fi
    if ((i % 2 == 0)); then
        echo "$model: llama-bench, then ours (load $load, $idle % idle)..." >&2
        run_llama "$model" "$gguf"
        run_ours "$model"
    else
        echo "$model: ours, then llama-bench (load $load, $idle % idle)..." >&2
        run_ours "$model"
        run_llama "$model" "$gguf"
    fi
    i=$((i + 1))

    read -r l_pp l_pp_sd < <(llama_ts "$OUT/llama-$model.json" "$PROMPT" 0) || true
    read -r l_tg l_tg_sd < <(llama_ts "$OUT/llama-$model.json" 0 "$GEN") || true
    read -r l_tgd l_tgd_sd < <(llama_ts "$OUT/llama-$model-d$PROMPT.json" 0 "$GEN") || true
    l_rss=""
    if [[ -f "$OUT/llama-$model.time" ]]; then
        l_rss="$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' \
            "$OUT/llama-$model.time")"
    fi
    o_file="$OUT/ours-$model.txt"
    o_pp="$(ours_field "$o_file" pp_tps)"
    o_pp_sd="$(ours_field "$o_file" pp_sd)"
    o_pp_n="$(ours_field "$o_file" pp_tokens)"
    o_tg="$(ours_field "$o_file" tg_tps)"
    o_tg_sd="$(ours_field "$o_file" tg_sd)"
    o_tg_n="$(ours_field "$o_file" tg_tokens)"
    o_rss="$(ours_field "$o_file" peak_rss_mb)"
    if [[ "$o_rss" == null ]]; then
        o_rss=""
    elif [[ -n "$o_rss" ]]; then
        o_rss="$(printf '%.0f' "$o_rss")"
    fi
    if [[ "$o_tg_n" != "$GEN" ]]; then
        notes+=("$model: ours generated only $o_tg_n of $GEN tokens (the model stopped early)")
    fi
    if [[ "$o_pp_n" != "$PROMPT" ]]; then
        notes+=("$model: our prompt is $o_pp_n tokens, llama-bench's $PROMPT")
    fi
    rows+=("| $model | $(mean_sd "$o_pp" "$o_pp_sd" 1) | $(mean_sd "$l_pp" "$l_pp_sd" 1) | $(ratio "$o_pp" "$l_pp") | $(mean_sd "$o_tg" "$o_tg_sd" 2) | $(mean_sd "$l_tg" "$l_tg_sd" 2) | $(ratio "$o_tg" "$l_tg") | $(mean_sd "$l_tgd" "$l_tgd_sd" 2) | $(ratio "$o_tg" "$l_tgd") | $o_rss | $l_rss |")
done

{
    echo "LLM speed on the CPU, $THREADS threads: ours (stt-llm) vs llama.cpp's llama-bench ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "| model | pp$PROMPT ours (t/s) | pp$PROMPT llama.cpp (t/s) | ours/llama.cpp | tg$GEN ours (t/s) | tg$GEN llama.cpp (t/s) | ours/llama.cpp | tg$GEN @ d$PROMPT llama.cpp (t/s) | ours/llama.cpp @ d$PROMPT | peak RSS ours (MiB) | peak RSS llama-bench (MiB) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for row in ${rows[@]+"${rows[@]}"}; do
        echo "$row"
    done
    for note in ${notes[@]+"${notes[@]}"}; do
        echo
        echo "Note: $note"
    done
} | tee "$OUT/../llm_speed.md"
