// Changes to one record run one after another; changes to different records run side by
// side. The reference services keep each record in its own file, and two writers of one file
// at once would lose one of the changes.

export class KeyedQueue<K = string> {
  private readonly tails = new Map<K, Promise<void>>();

  /** Runs `task` after every task already queued for `key`; a failed task does not stop the next. */
  run<T>(key: K, task: () => Promise<T>): Promise<T> {
    const tail = this.tails.get(key) ?? Promise.resolve();
    const done = tail.then(task, task);
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return done;
  }

  /** Resolves once every task already queued has finished (or failed). */
  async idle(): Promise<void> {
    while (this.tails.size) await Promise.all(this.tails.values());
  }
}
