#!/usr/bin/env node
// The `custody` command: runs the TypeScript CLI through tsx, so a checkout needs no build step.
require('tsx/cjs');
require('../starters/cli.ts');
