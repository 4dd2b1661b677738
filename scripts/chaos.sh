#!/usr/bin/env bash
# npm run chaos [-- --seed N --objects N]: bench/chaos/run.ts (the chaos run; see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
npx tsx bench/chaos/run.ts "$@"
