#!/usr/bin/env node
// The `custody` command. In a checkout it runs the TypeScript CLI through tsx, so no build step
// is needed; with NODE_ENV=production it runs the compiled CLI from dist/ (`npm run build`).
// custody needs Node.js 24: on an older node (the machine's Node 20) it runs itself again under
// the Node that the set-up scripts put in .tools/node.
const path = require('node:path');
const fs = require('node:fs');
const root = path.join(__dirname, '..');
const wanted = fs.readFileSync(path.join(root, '.node-version'), 'utf8').trim();
if (Number(process.versions.node.split('.')[0]) < Number(wanted.split('.')[0])) {
  const node = path.join(root, '.tools', 'node', 'node_modules', `node-${process.platform}-${process.arch}`, 'bin', 'node');
  if (!fs.existsSync(node)) {
    console.error(
      `custody needs Node.js ${wanted.split('.')[0]} or newer; this is ${process.version}. Run bash scripts/install-tools.sh once: it puts Node.js ${wanted} in .tools/node.`,
    );
    process.exit(1);
  }
  const child = require('node:child_process').spawn(node, [__filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal already: this process only waits for it. A
  // SIGTERM or SIGHUP sent to this process alone is passed on.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else if (process.env.NODE_ENV === 'production') {
  const cli = path.join(root, 'dist', 'starters', 'cli.js');
  if (!fs.existsSync(cli)) {
    console.error('custody: NODE_ENV=production runs the compiled build, and dist/ has none: run npm run build first.');
    process.exit(1);
  }
  require(cli);
} else {
  require('tsx/cjs');
  require('../starters/cli.ts');
}
