#!/usr/bin/env bash
# npm run demo [-- --exit]: installs what is missing, starts the Temporal dev server (Web UI on
# :8233), then runs the demo (reference service, worker, schedule, the sample collection).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-tools.sh
CUSTODY_ROOT=$PWD
. temporal-config/dev-server.env
started_server=0
if ! [ -f "$CUSTODY_TEMPORAL_STATE_DIR/server.pid" ] || ! kill -0 "$(cat "$CUSTODY_TEMPORAL_STATE_DIR/server.pid")" 2>/dev/null; then
  started_server=1
fi
temporal-config/start-dev-server.sh
stop_server() { [ "$started_server" = 1 ] && temporal-config/stop-dev-server.sh || true; }
trap stop_server EXIT
export TEMPORAL_ADDRESS="$CUSTODY_TEMPORAL_IP:$CUSTODY_TEMPORAL_PORT" TEMPORAL_NAMESPACE="$CUSTODY_TEMPORAL_NAMESPACE"
node --require tsx/cjs starters/demo.ts "$@"
