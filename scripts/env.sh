# Sourced by every script: where the cache lives, and the one cargo target every build uses.
export STT_HOME="${STT_HOME:-$HOME/.cache/stt}"
# napi always builds with an explicit --target, into target/<triple>/; a build without one
# would compile every crate a second time. So the server, the tests and the wheel build for
# the same explicit target (and stt-feature-union gives them the same features).
CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
export CARGO_BUILD_TARGET

# PATH without the directories that hold cargo or rustc: the release's packages are installed
# and run under it, as on a machine without Rust.
path_without_rust() {
  local dir kept=()
  local IFS=:
  for dir in $PATH; do
    [ -x "$dir/cargo" ] || [ -x "$dir/rustc" ] || kept+=("$dir")
  done
  printf '%s' "${kept[*]}"
}
