// The publishing pipeline's library steps in a row, as the activities will run them: name →
// expand → validate → web figures → record.
import path from 'node:path';
import { buildArticleRecord, type ArticleRecord } from '../../articles/article-record';
import { expandZip, type ExpandResult } from '../../articles/expand-zip';
import { validateArticlePackage, type ValidatedArticle } from '../../articles/jats';
import { parsePackageName, type PackageName } from '../../articles/package-name';
import { figuresToDerive, makeWebFigures, type WebFigure, type WebFigureOptions } from '../../articles/web-figures';

export interface PipelineRun {
  name: PackageName;
  expanded: ExpandResult;
  article: ValidatedArticle;
  webFigures: WebFigure[];
  record: ArticleRecord;
  packageDir: string;
  webDir: string;
}

export async function runArticlePipeline(zipPath: string, key: string, workDir: string, webOptions: WebFigureOptions = {}): Promise<PipelineRun> {
  const name = parsePackageName(key);
  const packageDir = path.join(workDir, 'package');
  const webDir = path.join(workDir, 'web');
  const expanded = await expandZip(zipPath, packageDir);
  const article = await validateArticlePackage(
    expanded.target,
    expanded.files.map((f) => f.path),
    name,
  );
  const webFigures = await makeWebFigures(expanded.target, figuresToDerive(article), webDir, webOptions);
  const record = buildArticleRecord({ name, article, files: expanded.files, webFigures });
  return { name, expanded, article, webFigures, record, packageDir: expanded.target, webDir };
}
