#!/usr/bin/env bash
# The Node SDK as users get it: the release's npm packages (dist/, scripts/package.sh) installed
# by `npm install stt-node` from a loopback registry into a fresh project, with no Rust on the
# PATH, then the `node --test` suite. First, the types committed in stt-node/dist must be the
# ones package.sh generated.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
unset STT_PYTHON STT_ORT_LIB ORT_DYLIB_PATH # the package must use the runtime it carries

if ! git diff --quiet -- 'stt-node/dist/*.d.ts'; then
  git diff --stat -- 'stt-node/dist/*.d.ts' >&2
  echo "stt-node/dist/*.d.ts differ from a fresh build (scripts/package.sh): commit them" >&2
  exit 1
fi
PATH=$(path_without_rust)
! command -v cargo rustc >/dev/null || { echo "cargo or rustc still on the PATH" >&2; exit 1; }
cd stt-node
node --test --test-reporter=spec "$@" test/sdk.test.mjs
