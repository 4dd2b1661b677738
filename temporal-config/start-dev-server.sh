#!/usr/bin/env bash
# Starts the Temporal dev server with custody's settings (dev-server.env, search-attributes.json),
# waits until it answers, and sets the namespace's retention. A server already running on the
# same state folder is reused.
set -euo pipefail
CUSTODY_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=dev-server.env
. "$CUSTODY_ROOT/temporal-config/dev-server.env"
temporal=$("$CUSTODY_ROOT/temporal-config/get-temporal.sh")
state=$CUSTODY_TEMPORAL_STATE_DIR
mkdir -p "$state"
address="$CUSTODY_TEMPORAL_IP:$CUSTODY_TEMPORAL_PORT"

answers() { "$temporal" operator namespace describe --address "$address" -n "$CUSTODY_TEMPORAL_NAMESPACE" >/dev/null 2>&1; }

if [ -f "$state/server.pid" ] && kill -0 "$(cat "$state/server.pid")" 2>/dev/null && answers; then
  echo "Temporal dev server already running at $address (pid $(cat "$state/server.pid"))"
  exit 0
fi

args=(server start-dev --ip "$CUSTODY_TEMPORAL_IP" --port "$CUSTODY_TEMPORAL_PORT"
  --ui-port "$CUSTODY_TEMPORAL_UI_PORT" --db-filename "$state/custody.db"
  --namespace "$CUSTODY_TEMPORAL_NAMESPACE" --log-level warn)
[ "$CUSTODY_TEMPORAL_HEADLESS" = 1 ] && args+=(--headless)
while IFS='=' read -r name type; do
  args+=(--search-attribute "$name=$type")
done < <(node -e 'for (const [k, v] of Object.entries(require(process.argv[1]))) console.log(`${k}=${v}`)' \
  "$CUSTODY_ROOT/temporal-config/search-attributes.json")

# setsid: the server outlives this script and is not killed by a Ctrl-C meant for a caller.
setsid "$temporal" "${args[@]}" >"$state/server.log" 2>&1 < /dev/null &
echo $! >"$state/server.pid"

for _ in $(seq 1 120); do
  if answers; then break; fi
  if ! kill -0 "$(cat "$state/server.pid")" 2>/dev/null; then
    echo "Temporal dev server exited during start-up; its log ($state/server.log) ends:" >&2
    tail -n 20 "$state/server.log" >&2
    exit 1
  fi
  sleep 0.5
done
answers || { echo "Temporal dev server did not answer at $address within 60 s (log: $state/server.log)" >&2; exit 1; }

"$temporal" operator namespace update --address "$address" -n "$CUSTODY_TEMPORAL_NAMESPACE" \
  --retention "$CUSTODY_TEMPORAL_RETENTION" >/dev/null
echo "Temporal dev server at $address, namespace $CUSTODY_TEMPORAL_NAMESPACE (retention $CUSTODY_TEMPORAL_RETENTION)"
[ "$CUSTODY_TEMPORAL_HEADLESS" = 1 ] || echo "Web UI: http://localhost:$CUSTODY_TEMPORAL_UI_PORT/namespaces/$CUSTODY_TEMPORAL_NAMESPACE/workflows"
