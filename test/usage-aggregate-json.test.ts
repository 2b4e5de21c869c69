// A usage aggregate's JSON (core/usage-api.ts, usageAggregateJson) is written as text: it must be
// the very bytes JSON.stringify makes of the vendor's shape, whatever the strings hold (quotes,
// backslashes, control characters, any Unicode), with and without details.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jsonInString, jsonString } from '../src/core/json-text.ts';
import { type Granularity, type UsageAggregateRow, usageAggregateJson } from '../src/core/usage-api.ts';

/** The vendor's shape (Microsoft.Commerce's UsageAggregate, as in its examples), as objects. */
function vendorShape(row: UsageAggregateRow, granularity: Granularity, provider: string) {
  const end = new Date(row.bucket.getTime() + (granularity === 'Hourly' ? 3_600_000 : 86_400_000));
  const time = (t: Date) => `${t.toISOString().slice(0, 19)}+00:00`;
  const name = `${row.subscription_id}-${row.meter_id}`;
  const properties: Record<string, unknown> = {
    subscriptionId: row.subscription_id,
    usageStartTime: time(row.bucket),
    usageEndTime: time(end),
  };
  if (row.resource_uri !== null)
    properties.instanceData = JSON.stringify({
      'Microsoft.Resources': {
        resourceUri: row.resource_uri,
        location: row.location,
        tags: row.tags ?? {},
        additionalInfo: row.additional_info ?? {},
      },
    });
  properties.quantity = Number(row.quantity);
  properties.meterId = row.meter_id;
  return {
    id: `/subscriptions/${row.subscription_id}/providers/${provider}/UsageAggregate/${name}`,
    name,
    type: `${provider}/UsageAggregate`,
    properties,
  };
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('a"b', 'a\\b', 'tab\there', '\u2028', '😀', 'lone \ud800 surrogate', ''),
);
const row: fc.Arbitrary<UsageAggregateRow> = fc.record({
  subscription_id: fc.oneof(fc.uuid(), text),
  meter_id: fc.oneof(fc.uuid(), text),
  bucket: fc.integer({ min: 0, max: 4_000_000 }).map((h) => new Date(h * 3_600_000)),
  quantity: fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
    fc.constantFrom('0', '-0.5', '12.000000001', '99999999999999999999999999999.999999999'),
  ),
  resource_uri: fc.option(text),
  location: fc.option(text),
  tags: fc.option(fc.dictionary(text, text)),
  additional_info: fc.option(fc.record({ DeploymentId: fc.option(text), SubscriptionId: fc.option(text) })),
});

/** Objects as tags and additional info are, and some they are not (undefined, nested, a toJSON, a Date). */
const flatObject = fc.dictionary(
  fc.oneof(text, fc.constantFrom('__proto__', '0', '10', 'toJSON')),
  fc.oneof(
    text,
    fc.constant(null),
    fc.constant(undefined),
    fc.constant(() => 'called'),
    fc.date({ noInvalidDate: true }),
    fc.dictionary(text, text),
  ),
);

describe('a usage aggregate written as JSON text', () => {
  it('is the bytes JSON.stringify makes of the vendor shape, for any row', () => {
    fc.assert(
      fc.property(
        row,
        fc.constantFrom<Granularity>('Hourly', 'Daily'),
        fc.constantFrom('Microsoft.Commerce', 'Microsoft.Commerce.Admin' as const),
        (r, g, provider) => {
          assert.equal(usageAggregateJson(r, g, provider).text, JSON.stringify(vendorShape(r, g, provider)));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('is the same bytes in a run of rows that share subscriptions, meters, hours, granularities and providers', () => {
    // The text a subscription's meter and an hour decide is kept between aggregates (the last
    // kept): a run drawn from a few of each makes every kept text be used, and replaced.
    const few = <T>(values: T[]) => fc.constantFrom(...values);
    const shared = fc.record({
      row: fc.record({
        subscription_id: few([
          'a1b2c3d4-0000-4000-8000-000000000001',
          'a1b2c3d4-0000-4000-8000-000000000002',
          'q"uote',
        ]),
        meter_id: few(['fab6eb84-500b-4a09-a8ca-7358f8bbaea5', '99999999-0000-0000-0000-00000000beef']),
        bucket: fc.integer({ min: 0, max: 3 }).map((h) => new Date(Date.UTC(2026, 4, 1) + h * 3_600_000)),
        quantity: few(['1', '0.25']),
        resource_uri: fc.option(few(['/a', '/b'])),
        location: few(['local', null]),
        tags: fc.constant(null),
        additional_info: fc.constant(null),
      }),
      granularity: few<Granularity>(['Hourly', 'Daily']),
      provider: few(['Microsoft.Commerce', 'Microsoft.Commerce.Admin'] as const),
    });
    fc.assert(
      fc.property(fc.array(shared, { minLength: 2, maxLength: 40 }), (run) => {
        for (const { row: r, granularity, provider } of run)
          assert.equal(
            usageAggregateJson(r, granularity, provider).text,
            JSON.stringify(vendorShape(r, granularity, provider)),
          );
      }),
      { numRuns: 500 },
    );
  });

  it('reads back as the same value through JSON.stringify', () => {
    const r: UsageAggregateRow = {
      subscription_id: 'a1b2c3d4-0000-4000-8000-000000000001',
      meter_id: 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5',
      bucket: new Date('2026-05-01T00:00:00Z'),
      quantity: '1.5',
      resource_uri: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/"vm"',
      location: 'local',
      tags: { env: 'prod' },
      additional_info: { DeploymentId: null, SubscriptionId: null },
    };
    const json = usageAggregateJson(r, 'Hourly', 'Microsoft.Commerce');
    assert.equal(JSON.stringify({ value: [json] }), `{"value":[${json.text}]}`);
    const instance = JSON.parse(JSON.parse(json.text).properties.instanceData)['Microsoft.Resources'];
    assert.equal(instance.resourceUri, r.resource_uri);
    assert.deepEqual(instance.tags, { env: 'prod' });
  });

  it('escapes a string as JSON.stringify does, and once more inside a string', () => {
    fc.assert(
      fc.property(fc.oneof(text, fc.jsonValue(), flatObject), (v) => {
        if (typeof v === 'string') assert.equal(jsonString(v), JSON.stringify(v));
        assert.equal(jsonInString(v), JSON.stringify(JSON.stringify(v)).slice(1, -1));
      }),
      { numRuns: 2_000 },
    );
  });
});
