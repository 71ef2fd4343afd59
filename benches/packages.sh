#!/usr/bin/env bash
# Usage: benches/packages.sh   (after scripts/package.sh)
#
# What a user downloads and installs, ours against faster-whisper's, measured the same way:
# - Python: every wheel `pip install` takes for `stt` (dist/'s wheel and its dependencies) and
#   for `faster-whisper`, downloaded once into wheelhouses (pins of scripts/requirements.txt),
#   then installed from them with `--no-index` into fresh venvs (3 runs, median), so the times
#   leave the network out. Also the native parts alone: our wheel against ctranslate2 + av.
# - Node: our two packages installed from their tarballs into a fresh project (3 runs, median),
#   and the ONNX Runtime they carry against taking it from `onnxruntime-node` instead: its
#   tarball and unpacked size (all platforms), and the time to load Whisper base on each
#   library (a fresh `node` per run, 3 runs each, median).
# Prints a Markdown table, also written to benches/out/packages.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export PATH="$STT_HOME/venv/bin:$PATH"
out="$PWD/benches/out/packages"
rm -rf "$out"
mkdir -p "$out"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
wheel=$(ls dist/stt-"$version"-cp39-abi3-manylinux_*_"$(uname -m)".whl)
constraints="$out/constraints.txt"
sed 's/\[[^]]*\]//' scripts/requirements.txt >"$constraints"

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
bytes() { du -cb "$@" | tail -1 | cut -f1; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
seconds() { # seconds of one run of "$@", to 0.01 s
  local start=$EPOCHREALTIME
  "$@" >/dev/null 2>&1
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

pip_download() { # wheelhouse, requirements...
  local house=$1
  shift
  pip download -q --disable-pip-version-check --only-binary=:all: -c "$constraints" -d "$house" "$@"
}
pip_install_time() { # wheelhouse, requirement
  for _ in 1 2 3; do
    rm -rf "$out/venv"
    python3 -m venv --without-pip "$out/venv" # the same empty venv for both; pip runs from outside
    seconds pip --python "$out/venv/bin/python" install -q --disable-pip-version-check --no-index \
      --find-links "$1" "$2"
    echo
  done | median
}

echo "downloading the wheel sets..." >&2
pip_download "$out/ours" "$wheel"
pip_download "$out/fw" faster-whisper
ours_size=$(bytes "$out"/ours/*.whl)
fw_size=$(bytes "$out"/fw/*.whl)
own_size=$(bytes "$wheel")
native_fw=$(bytes "$out"/fw/ctranslate2-*.whl "$out"/fw/av-*.whl)
triple_fw=$(bytes "$out"/fw/ctranslate2-*.whl "$out"/fw/av-*.whl "$out"/fw/onnxruntime-*.whl)
echo "timing pip install..." >&2
ours_time=$(pip_install_time "$out/ours" "$wheel")
ours_installed=$(bytes "$out"/venv/lib/python3*/site-packages)
fw_time=$(pip_install_time "$out/fw" faster-whisper)
fw_installed=$(bytes "$out"/venv/lib/python3*/site-packages)

echo "timing npm install..." >&2
node_platform="linux-$(node -p process.arch)-gnu"
tarballs=("$PWD/dist/stt-node-$node_platform-$version.tgz" "$PWD/dist/stt-node-$version.tgz")
npm_time=$(for _ in 1 2 3; do
  rm -rf "$out/project" && mkdir "$out/project" && echo '{"private": true}' >"$out/project/package.json"
  (cd "$out/project" && seconds npm install --no-audit --no-fund --offline "${tarballs[@]}")
  echo
done | median)
npm_installed=$(bytes "$out"/project/node_modules)
(cd "$out" && npm pack -q onnxruntime-node@1.31.1 >/dev/null)
ortnode_tgz=$(bytes "$out"/onnxruntime-node-*.tgz)
mkdir "$out/ortnode" && tar -C "$out/ortnode" -xzf "$out"/onnxruntime-node-*.tgz
ortnode_unpacked=$(bytes "$out/ortnode/package")
ortnode_lib=$(ls "$out"/ortnode/package/bin/napi-v6/linux/x64/libonnxruntime.so.1)
carried_lib=$(ls "$out"/project/node_modules/stt-node-"$node_platform"/runtime/libonnxruntime.so.*)

load_time() { # median seconds to load Whisper base on the library $1, in a fresh node each run
  for _ in 1 2 3; do
    (cd "$out/project" && node -e "
      const { Whisper } = require('stt-node');
      const start = process.hrtime.bigint();
      new Whisper({ model: 'base', ortLibrary: process.argv[1] }).ready().then(() =>
        console.log((Number(process.hrtime.bigint() - start) / 1e9).toFixed(2)));" "$1")
  done | median
}
echo "timing model loads..." >&2
carried_load=$(load_time "$carried_lib")
ortnode_load=$(load_time "$ortnode_lib")

{
  echo "| | ours | reference | ratio |"
  echo "|---|---|---|---|"
  echo "| Python: wheels downloaded (all dependencies) | $(mb "$ours_size") MB | $(mb "$fw_size") MB (faster-whisper) | $(awk -v a="$ours_size" -v b="$fw_size" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| Python: native wheels | $(mb "$own_size") MB (stt) | $(mb "$native_fw") MB (ctranslate2 + av) | $(awk -v a="$own_size" -v b="$native_fw" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| Python: ctranslate2 + onnxruntime + av | | $(mb "$triple_fw") MB | |"
  echo "| Python: installed size | $(mb "$ours_installed") MB | $(mb "$fw_installed") MB | $(awk -v a="$ours_installed" -v b="$fw_installed" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| Python: \`pip install\` from a local wheelhouse (median of 3) | $ours_time s | $fw_time s | $(awk -v a="$ours_time" -v b="$fw_time" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| Node: tarballs (main + $node_platform) | $(mb "$(bytes "${tarballs[@]}")") MB | | |"
  echo "| Node: installed size | $(mb "$npm_installed") MB | | |"
  echo "| Node: \`npm install\` of the tarballs (median of 3) | $npm_time s | | |"
  echo "| Node: ONNX Runtime carried vs onnxruntime-node 1.31.1 (tarball) | $(mb "$(bytes "$carried_lib")") MB | $(mb "$ortnode_tgz") MB | $(awk -v a="$(bytes "$carried_lib")" -v b="$ortnode_tgz" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| Node: onnxruntime-node unpacked (every platform) | | $(mb "$ortnode_unpacked") MB | |"
  echo "| Node: Whisper base loaded, carried library vs onnxruntime-node's (median of 3) | $carried_load s | $ortnode_load s | $(awk -v a="$carried_load" -v b="$ortnode_load" 'BEGIN { printf "%.2f", a / b }') |"
} | tee benches/out/packages.md
