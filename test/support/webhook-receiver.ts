// A loopback HTTP server standing in for the downstream system the publishing pipeline notifies
// after a publish: it records each POSTed JSON body, and a test awaits the Nth notification.
// It can refuse the next deliveries, so a test can see the sender retry.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedNotification {
  /** The parsed JSON body. */
  body: unknown;
  /** The request path and query, e.g. "/hooks/published". */
  path: string;
  headers: http.IncomingHttpHeaders;
  receivedAt: Date;
}

export interface WebhookReceiver {
  /** POST notifications here, or under any path below it. */
  url: string;
  /** Notifications answered 2xx, oldest first: what the sender may count as delivered. */
  readonly notifications: readonly ReceivedNotification[];
  /** Every POST that arrived, refused ones included. */
  readonly attempts: number;
  /** The `n`th notification (from 1) once it has arrived; rejects after `timeoutMs`, saying how many did. */
  nth(n: number, timeoutMs?: number): Promise<ReceivedNotification>;
  /** Answers the next `count` POSTs with `status` (503 unless given) without recording them. */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const notifications: ReceivedNotification[] = [];
  const waiters: Array<{ n: number; resolve: (r: ReceivedNotification) => void }> = [];
  let attempts = 0;
  let failures: { count: number; status: number } = { count: 0, status: 503 };

  const answer = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    if (req.method !== 'POST') return answer(res, 405, { error: `${req.method} is not allowed: notifications are POSTed` });
    attempts++;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (failures.count > 0) {
        failures.count--;
        return answer(res, failures.status, { error: 'refused for the test' });
      }
      if (size > MAX_BODY_BYTES) return answer(res, 413, { error: `the body is larger than ${MAX_BODY_BYTES} bytes` });
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        return answer(res, 400, { error: `the body is not JSON: ${(e as Error).message}` });
      }
      const received: ReceivedNotification = { body, path: req.url ?? '/', headers: req.headers, receivedAt: new Date() };
      notifications.push(received);
      for (const w of waiters.filter((x) => x.n === notifications.length)) w.resolve(received);
      answer(res, 200, { received: notifications.length });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    notifications,
    get attempts() {
      return attempts;
    },
    nth(n, timeoutMs = 30_000) {
      if (!Number.isInteger(n) || n < 1) return Promise.reject(new Error(`nth(${n}): notifications are counted from 1`));
      if (notifications.length >= n) return Promise.resolve(notifications[n - 1]);
      return new Promise((resolve, reject) => {
        const waiter = {
          n,
          resolve: (r: ReceivedNotification) => {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(waiter), 1);
            resolve(r);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`webhook receiver ${url}: ${notifications.length} of ${n} notifications arrived within ${timeoutMs} ms (${attempts} POSTs)`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    failNext(count, status = 503) {
      failures = { count, status };
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
