// The demo stops every child it started however it ends (its reference service left running
// would hold the port and the data folder of the next demo). Real processes: a starter using
// ChildProcesses starts a real child; the starter's stdout pipe, shared with that child, closes
// only once the child has ended too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../config/config';

const STARTER = path.join(REPO_ROOT, 'test', 'support', 'starter-with-child.ts');
/** The children the starters said they started: a failed test must not leave one behind. */
const childPids: number[] = [];

interface Ended {
  code: number | null;
  output: string;
}

/** Runs the starter; `act` is called once it has started its child. Resolves when the starter and its child have both ended. */
function runStarter(how: string, act: (starterPid: number) => void = () => {}): Promise<Ended> {
  const starter = spawn(process.execPath, ['--require', 'tsx/cjs', STARTER, how], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let acted = false;
  starter.stdout.on('data', (d: Buffer) => {
    output += d.toString();
    const started = /child (\d+)\n/.exec(output);
    if (!acted && started) {
      acted = true;
      childPids.push(Number(started[1]));
      act(starter.pid!);
    }
  });
  starter.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => starter.once('exit', resolve));
  const pipeClosed = new Promise<void>((resolve) => starter.stdout.once('close', resolve));
  return Promise.all([exited, pipeClosed]).then(([code]) => ({ code, output }));
}

describe('children of a starter (ChildProcesses)', function () {
  // A child left running holds the pipe open: the test then fails by this timeout.
  this.timeout(30_000);
  afterEach(function () {
    const pids = childPids.splice(0);
    // After a pass the children are gone, and their pids may be another process's by now.
    if (this.currentTest?.state !== 'failed') return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
  });

  it('stops its child when the starter fails, after the cleanups', async () => {
    const { code, output } = await runStarter('error');
    assert.equal(code, 1, output);
    assert.match(output, /failed: the demo failed\ncleanup ran\n/);
  });

  it('stops its child on SIGTERM and on SIGINT (Ctrl-C), exiting 143 and 130', async () => {
    const term = await runStarter('wait', (pid) => process.kill(pid, 'SIGTERM'));
    assert.equal(term.code, 143, term.output);
    assert.match(term.output, /stopping \(SIGTERM\)/);
    assert.match(term.output, /cleanup ran/);
    const int = await runStarter('wait', (pid) => process.kill(pid, 'SIGINT'));
    assert.equal(int.code, 130, int.output);
  });

  it('stops its child when the starter exits some other way: process.exit, an uncaught exception', async () => {
    assert.equal((await runStarter('exit')).code, 3);
    const thrown = await runStarter('throw');
    assert.equal(thrown.code, 1, thrown.output);
    assert.match(thrown.output, /Error: uncaught/);
  });
});
