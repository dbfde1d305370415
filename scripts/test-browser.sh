#!/usr/bin/env bash
# Browser tests: builds both wasm bundles + stages the models (scripts/build-web.sh), then runs
# the playwright-core tests in headless Debian Chromium (WebGPU on SwiftShader; the CPU fallback
# with WebGPU disabled). The tests start their own server (scripts/serve.mjs) under a sub-path
# with the strict CSP. Screenshots + metrics.json land in tests/browser/artifacts/.
# Exits non-zero on any failure.   Options: --no-build (use www/ as it is).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
# The native CLI too: a page test runs the page's "Reproduce" command and compares its tokens.
if [ "${1:-}" != "--no-build" ]; then ./scripts/build-web.sh; cargo build --release; fi
command -v chromium >/dev/null || { echo "chromium is missing: run scripts/setup.sh" >&2; exit 1; }
cd tests/browser
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent
rm -rf artifacts && mkdir -p artifacts
node --test --test-concurrency=1 --test-reporter=spec state.test.mjs models.test.mjs animate.test.mjs chart.test.mjs docs.test.mjs eval-table.test.mjs protocol.test.mjs reproduce.test.mjs wasm.test.mjs serve.test.mjs page.test.mjs
echo "== browser tests passed; screenshots in tests/browser/artifacts/"
cat artifacts/metrics.json
