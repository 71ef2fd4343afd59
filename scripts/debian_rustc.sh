#!/usr/bin/env bash
# Usage: scripts/debian_rustc.sh TARGET   (prints the path of a rustc that builds for TARGET)
#
# rustup reaches no server here, so it has only the host's standard library. Debian's
# `rustc-web` has the others, one multiarch package each (`libstd-rust-web-dev:arm64`): this
# downloads that compiler and the two standard libraries (host and target) from the Debian
# archive with a private apt index, unpacks them under $STT_HOME/toolchains (nothing is
# installed into the system but the LLVM library the compiler links), and writes a wrapper.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
target=${1:?usage: debian_rustc.sh TARGET}
log() { printf '[debian-rustc] %s\n' "$*" >&2; }

debian_arch() {
  case ${1%%-*} in
  x86_64) echo amd64 ;;
  aarch64) echo arm64 ;;
  *) return 1 ;;
  esac
}
host_arch=$(debian_arch "$CARGO_BUILD_TARGET")
target_arch=$(debian_arch "$target") || { log "no Debian architecture for $target"; exit 1; }

root="$STT_HOME/toolchains/rust-web"
wrapper="$root/rustc-$target_arch"
if [ -x "$wrapper" ] && "$wrapper" --print target-libdir --target "$target" >/dev/null 2>&1; then
  echo "$wrapper"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
apt_dir="$root/apt"
apt_opts=(-o "APT::Architecture=$host_arch" -o "APT::Architectures::=$host_arch"
  -o "APT::Architectures::=$target_arch" -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
rm -rf "$root/debs" "$root/usr"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$root/debs"
log "reading the Debian archive's index for $host_arch and $target_arch"
apt-get "${apt_opts[@]}" -qq update

version=$(apt-cache "${apt_opts[@]}" policy rustc-web | sed -n 's/^ *Candidate: //p')
[ -n "$version" ] && [ "$version" != "(none)" ] || { log "the Debian archive has no rustc-web"; exit 1; }
release=$(sed 's/^\([0-9]*\.[0-9]*\).*/\1/' <<<"$version") # 1.96.0+dfsg1-1~deb12u2 -> 1.96
log "downloading rustc-web $version"
packages=("rustc-web=$version" "libstd-rust-web-$release=$version" "libstd-rust-web-dev=$version"
  "libstd-rust-web-dev:$target_arch=$version")
(cd "$root/debs" && apt-get "${apt_opts[@]}" -qq download "${packages[@]}")
for deb in "$root"/debs/*.deb; do
  dpkg-deb -x "$deb" "$root"
done

# The compiler links the system's LLVM (libllvm22 for 1.96), which Debian installs as a library.
llvm=$(dpkg-deb -f "$root"/debs/"libstd-rust-web-${release}_"*"_$host_arch.deb" Depends |
  grep -o 'libllvm[0-9]*' | head -1)
if [ -n "$llvm" ] && ! dpkg -s "$llvm:$host_arch" >/dev/null 2>&1; then
  log "installing $llvm"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$llvm:$host_arch" >/dev/null
fi

printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s" --sysroot "%s" "$@"\n' \
  "$root/usr/lib/${CARGO_BUILD_TARGET%%-*}-linux-gnu" "$root/usr/bin/rustc" "$root/usr" >"$wrapper"
chmod +x "$wrapper"
"$wrapper" --print target-libdir --target "$target" >/dev/null
log "$("$wrapper" --version) builds for $target"
echo "$wrapper"
