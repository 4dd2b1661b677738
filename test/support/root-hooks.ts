// Mocha root hooks: stop the shared Temporal dev server and PostgreSQL after the whole run.
import { removeTemporalState, stopTemporalServer } from './temporal-server';
import { stopPostgres } from './postgres';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTemporalServer();
    removeTemporalState();
    stopPostgres();
  },
};
