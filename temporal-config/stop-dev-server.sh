#!/usr/bin/env bash
# Stops the dev server started by start-dev-server.sh (same state folder); its SQLite file stays.
set -euo pipefail
CUSTODY_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$CUSTODY_ROOT/temporal-config/dev-server.env"
pidfile="$CUSTODY_TEMPORAL_STATE_DIR/server.pid"
[ -f "$pidfile" ] || { echo "no Temporal dev server recorded in $CUSTODY_TEMPORAL_STATE_DIR"; exit 0; }
pid=$(cat "$pidfile")
# The pid must still be that server's: after a reboot it may belong to an unrelated process.
ours() { ps -o args= -p "$1" 2>/dev/null | grep -qF -- "--db-filename $CUSTODY_TEMPORAL_STATE_DIR/custody.db"; }
if kill -0 "$pid" 2>/dev/null && ! ours "$pid"; then
  echo "pid $pid recorded in $pidfile is no longer a Temporal dev server of $CUSTODY_TEMPORAL_STATE_DIR: left alone"
elif kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  echo "Temporal dev server stopped (pid $pid)"
fi
rm -f "$pidfile"
