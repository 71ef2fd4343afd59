#!/usr/bin/env bash
# The Node SDK as users get it: build the addon and the TypeScript layer, put the ONNX Runtime
# library of the set-up (from the onnxruntime wheel) into the package, `npm pack`, then run the
# `node --test` suite, which installs the tarball into a new project.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cd stt-node
unset STT_PYTHON STT_ORT_LIB ORT_DYLIB_PATH # the package must use the runtime it carries

npm install --no-audit --no-fund --loglevel=error # (npm ci trips on the lzma optional packages)
npm run --silent build
rm -rf runtime stt-node-*.tgz
mkdir runtime
cp "$STT_HOME"/runtime/libonnxruntime.so.* runtime/
npm pack --silent >/dev/null
node --test --test-reporter=spec "$@" test/sdk.test.mjs
