#!/usr/bin/env bash
# Usage: scripts/package.sh [TARGET...]   (default: the host's, x86_64-unknown-linux-gnu)
#
# Builds the release artifacts into dist/, ready to publish:
#   stt-VERSION-cp39-abi3-manylinux_2_28_ARCH.whl  the Python SDK (abi3: CPython 3.9+)
#   stt-VERSION.tar.gz                              its sdist (builds from source, needs Rust)
#   stt-node-VERSION.tgz                            the Node SDK (JavaScript and types)
#   stt-node-PLATFORM-VERSION.tgz                   its addon and ONNX Runtime for one platform
#   stt-VERSION-TARGET.tar.gz                       the `stt` binary, ONNX Runtime, licence, README
# and SHA256SUMS. The main npm package names the platform packages as optionalDependencies
# (the napi-rs convention), so `npm install stt-node` takes the one that fits.
#
# C, C++ and the final link go through zig (the `ziglang` wheel, driven by `maturin zig`)
# against glibc 2.28, the floor of onnxruntime's own wheels: the binaries run on any glibc
# Linux from 2018 on (Debian 10, Ubuntu 18.10, RHEL 8) and carry their own libc++. One build
# in target/dist serves the wheel, the addon and the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export PATH="$STT_HOME/venv/bin:$PATH" # maturin, and the python3 that has ziglang
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
targets=("$@")
((${#targets[@]})) || targets=("$CARGO_BUILD_TARGET")
log() { printf '[package] %s\n' "$*" >&2; }

export CARGO_TARGET_DIR="$PWD/target/dist"
export CARGO_PROFILE_RELEASE_STRIP=symbols # (host strip cannot read other machines' binaries)
rm -rf dist
mkdir -p dist "$CARGO_TARGET_DIR"

# zig as the C/C++ compiler, archiver and linker of one target, for cargo, cc-rs and CMake.
use_zig() {
  local target=$1 arch=${1%%-*} dir="$CARGO_TARGET_DIR/zig/$1" var=${1//-/_}
  mkdir -p "$dir"
  local tool
  for tool in cc c++ ar ranlib; do
    local flags=""
    [[ $tool == c* ]] && flags="-fno-sanitize=all -target $arch-linux-gnu.2.28"
    printf '#!/bin/sh\nexec maturin zig %s -- %s "$@"\n' "$tool" "$flags" >"$dir/$tool"
    chmod +x "$dir/$tool"
  done
  cat >"$dir/toolchain.cmake" <<EOF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR $arch)
set(CMAKE_C_COMPILER $dir/cc)
set(CMAKE_CXX_COMPILER $dir/c++)
set(CMAKE_AR $dir/ar)
set(CMAKE_RANLIB $dir/ranlib)
set(CMAKE_C_LINKER_DEPFILE_SUPPORTED FALSE)
set(CMAKE_CXX_LINKER_DEPFILE_SUPPORTED FALSE)
EOF
  # A cross build gets ggml's baseline kernels (SSE2 on x86_64: the LLM about ten times slower),
  # a native one AVX2, FMA and F16C, which every x86_64 CPU since 2015 has (x86-64-v3): the same.
  [ "$arch" != x86_64 ] || cat >>"$dir/toolchain.cmake" <<'EOF'
foreach(feature SSE42 AVX AVX2 BMI2 FMA F16C)
  set(GGML_${feature} ON CACHE BOOL "" FORCE)
endforeach()
EOF
  export "CC_$var=$dir/cc" "CXX_$var=$dir/c++" "AR_$var=$dir/ar" "RANLIB_$var=$dir/ranlib"
  export "CMAKE_TOOLCHAIN_FILE_$var=$dir/toolchain.cmake"
  # bindgen reads the C headers of the libc that zig compiles against, not the host's.
  local include zig_arch=${arch/x86_64/x86} # (zig keeps x86_64's headers with x86's)
  include=$(python3 -c "import ziglang, os; print(os.path.dirname(ziglang.__file__))")/lib/libc/include
  export "BINDGEN_EXTRA_CLANG_ARGS_$var=--target=$arch-linux-gnu -isystem $include/$zig_arch-linux-gnu \
-isystem $include/generic-glibc -isystem $include/$zig_arch-linux-any -isystem $include/any-linux-any"
  export "CARGO_TARGET_${var^^}_LINKER=$dir/cc"
}

# The npm platform name of a Rust target (napi-rs's names).
npm_platform() {
  case $1 in
  x86_64-unknown-linux-gnu) echo linux-x64-gnu ;;
  aarch64-unknown-linux-gnu) echo linux-arm64-gnu ;;
  *) return 1 ;;
  esac
}

