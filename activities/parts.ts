// Opens the parts custody's activities and commands talk to, as chosen by config.
import type { Config } from '../config/config';
import { openLedger } from '../ledger';
import { openSource } from '../sources';
import { openStorage } from '../storage';
import { referencePreservationService } from '../services/preservation-service';
import { articleStoreClient } from '../articles/article-store-client';
import { DepositClient } from '../deposits';
import { PermanentError } from '../common/errors';
import { openDestination, type Destination } from '../destinations';
import ms from 'ms';
import { buildId } from '../config/build-id';
import type { ActivityDeps } from './shared';
import { harvestSources } from '../config/config';
import type { ObjectSource } from '../sources';

/** Opened on first use: a destination whose token is not set fails its deliveries with that reason, not the worker. */
function lazyDestinations(config: Config): (name: string) => Destination {
  const opened = new Map<string, Destination>();
  return (name) => {
    let d = opened.get(name);
    if (!d) {
      const c = config.delivery.destinations.find((x) => x.name === name);
      if (!c) throw new PermanentError(`no destination "${name}" in this worker's config (delivery.destinations)`, 'DestinationRefused');
      d = openDestination(c, { s3: config.storage.s3 });
      opened.set(name, d);
    }
    return d;
  };
}

/** Each harvest source opened on first use, by name. */
function namedSources(config: Config): (name: string) => ObjectSource {
  const opened = new Map<string, ObjectSource>();
  return (name) => {
    let s = opened.get(name);
    if (!s) {
      const c = harvestSources(config).find((x) => x.name === name);
      if (!c) throw new PermanentError(`no source named "${name}" in this worker's config (harvest.sources)`, 'UnknownSource');
      s = openSource(c.location, config.storage.s3);
      opened.set(name, s);
    }
    return s;
  };
}

export async function openParts(config: Config): Promise<ActivityDeps> {
  // Every row the activities write names this worker's build (custody find --build).
  const ledger = openLedger(config.databaseUrl, { buildId: buildId() });
  await ledger.migrate();
  const { s3 } = config.storage;
  return {
    config,
    ledger,
    source: openSource(config.storage.source, s3),
    sourceNamed: namedSources(config),
    work: openStorage(config.storage.work, s3),
    reports: openStorage(config.storage.reports, s3),
    service: referencePreservationService({ url: config.service.url, transfer: openStorage(config.service.transfer, s3) }),
    site: openStorage(config.articles.site, s3),
    // The token only from the environment: config files get copied and committed.
    articleStore: articleStoreClient({ url: config.articles.store.url, token: process.env.ARTICLE_STORE_TOKEN }),
    packages: openStorage(config.delivery.packages, s3),
    destination: lazyDestinations(config),
    datasets: openStorage(config.copies.source, s3),
    deposit: (log) => {
      const { attempts, initialDelay, maxDelay } = config.copies.requestRetries;
      return new DepositClient({
        url: config.copies.depositUrl,
        token: process.env.DEPOSIT_TOKEN ?? '',
        retries: { attempts, initialDelayMs: ms(initialDelay), maxDelayMs: ms(maxDelay) },
        log,
      });
    },
  };
}
