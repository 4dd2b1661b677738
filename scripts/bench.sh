#!/usr/bin/env bash
# npm run bench [-- sip|storage|worker|scale|orchestration|enqueue] (or BENCH=name npm run bench): the SIP
# builder against `tar cf` and bagit-python + tar on the same 512 MiB object (bench/sip-bench.ts),
# custody's S3 storage against the bare AWS SDK on a local Versity Gateway (bench/storage-bench.ts),
# the peak RSS of a compiled worker against a tsx one while it builds a 512 MiB SIP
# (bench/worker-rss-bench.ts), status and enqueue on a million-object ledger
# (bench/archive-scale-bench.ts), custody's orchestration against the engine's floor and a plain loop
# (bench/orchestration-bench.ts), and `custody enqueue` against a bare start loop (bench/enqueue-bench.ts),
# the last two each on a dev server of its own (BENCH_TEMPORAL_PORT, 23300). Data is generated once
# under .data/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
which="${1:-${BENCH:-all}}"
if [ "$which" = all ] || [ "$which" = sip ]; then
  if [ -d .tools/bagit/bin ]; then export PATH="$PWD/.tools/bagit/bin:$PATH" PYTHONPATH="$PWD/.tools/bagit${PYTHONPATH:+:$PYTHONPATH}"; fi
  command -v bagit.py >/dev/null || { echo "bagit.py is missing: pip install bagit (or bash scripts/install-test-tools.sh)" >&2; exit 1; }
  npx tsx bench/sip-bench.ts
fi
if [ "$which" = all ] || [ "$which" = storage ]; then
  npx tsx bench/storage-bench.ts
fi
if [ "$which" = all ] || [ "$which" = scale ]; then
  npx tsx bench/archive-scale-bench.ts
fi
if [ "$which" = all ] || [ "$which" = worker ]; then
  npx tsx bench/worker-rss-bench.ts
fi
if [ "$which" = all ] || [ "$which" = orchestration ]; then
  CUSTODY_TEST_TEMPORAL_PORT="${BENCH_TEMPORAL_PORT:-23300}" npx tsx bench/orchestration-bench.ts
fi
if [ "$which" = all ] || [ "$which" = enqueue ]; then
  CUSTODY_TEST_TEMPORAL_PORT="${BENCH_TEMPORAL_PORT:-23300}" npx tsx bench/enqueue-bench.ts
fi
