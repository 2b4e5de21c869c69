// Usage posted as CloudEvents to the hub (`POST …/Stackledger.Usage/events`), as an external meter
// or the CSP would: one helper for the tests that need usage without running a VM.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestSystem } from './system.ts';

export interface UsageEvent {
  /** The subscription billed. */
  subject: string;
  meterId: string;
  quantity: string;
  /** The usage day (YYYY-MM-DD, at 10:00 UTC) or an instant. */
  time: string;
  resourceUri: string;
}

/** Posts the events as one batch (expecting 200) and answers the hub's answer. */
export async function postUsageEvents(t: TestSystem, token: string, events: UsageEvent[], source = 'urn:test:meter') {
  const res = await t.call('POST', `${t.b.hub.arm}/providers/Stackledger.Usage/events?api-version=2026-11-01`, {
    token,
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    body: events.map((e) => ({
      specversion: '1.0',
      id: randomUUID(),
      source,
      type: 'usage',
      subject: e.subject,
      time: /^\d{4}-\d{2}-\d{2}$/.test(e.time) ? `${e.time}T10:00:00Z` : e.time,
      data: { meterId: e.meterId, quantity: e.quantity, resourceUri: e.resourceUri, location: 'local' },
    })),
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}
