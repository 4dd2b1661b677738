#!/usr/bin/env bash
# npm run bench: times custody's SIP builder against `tar cf` and bagit-python + tar on the same
# 512 MiB object (generated once under .data/bench/), and shows peak RSS at 128 and 512 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .tools/bagit/bin ]; then export PATH="$PWD/.tools/bagit/bin:$PATH" PYTHONPATH="$PWD/.tools/bagit${PYTHONPATH:+:$PYTHONPATH}"; fi
command -v bagit.py >/dev/null || { echo "bagit.py is missing: pip install bagit (or bash scripts/install-test-tools.sh)" >&2; exit 1; }
exec npx tsx bench/sip-bench.ts "$@"