# ONNX Runtime for a target, with its licence and third-party notices: from onnxruntime's wheel
# for that machine (the set-up's venv has the host's; another machine's is fetched from PyPI).
ort_package() {
  local target=$1 ort wheels="$CARGO_TARGET_DIR/ort-wheels/$1"
  if [ "$target" = "$CARGO_BUILD_TARGET" ]; then
    python3 -c "import importlib.util as u, os; print(os.path.dirname(u.find_spec('onnxruntime').origin))"
    return
  fi
  if [ ! -d "$wheels/unpacked" ]; then
    ort=$(sed -n 's/^onnxruntime==//p' scripts/requirements.txt)
    pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.11 \
      --platform "manylinux_2_28_${target%%-*}" "onnxruntime==$ort" -d "$wheels" >&2
    python3 -m zipfile -e "$wheels"/onnxruntime-*.whl "$wheels/unpacked"
  fi
  echo "$wheels/unpacked/onnxruntime"
}
copy_ort() {
  local package
  package=$(ort_package "$1")
  cp "$package"/capi/libonnxruntime.so.* "$2/"
  cp "$package/LICENSE" "$3/onnxruntime-LICENSE"
  cp "$package/ThirdPartyNotices.txt" "$3/onnxruntime-ThirdPartyNotices.txt"
}

staging="$CARGO_TARGET_DIR/staging"
rm -rf "$staging"
platforms=()
for target in "${targets[@]}"; do
  # rustup's standard library where it has one, else Debian's compiler with the target's, in
  # a target directory of its own (the two compilers would rebuild each other's build scripts).
  unset RUSTC
  export CARGO_TARGET_DIR="$PWD/target/dist"
  if [ ! -d "$(rustc --print target-libdir --target "$target")" ]; then
    RUSTC=$(scripts/debian_rustc.sh "$target")
    export RUSTC CARGO_TARGET_DIR="$PWD/target/dist/rustc-web"
  fi
  platform=$(npm_platform "$target") || { log "no npm platform name for $target"; exit 1; }
  use_zig "$target"

  log "$target: Python wheel"
  maturin build --quiet --release --target "$target" --compatibility manylinux_2_28 \
    -m stt-py/Cargo.toml -o dist

  log "$target: stt"
  cargo build --release --quiet --target "$target" -p stt-server
  built="$CARGO_TARGET_DIR/$target/release"

  # napi also writes the loader (native.js) and the types of the addon into stt-node/dist.
  log "$target: the Node addon"
  (cd stt-node && npm install --no-audit --no-fund --loglevel=error &&
    npx napi build --platform --release --target "$target" --output-dir dist --js native.js \
      --dts native.d.ts >/dev/null)

  archive="stt-$version-$target"
  mkdir -p "$staging/$archive"
  cp "$built/stt" LICENSE README.md CHANGELOG.md "$staging/$archive/"
  copy_ort "$target" "$staging/$archive" "$staging/$archive"
  tar -C "$staging" --sort=name --owner=0 --group=0 --numeric-owner -czf "dist/$archive.tar.gz" "$archive"

  package="$staging/stt-node-$platform"
  mkdir -p "$package/runtime"
  cp "stt-node/dist/stt.$platform.node" "$package/"
  copy_ort "$target" "$package/runtime" "$package"
  platforms+=("$platform")
done

log "Python sdist"
maturin sdist -m stt-py/Cargo.toml -o dist >/dev/null

log "npm packages (${platforms[*]})"
(cd stt-node && npx tsc -p .)
node scripts/npm_packages.mjs "$staging" "${platforms[@]}"
for package in "$staging"/stt-node*/; do
  (cd "$package" && npm pack --silent --pack-destination "$OLDPWD/dist" >/dev/null)
done

(cd dist && sha256sum -- * >SHA256SUMS)
log "built into dist/:"
ls -l dist >&2
