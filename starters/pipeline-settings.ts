import type { PipelineSettings } from '../common/preservation';
import type { Config } from '../config/config';
import { deliverySettings } from '../activities/article-packages';

/** The part of config that travels in each workflow's input. */
export function pipelineSettings(config: Config): PipelineSettings {
  // Windows only when configured: the input of a run without them stays as it was.
  const windows = Object.keys(config.windows).length ? { windows: config.windows } : {};
  return { retry: config.retry, heartbeatTimeout: config.heartbeatTimeout, verdict: config.verdict, ...deliverySettings(config), ...windows };
}

// The article settings are made where the watch schedule's activity reaches them too.
export { articleSettings } from '../activities/article-packages';
