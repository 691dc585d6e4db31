#!/usr/bin/env bash
# Builds the demo's models from the shared data: ./build.sh [SHARED_DIR]
# (default ../../../shared, or $MLC_SHARED). Writes models/: each model's
# .wasm, its typed bindings (.mjs, .d.mts) and the runtime, with
# `mlc compile --emit js`.
set -euo pipefail
cd "$(dirname "$0")"
shared="${1:-${MLC_SHARED:-../../../shared}}"
shared="$(cd "$shared" && pwd)"
for m in mnist_cntk mobilenet_v2; do
  (cd ../.. && go run ./cmd/mlc compile "$shared/models/$m/model.onnx" --emit js -o examples/browser/models)
done
