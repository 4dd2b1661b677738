// Tests wait on what they can observe (a query, the ledger, a service), never for a fixed time:
// a busy machine makes a fixed wait too short.

/**
 * Asks `probe` every `everyMs` until `done` accepts its answer, and returns that answer. Past
 * `timeoutMs` it throws, naming what was awaited and the last answer.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  done: (v: T) => boolean = Boolean,
  { timeoutMs = 60_000, everyMs = 200 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms; last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
