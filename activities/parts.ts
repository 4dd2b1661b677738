// Opens the parts custody's activities and commands talk to, as chosen by config.
import type { Config } from '../config/config';
import { openLedger } from './ledger';
import { folderSource } from './source';
import { referencePreservationService } from './service/preservation-service';
import type { ActivityDeps } from '.';

export async function openParts(config: Config): Promise<ActivityDeps> {
  const ledger = openLedger(config.databaseUrl);
  await ledger.migrate();
  return {
    config,
    ledger,
    source: folderSource(config.sourceDir),
    service: referencePreservationService({ url: config.service.url, transferDir: config.service.transferDir }),
  };
}
