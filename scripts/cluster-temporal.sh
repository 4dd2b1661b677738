#!/usr/bin/env bash
# A production-shaped Temporal on this machine: the Temporal server (v1.32.2, all four services in
# one process) on its own PostgreSQL, instead of the dev server's single process on SQLite.
#   scripts/cluster-temporal.sh start           PostgreSQL, schema, server, namespace, search attributes
#   scripts/cluster-temporal.sh stop            the server, then PostgreSQL (the state stays)
#   scripts/cluster-temporal.sh restart-server  the server alone, PostgreSQL kept (what a deploy does)
#   scripts/cluster-temporal.sh status
# Idempotent: start reuses what runs and what the state folder holds. Settings (environment):
#   CUSTODY_CLUSTER_DIR   state folder (PostgreSQL data, config, logs)   default .data/cluster
#   CUSTODY_CLUSTER_PORT  frontend gRPC port; the other server ports follow it   default 25533
#   CUSTODY_CLUSTER_MEMBERSHIP_PORT  the first of the services' membership ports (it to +6; at
#                         most 32761: PostgreSQL keeps them as smallint)   default frontend port + 30
#   CUSTODY_CLUSTER_PG_PORT  its PostgreSQL                              default 25532
#   CUSTODY_CLUSTER_NAMESPACE                                            default custody
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/node-env.sh"
state=${CUSTODY_CLUSTER_DIR:-$root/.data/cluster}
port=${CUSTODY_CLUSTER_PORT:-25533}
pg_port=${CUSTODY_CLUSTER_PG_PORT:-25532}
namespace=${CUSTODY_CLUSTER_NAMESPACE:-custody}
version=v1.32.2
toolchain=go1.26.10
bin="$root/.tools/temporal-server/bin"
address="127.0.0.1:$port"
membership=${CUSTODY_CLUSTER_MEMBERSHIP_PORT:-$((port + 30))}

say() { echo "cluster-temporal: $*" >&2; }

# The server records each service's membership port in a smallint column (cluster_membership.rpc_port):
# a port above 32767 makes it exit at start-up with "out of range for type smallint".
if [ "$membership" -gt 32761 ]; then
  say "membership ports $membership-$((membership + 6)) are above 32767, which the server's PostgreSQL schema cannot store: set CUSTODY_CLUSTER_MEMBERSHIP_PORT to a free port of at most 32761 (or use a frontend port of at most 32731)"
  exit 2
fi

# The server and its schema tool, built from source once (about 15 minutes on 2 cores), then cached.
ensure_binaries() {
  [ -x "$bin/server" ] && [ -x "$bin/sql" ] && return
  command -v go >/dev/null 2>&1 || { say "Go is needed once to build the Temporal server $version (apt-get install golang, or go.dev/dl)"; exit 1; }
  say "building the Temporal server $version and its sql tool into .tools/temporal-server/bin (once; ~15 min)"
  GOBIN="$bin" GOTOOLCHAIN=$toolchain go install "go.temporal.io/server/cmd/server@$version" "go.temporal.io/server/cmd/tools/sql@$version" >&2
}

# The server module's own schema files (in Go's module cache since the build).
schema_dir() {
  GOTOOLCHAIN=$toolchain go mod download -json "go.temporal.io/server@$version" |
    node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).Dir)'
  echo "/schema/postgresql/v12"
}

# PostgreSQL from the apt binaries, as the tests start theirs (test/support/postgres.ts); as root it runs as postgres.
pg_bin() {
  local v
  v=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
  [ -n "$v" ] && [ -x "/usr/lib/postgresql/$v/bin/initdb" ] || { say "PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/install-test-tools.sh"; exit 1; }
  echo "/usr/lib/postgresql/$v/bin"
}
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_running() { as_pg "$(pg_bin)/pg_ctl" -D "$state/pg" status >/dev/null 2>&1; }

start_pg() {
  local b
  b=$(pg_bin)
  mkdir -p "$state"
  if [ ! -f "$state/pg/PG_VERSION" ]; then
    mkdir -p "$state/pg" "$state/pg-socket"
    [ "$(id -u)" = 0 ] && chown postgres "$state/pg" "$state/pg-socket"
    as_pg "$b/initdb" -D "$state/pg" -A trust -U postgres >/dev/null
  fi
  pg_running && return
  # max_connections: the server's pools (persistence maxConns per service) add up past the default 100.
  as_pg "$b/pg_ctl" -D "$state/pg" -w -l "$state/pg/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $state/pg-socket -c max_connections=300" start >/dev/null
}

# create, setup-schema -v 0.0 and update-schema to the newest version, once per database.
ensure_schema() {
  local schema db dir
  schema=$(schema_dir)
  for db in temporal temporal_visibility; do
    [ -f "$state/schema-$db.done" ] && continue
    dir=temporal
    [ "$db" = temporal_visibility ] && dir=visibility
    local sql=("$bin/sql" --plugin postgres12 --ep 127.0.0.1 -p "$pg_port" -u postgres --db "$db")
    if ! "${sql[@]}" create >"$state/schema-$db.log" 2>&1 ||
      ! "${sql[@]}" setup-schema -v 0.0 >>"$state/schema-$db.log" 2>&1 ||
      ! "${sql[@]}" update-schema -d "$schema/$dir/versioned" >>"$state/schema-$db.log" 2>&1; then
      # Only a completed schema is marked done: a half-made database is for a fresh state folder.
      say "setting up the $db schema failed; $state/schema-$db.log ends:"
      tail -n 5 "$state/schema-$db.log" >&2
      exit 1
    fi
    touch "$state/schema-$db.done"
  done
}

