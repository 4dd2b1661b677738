// The webhook receiver the publishing tests use to see the downstream notification sent after a
// publish: it keeps what was POSTed, in order, and lets a test await the Nth one.
import assert from 'node:assert/strict';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

const post = (url: string, body: string, type = 'application/json') => fetch(url, { method: 'POST', headers: { 'content-type': type }, body });

describe('webhook receiver (test support)', () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('records POSTed JSON bodies in order with their path, and hands a waiting test the Nth', async () => {
    const third = receiver.nth(3, 10_000);
    for (const v of [1, 2, 3]) {
      const res = await post(`${receiver.url}/hooks/published`, JSON.stringify({ id: '00353', version: v, event: 'published' }));
      assert.equal(res.status, 200);
    }
    assert.deepEqual((await third).body, { id: '00353', version: 3, event: 'published' });
    assert.equal((await receiver.nth(1)).path, '/hooks/published');
    assert.deepEqual(
      receiver.notifications.map((n) => (n.body as { version: number }).version),
      [1, 2, 3],
    );
  });

  it('says how many arrived when the Nth does not come in time', async () => {
    await post(receiver.url, '{"one": 1}');
    await assert.rejects(receiver.nth(2, 100), {
      message: `webhook receiver ${receiver.url}: 1 of 2 notifications arrived within 100 ms (1 POSTs)`,
    });
  });

  it('refuses the next deliveries when told, without recording them, so a sender retry can be seen', async () => {
    receiver.failNext(2);
    assert.equal((await post(receiver.url, '{"try": 1}')).status, 503);
    assert.equal((await post(receiver.url, '{"try": 2}')).status, 503);
    assert.equal((await post(receiver.url, '{"try": 3}')).status, 200);
    assert.deepEqual(
      receiver.notifications.map((n) => n.body),
      [{ try: 3 }],
    );
    assert.equal(receiver.attempts, 3);
  });

  it('answers a body that is not JSON with 400 and does not count it', async () => {
    const res = await post(receiver.url, 'published 00353', 'text/plain');
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /^the body is not JSON/);
    assert.equal(receiver.notifications.length, 0);
    assert.equal((await fetch(receiver.url)).status, 405);
  });
});
