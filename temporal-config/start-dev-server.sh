#!/usr/bin/env bash
# Starts the Temporal dev server with custody's settings (dev-server.env, search-attributes.json),
# waits until it answers, and sets the namespace's retention. A server this script started on the
# same state folder is reused. A port held by any other process stops it with a message: custody
# would otherwise create its schedules, workflows and retention on a server that is not its own.
set -euo pipefail
CUSTODY_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=dev-server.env
. "$CUSTODY_ROOT/temporal-config/dev-server.env"
temporal=$("$CUSTODY_ROOT/temporal-config/get-temporal.sh")
state=$CUSTODY_TEMPORAL_STATE_DIR
mkdir -p "$state"
address="$CUSTODY_TEMPORAL_IP:$CUSTODY_TEMPORAL_PORT"

answers() { "$temporal" operator namespace describe --address "$address" -n "$CUSTODY_TEMPORAL_NAMESPACE" >/dev/null 2>&1; }

# Does process $1 listen on TCP port $2? Without lsof or ss, being alive is the best sign there is.
listens() {
  if command -v lsof >/dev/null 2>&1; then
    lsof -nP -a -p "$1" -iTCP:"$2" -sTCP:LISTEN >/dev/null 2>&1
  elif command -v ss >/dev/null 2>&1; then
    ss -ltnpH "sport = :$2" 2>/dev/null | grep -q "pid=$1,"
  else
    kill -0 "$1" 2>/dev/null
  fi
}

# The processes (of this user) listening on TCP port $1, for the message.
listeners() {
  if command -v lsof >/dev/null 2>&1; then
    lsof -nP -iTCP:"$1" -sTCP:LISTEN -t 2>/dev/null | sort -u | paste -sd, - || true
  elif command -v ss >/dev/null 2>&1; then
    ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | paste -sd, - || true
  fi
}

# Stops with the port, who holds it and the variable that moves custody's server elsewhere.
port_taken() { # port variable
  local holders
  holders=$(listeners "$1")
  echo "port $1 on $CUSTODY_TEMPORAL_IP ($2) is taken by another process${holders:+ (pid $holders)}, not a dev server started for $state: stop that process or choose another port, e.g. $2=$(($1 + 10))" >&2
  exit 1
}

# Binds the port the way the server will: EADDRINUSE means another process holds it.
check_port_free() { # port variable
  local error
  error=$(node -e 'const s = require("net").createServer();
    s.once("error", (e) => { console.log(e.code === "EADDRINUSE" ? "in use" : e.message); process.exit(1); });
    s.listen({ host: process.argv[1], port: Number(process.argv[2]), exclusive: true }, () => s.close());' "$CUSTODY_TEMPORAL_IP" "$1") && return
  [ "$error" = "in use" ] && port_taken "$1" "$2"
  echo "cannot listen on $CUSTODY_TEMPORAL_IP:$1 ($2): $error" >&2
  exit 1
}

if [ -f "$state/server.pid" ] && listens "$(cat "$state/server.pid")" "$CUSTODY_TEMPORAL_PORT" && answers; then
  echo "Temporal dev server already running at $address (pid $(cat "$state/server.pid"))"
  exit 0
fi

check_port_free "$CUSTODY_TEMPORAL_PORT" CUSTODY_TEMPORAL_PORT
[ "$CUSTODY_TEMPORAL_HEADLESS" = 1 ] || check_port_free "$CUSTODY_TEMPORAL_UI_PORT" CUSTODY_TEMPORAL_UI_PORT

args=(server start-dev --ip "$CUSTODY_TEMPORAL_IP" --port "$CUSTODY_TEMPORAL_PORT"
  --ui-port "$CUSTODY_TEMPORAL_UI_PORT" --db-filename "$state/custody.db"
  --namespace "$CUSTODY_TEMPORAL_NAMESPACE" --log-level warn)
[ "$CUSTODY_TEMPORAL_HEADLESS" = 1 ] && args+=(--headless)
attributes=()
while IFS='=' read -r name type; do
  attributes+=("$name=$type")
  args+=(--search-attribute "$name=$type")
done < <(node -e 'for (const [k, v] of Object.entries(require(process.argv[1]))) console.log(`${k}=${v}`)' \
  "$CUSTODY_ROOT/temporal-config/search-attributes.json")

# setsid: the server outlives this script and is not killed by a Ctrl-C meant for a caller.
setsid "$temporal" "${args[@]}" >"$state/server.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" >"$state/server.pid"

for _ in $(seq 1 120); do
  if answers; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    # Another process took a port between the check and the start.
    grep -q "can't set frontend port.*address already in use" "$state/server.log" && port_taken "$CUSTODY_TEMPORAL_PORT" CUSTODY_TEMPORAL_PORT
    grep -q "can't set UI port.*address already in use" "$state/server.log" && port_taken "$CUSTODY_TEMPORAL_UI_PORT" CUSTODY_TEMPORAL_UI_PORT
    echo "Temporal dev server exited during start-up; its log ($state/server.log) ends:" >&2
    tail -n 20 "$state/server.log" >&2
    exit 1
  fi
  sleep 0.5
done
answers || { echo "Temporal dev server did not answer at $address within 60 s (log: $state/server.log)" >&2; exit 1; }
# What answered must be the server started here, not one that took the port in the meantime.
if ! listens "$pid" "$CUSTODY_TEMPORAL_PORT"; then
  kill -TERM "$pid" 2>/dev/null || true
  port_taken "$CUSTODY_TEMPORAL_PORT" CUSTODY_TEMPORAL_PORT
fi

"$temporal" operator namespace update --address "$address" -n "$CUSTODY_TEMPORAL_NAMESPACE" \
  --retention "$CUSTODY_TEMPORAL_RETENTION" >/dev/null
# --search-attribute registers attributes only when the state is new: a state folder kept from an
# older custody lacks the ones added since, and every workflow task that sets one would fail.
registered=$("$temporal" operator search-attribute list --address "$address" -n "$CUSTODY_TEMPORAL_NAMESPACE")
for attribute in "${attributes[@]}"; do
  name=${attribute%%=*}
  if ! grep -qw "$name" <<<"$registered"; then
    echo "registering search attribute $name, new since this server's state was made" >&2
    "$temporal" operator search-attribute create --address "$address" -n "$CUSTODY_TEMPORAL_NAMESPACE" \
      --name "$name" --type "${attribute#*=}" >/dev/null
  fi
done
echo "Temporal dev server at $address, namespace $CUSTODY_TEMPORAL_NAMESPACE (retention $CUSTODY_TEMPORAL_RETENTION)"
# The same address custody prints in its links (config temporal.webUiUrl follows both variables).
[ "$CUSTODY_TEMPORAL_HEADLESS" = 1 ] || echo "Web UI: ${CUSTODY_TEMPORAL_UI_URL:-http://localhost:$CUSTODY_TEMPORAL_UI_PORT}/namespaces/$CUSTODY_TEMPORAL_NAMESPACE/workflows"
