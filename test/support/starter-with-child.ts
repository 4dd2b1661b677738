// A starter like the demo, for the tests of ChildProcesses: it starts a child that runs until
// stopped, says its pid, then ends the way argv[2] says: error, exit, throw, or wait (for a signal).
import { ChildProcesses } from '../../starters/child-processes';

const children = new ChildProcesses();

async function main(): Promise<void> {
  // The child shares this process's stdout: the test's pipe closes only once both have ended.
  const child = children.spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'inherit', 'inherit'] });
  children.beforeExit(async () => console.log('cleanup ran'));
  console.log(`child ${child.pid}`);
  const how = process.argv[2];
  if (how === 'error') throw new Error('the demo failed');
  if (how === 'exit') process.exit(3);
  if (how === 'throw')
    setImmediate(() => {
      throw new Error('uncaught');
    });
}

main().catch((e: unknown) => {
  console.log(`failed: ${(e as Error).message}`);
  void children.exit(1);
});
