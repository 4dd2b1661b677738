#!/usr/bin/env bash
# Installs what custody needs on this machine when it is missing: npm packages and the Temporal
# CLI, on Node.js 24 (scripts/node-env.sh). Later runs find everything in place and return at once.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
# A node_modules that is a link is an install shared by several checkouts (git worktrees):
# npm ci through the link would empty the shared folder under the others' feet.
if [ ! -L node_modules ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  npm ci --no-audit --no-fund
  node -p process.versions.modules >node_modules/.custody-node-abi
fi
# A node_modules built under another Node (say the machine's Node 20 before custody moved to 24)
# installs fine but its native modules fail to load (NODE_MODULE_VERSION mismatch): rebuild them.
if [ ! -L node_modules ] && [ "$(cat node_modules/.custody-node-abi 2>/dev/null)" != "$(node -p process.versions.modules)" ]; then
  echo "install-tools: node_modules was built for another Node.js; rebuilding its native modules for $(node --version)" >&2
  npm rebuild --no-audit --no-fund >&2
  node -p process.versions.modules >node_modules/.custody-node-abi
fi
temporal-config/get-temporal.sh >/dev/null
