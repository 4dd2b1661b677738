import type { PipelineSettings } from '../common/preservation';
import type { Config } from '../config/config';

/** The part of config that travels in each workflow's input. */
export function pipelineSettings(config: Config): PipelineSettings {
  return { retry: config.retry, heartbeatTimeout: config.heartbeatTimeout, verdict: config.verdict };
}

// The article settings are made where the watch schedule's activity reaches them too.
export { articleSettings } from '../activities/article-packages';
