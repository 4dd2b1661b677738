#!/usr/bin/env bash
# npm test: installs what is missing, then type-checks, lints and runs every mocha test
# (the tests start their own Temporal dev server and reference preservation service).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
bash scripts/install-tools.sh
bash scripts/install-test-tools.sh
export PATH="$PWD/.tools/bagit/bin:$PATH" PYTHONPATH="$PWD/.tools/bagit${PYTHONPATH:+:$PYTHONPATH}"
echo "== tsc --noEmit"; npx tsc --noEmit
echo "== eslint"; npx eslint .
echo "== prettier"; npx prettier --check .
echo "== mocha"; if [ $# -eq 0 ]; then set -- "test/**/*.test.ts"; fi; npx mocha "$@"
