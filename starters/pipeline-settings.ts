import type { PipelineSettings } from '../common/preservation';
import type { Config } from '../config/config';
import { deliverySettings } from '../activities/article-packages';

/** The part of config that travels in each workflow's input. */
export function pipelineSettings(config: Config): PipelineSettings {
  return { retry: config.retry, heartbeatTimeout: config.heartbeatTimeout, verdict: config.verdict, ...deliverySettings(config) };
}

// The article settings are made where the watch schedule's activity reaches them too.
export { articleSettings } from '../activities/article-packages';
