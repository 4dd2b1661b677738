// Mocha root hooks: stop the shared Temporal dev server, PostgreSQL and the S3 server after the whole run.
import { removeTemporalState, stopTemporalServer } from './temporal-server';
import { stopPostgres } from './postgres';
import { stopTestS3 } from './s3-server';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTemporalServer();
    removeTemporalState();
    stopPostgres();
    stopTestS3();
  },
};