# Adapted from the module's config/development-postgres12.yaml: our ports, both stores on our
# PostgreSQL, archival removed, logs at warn.
write_config() {
  store() { # name database maxConns
    cat <<EOF
    $1:
      sql:
        pluginName: postgres12
        databaseName: $2
        connectAddr: "127.0.0.1:$pg_port"
        connectProtocol: tcp
        user: postgres
        password: ""
        maxConns: $3
        maxIdleConns: $3
        maxConnLifetime: 1h
EOF
  }
  cat >"$state/dynamicconfig.yaml" <<'EOF'
# What the dev server turns on and custody relies on: search attributes readable as soon as created.
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
frontend.enableUpdateWorkflowExecution:
  - value: true
EOF
  {
    cat <<EOF
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
EOF
    store postgres-default temporal 20
    store postgres-visibility temporal_visibility 10
    cat <<EOF
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc: { grpcPort: $port, membershipPort: $membership, httpPort: $((port + 10)), bindOnLocalHost: true }
  history:
    rpc: { grpcPort: $((port + 1)), membershipPort: $((membership + 1)), bindOnLocalHost: true }
  matching:
    rpc: { grpcPort: $((port + 2)), membershipPort: $((membership + 2)), bindOnLocalHost: true }
  worker:
    rpc: { grpcPort: $((port + 6)), membershipPort: $((membership + 6)), bindOnLocalHost: true }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:$port"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "$state/dynamicconfig.yaml"
  pollInterval: 10s
EOF
  } >"$state/config.yaml"
}

temporal_cli() { "$root/temporal-config/get-temporal.sh"; }
answers() { "$(temporal_cli)" operator cluster health --address "$address" 2>/dev/null | grep -q SERVING; }
server_pid() { [ -f "$state/server.pid" ] && kill -0 "$(cat "$state/server.pid")" 2>/dev/null && cat "$state/server.pid"; }

start_server() {
  if server_pid >/dev/null && answers; then return; fi
  write_config
  nohup "$bin/server" --config-file "$state/config.yaml" --allow-no-auth start >>"$state/server.log" 2>&1 &
  echo $! >"$state/server.pid"
  local pid=$! i
  for i in $(seq 1 120); do
    answers && return
    kill -0 "$pid" 2>/dev/null || { say "the server exited during start-up; $state/server.log ends:"; tail -n 20 "$state/server.log" >&2; exit 1; }
    sleep 0.5
  done
  say "the server did not answer at $address within 60 s (log: $state/server.log)"
  exit 1
}

# The namespace (retention as the dev server's) and custody's search attributes, the ones missing.
ensure_namespace() {
  local t registered="" name type i
  t=$(temporal_cli)
  "$t" operator namespace describe --address "$address" -n "$namespace" >/dev/null 2>&1 ||
    "$t" operator namespace create --address "$address" -n "$namespace" --retention 720h >/dev/null
  # The frontend learns of a new namespace on its next cache refresh.
  for i in $(seq 1 60); do
    registered=$("$t" operator search-attribute list --address "$address" -n "$namespace" 2>/dev/null) && break
    sleep 0.5
  done
  while IFS='=' read -r name type; do
    grep -qw "$name" <<<"$registered" ||
      "$t" operator search-attribute create --address "$address" -n "$namespace" --name "$name" --type "$type" >/dev/null
  done < <(node -e 'for (const [k, v] of Object.entries(require(process.argv[1]))) console.log(`${k}=${v}`)' "$root/temporal-config/search-attributes.json")
}

stop_server() {
  local pid i
  pid=$(server_pid) || { rm -f "$state/server.pid"; return 0; }
  # The pid must still be this state folder's server, not a reused pid.
  ps -o args= -p "$pid" | grep -qF -- "--config-file $state/config.yaml" || { say "pid $pid is not this cluster's server: left alone"; return 0; }
  kill -TERM "$pid"
  for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$state/server.pid"
}

case "${1:-}" in
  start)
    ensure_binaries
    start_pg
    ensure_schema
    start_server
    ensure_namespace
    echo "Temporal server $version at $address (PostgreSQL 127.0.0.1:$pg_port), namespace $namespace, state $state"
    ;;
  restart-server)
    stop_server
    start_server
    echo "Temporal server restarted at $address (pid $(cat "$state/server.pid"))"
    ;;
  stop)
    stop_server
    if [ -f "$state/pg/PG_VERSION" ] && pg_running; then as_pg "$(pg_bin)/pg_ctl" -D "$state/pg" -m fast -w stop >/dev/null; fi
    echo "cluster stopped (state kept in $state)"
    ;;
  status)
    if server_pid >/dev/null && answers; then echo "server at $address (pid $(server_pid))"; else echo "server not running"; fi
    if [ -f "$state/pg/PG_VERSION" ] && pg_running; then echo "PostgreSQL at 127.0.0.1:$pg_port"; else echo "PostgreSQL not running"; fi
    ;;
  *)
    echo "usage: scripts/cluster-temporal.sh start|stop|restart-server|status" >&2
    exit 2
    ;;
esac
