// Work on many items with a bounded number in flight: enough to hide each round trip, few
// enough not to flood the server or the service.

/** Runs `act` on every item, at most `concurrency` at once; rejects with the first failure. */
export async function forEachConcurrently<T>(items: T[], concurrency: number, act: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await act(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}
