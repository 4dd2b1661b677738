#!/usr/bin/env bash
# Installs what custody needs on this machine when it is missing: npm packages and the Temporal
# CLI. Later runs find everything in place and return at once.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d /usr/include/node ] && [ -z "${npm_config_nodedir:-}" ] && [ -z "${npm_package_config_node_gyp_nodedir:-}" ]; then
  # Native modules (better-sqlite3) build against the local Node headers: nothing to download.
  # node-gyp takes it from this variable, the form npm 11 documents for node-gyp settings;
  # npm_config_nodedir would work too, but npm 11 warns "Unknown env config nodedir" for it.
  export npm_package_config_node_gyp_nodedir=/usr
fi
# A node_modules that is a link is an install shared by several checkouts (git worktrees):
# npm ci through the link would empty the shared folder under the others' feet.
if [ ! -L node_modules ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  npm ci --no-audit --no-fund
fi
temporal-config/get-temporal.sh >/dev/null
