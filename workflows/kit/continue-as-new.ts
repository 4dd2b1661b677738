// A workflow's history is carried into a fresh run (a new attempt, or an entity workflow whose
// history has grown) only once every signal and Update handler has finished: an operator's
// command that was accepted is answered by the run that accepted it.
import { allHandlersFinished, condition, continueAsNew, type Workflow } from '@temporalio/workflow';

/** Continues as new with `args` once the handlers are done. */
export async function continueAsNewWhenQuiet<F extends Workflow>(...args: Parameters<F>): Promise<never> {
  await condition(allHandlersFinished);
  return await continueAsNew<F>(...args);
}

/**
 * Continues as new with `args()` once the handlers are done, unless `workArrived` turns true
 * first: work this run has accepted (a package, a freeze) and must do before it goes. Then it
 * returns, and the caller does that work.
 */
export async function continueAsNewUnlessWorkArrives<F extends Workflow>(workArrived: () => boolean, args: () => Parameters<F>): Promise<void> {
  await condition(() => allHandlersFinished() || workArrived());
  if (workArrived()) return;
  await continueAsNew<F>(...args());
}
