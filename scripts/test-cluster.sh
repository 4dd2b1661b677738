#!/usr/bin/env bash
# npm run test:cluster: the production-shaped tests against a Temporal server on PostgreSQL
# (scripts/cluster-temporal.sh) instead of the dev server: the production end-to-end test (three
# worker processes on S3 and PostgreSQL), crash recovery, two worker processes through a server
# restart, and the short chaos run (seed 13, two worker processes; its Temporal restarts restart this
# server). The cluster gets a fresh state folder and is stopped and removed at the end, unless
# CUSTODY_CLUSTER_DIR names one to keep. Other test files may be given as arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
bash scripts/install-tools.sh
bash scripts/install-test-tools.sh
export PATH="$PWD/.tools/bagit/bin:$PATH" PYTHONPATH="$PWD/.tools/bagit${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${CUSTODY_CLUSTER_DIR:-}" ]; then
  CUSTODY_CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/custody-cluster-XXXXXX")
  chmod 755 "$CUSTODY_CLUSTER_DIR" # PostgreSQL runs as the postgres user under it
  trap 'bash scripts/cluster-temporal.sh stop >/dev/null; rm -rf "$CUSTODY_CLUSTER_DIR"' EXIT
else
  trap 'bash scripts/cluster-temporal.sh stop >/dev/null' EXIT
fi
export CUSTODY_CLUSTER_DIR
started=$(date +%s)
bash scripts/cluster-temporal.sh start
echo "== cluster up in $(($(date +%s) - started)) s"
export CUSTODY_TEST_TEMPORAL_EXTERNAL="127.0.0.1:${CUSTODY_CLUSTER_PORT:-25533}"
export CUSTODY_TEST_TEMPORAL_RESTART="bash scripts/cluster-temporal.sh restart-server"
if [ $# -eq 0 ]; then set -- test/production.e2e.test.ts test/resilience.e2e.test.ts test/cluster/restart-under-load.e2e.ts test/chaos.e2e.test.ts; fi
npx mocha "$@"
