import type { ArticleSettings } from '../common/articles';
import type { PipelineSettings } from '../common/preservation';
import type { Config } from '../config/config';

/** The part of config that travels in each workflow's input. */
export function pipelineSettings(config: Config): PipelineSettings {
  return { retry: config.retry, heartbeatTimeout: config.heartbeatTimeout, verdict: config.verdict };
}

/** The part of config that travels in each article workflow's input. */
export function articleSettings(config: Config): ArticleSettings {
  const { articles } = config;
  return {
    retry: { io: config.retry.io, fetch: config.retry.download, build: config.retry.package },
    heartbeatTimeout: config.heartbeatTimeout,
    defaultMode: articles.defaultMode,
    modeRules: articles.modeRules,
    continueAsNewAfter: articles.continueAsNewAfter,
  };
}
