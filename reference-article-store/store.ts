// The article store's memory: one JSON file per article under `<dataDir>/articles`, each written
// atomically (temp file, fsync, rename, fsync of the folder), so a change is either all there
// after a crash or not at all, and a write costs one article's bytes however many articles there
// are. Changes to one article run one at a time; reads see only what is already on disk.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { articleIdSchema, articleVersionSchema, type ArticleVersion } from '../common/article-store';
import { KeyedQueue } from '../reference-service/keyed-queue';

const storedArticleSchema = z.object({ id: articleIdSchema, versions: z.array(articleVersionSchema) });
export type StoredArticle = z.infer<typeof storedArticleSchema>;

const JSON_EXT = '.json';
const TMP_EXT = '.tmp';

export class ArticleFiles {
  private readonly articles = new Map<string, StoredArticle>();
  /** Changes to one article run one at a time. */
  private readonly queue = new KeyedQueue<string>();
  private tmpCounter = 0;

  /** Reads every article file; a file that is not an article is named, not skipped. */
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    for (const name of fs.readdirSync(dir)) {
      const file = path.join(dir, name);
      // A temp file is a write a crash cut short: the article file it would have replaced is intact.
      if (name.endsWith(TMP_EXT)) fs.rmSync(file, { force: true });
      if (!name.endsWith(JSON_EXT)) continue;
      let parsed: z.ZodSafeParseResult<StoredArticle>;
      try {
        parsed = storedArticleSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
      } catch (e) {
        throw new Error(`${file} is not an article store file: ${(e as Error).message}`);
      }
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(`${file} is not an article store file: ${issue?.path.join('.')}: ${issue?.message}`);
      }
      if (`${parsed.data.id}${JSON_EXT}` !== name) throw new Error(`${file} holds article ${parsed.data.id}, not ${name.slice(0, -JSON_EXT.length)}`);
      this.articles.set(parsed.data.id, parsed.data);
    }
  }

  get(id: string): StoredArticle | undefined {
    return this.articles.get(id);
  }

  all(): StoredArticle[] {
    return [...this.articles.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Runs `change` on the article as it is once every earlier change to it has finished, and
   * writes what it returns as `next` before anyone can read it. `change` may throw to refuse.
   */
  update<T>(id: string, change: (current: StoredArticle | undefined) => { next?: StoredArticle; result: T }): Promise<T> {
    const run = async () => {
      const { next, result } = change(this.articles.get(id));
      if (next) {
        await this.write(next);
        this.articles.set(id, next);
      }
      return result;
    };
    return this.queue.run(id, run);
  }

  /** Resolves once every change already asked for has been written (or refused). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async write(article: StoredArticle): Promise<void> {
    const file = path.join(this.dir, `${article.id}${JSON_EXT}`);
    const tmp = `${file}.${process.pid}.${++this.tmpCounter}${TMP_EXT}`;
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(article, null, 1));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await fs.promises.rename(tmp, file);
    } catch (e) {
      await fs.promises.rm(tmp, { force: true });
      throw e;
    }
    // The rename itself is durable only once the folder is synced.
    const dir = await fs.promises.open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/** The published version with the highest number, which GET /articles/:id answers. */
export function latestPublished(article: StoredArticle | undefined): ArticleVersion | undefined {
  return article?.versions
    .filter((v) => v.state === 'published')
    .reduce<ArticleVersion | undefined>((a, v) => (!a || v.version > a.version ? v : a), undefined);
}
