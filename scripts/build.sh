#!/usr/bin/env bash
# npm run build: the production build. Compiles the TypeScript to dist/ with tsc and prebuilds
# the workflow bundle once (dist/workflow-bundle.js), so `NODE_ENV=production custody worker`
# runs compiled JavaScript without tsx and without bundling at start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
rm -rf dist
npx tsc -p tsconfig.build.json
node dist/workers/workflow-bundle.js
# The compiled build names itself by the commit it was built from, even where it runs without git.
node -e 'process.stdout.write(require("./package.json").version)' >dist/build-id
echo "+$(git rev-parse --short=12 HEAD 2>/dev/null || echo nogit)$(git status --porcelain 2>/dev/null | grep -q . && echo -dirty)" >>dist/build-id
echo "build id: $(cat dist/build-id)"
