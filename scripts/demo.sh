#!/usr/bin/env bash
# npm run demo [-- --exit]: installs what is missing, starts the Temporal dev server (Web UI on
# :8233), then runs the demo (reference service, worker, schedule, the sample collection).
# However it ends (done, failed, Ctrl-C, SIGTERM), the demo stops its reference service and
# worker, and this script the dev server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
bash scripts/install-tools.sh
CUSTODY_ROOT=$PWD
. temporal-config/dev-server.env
started_server=0
if ! [ -f "$CUSTODY_TEMPORAL_STATE_DIR/server.pid" ] || ! kill -0 "$(cat "$CUSTODY_TEMPORAL_STATE_DIR/server.pid")" 2>/dev/null; then
  started_server=1
fi
stop_server() { [ "$started_server" = 1 ] && temporal-config/stop-dev-server.sh || true; }
# Set before the start: a start that fails half-way leaves no server behind either.
trap stop_server EXIT
temporal-config/start-dev-server.sh
export TEMPORAL_ADDRESS="$CUSTODY_TEMPORAL_IP:$CUSTODY_TEMPORAL_PORT" TEMPORAL_NAMESPACE="$CUSTODY_TEMPORAL_NAMESPACE"
# In the background: bash runs a trap only between commands, so a SIGTERM for this script
# could not otherwise be passed on to the demo while it runs.
node --require tsx/cjs starters/demo.ts "$@" &
demo=$!
trap 'kill -TERM "$demo" 2>/dev/null || true' TERM
trap 'kill -INT "$demo" 2>/dev/null || true' INT
status=0
wait "$demo" || status=$?
# A trap interrupts wait while the demo is still stopping its children: wait for its own status.
while kill -0 "$demo" 2>/dev/null; do
  status=0
  wait "$demo" || status=$?
done
exit "$status"
