// The order a fresh batch is copied in (src/usage/fresh-batch-store.ts, `keyOrder`): resource ids
// by their UTF-8 bytes, as the statement's way inserts them, whichever comparison makes it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { UsageRecordWire } from '../src/core/usage-record.ts';
import { keyOrder } from '../src/usage/fresh-batch-store.ts';

/** Ids from a few units: ASCII, Latin-1, the top of the BMP (above the surrogates) and astral characters. */
const id = fc.string({
  unit: fc.constantFrom('a', 'b', 'A', '-', 'é', 'ÿ', '\uE000', '\uFFFD', '😀', '\u{10FFFF}'),
  maxLength: 4,
});
const METERS = ['fab6eb84-500b-4a09-a8ca-7358f8bbaea5', 'FAB6EB84-500B-4A09-A8CA-7358F8BBAEA6'];

describe('a fresh batch: the order of its COPY rows', () => {
  it('sorts by resource id bytes, then meter, hour and revision, with astral ids in the batch or not', () => {
    const record = fc.record({
      resourceId: id,
      meter: fc.nat(1),
      hour: fc.nat(2),
      revision: fc.integer({ min: 1, max: 2 }),
    });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 40 }), (drawn) => {
        const records = drawn.map(
          (d) => ({ resourceId: d.resourceId, meterId: METERS[d.meter], revision: d.revision }) as UsageRecordWire,
        );
        const hours = drawn.map((d) => new Date(Date.UTC(2026, 0, 1, d.hour)));
        const expected = drawn
          .map((_, i) => i)
          .sort(
            (a, b) =>
              Buffer.compare(Buffer.from(drawn[a].resourceId), Buffer.from(drawn[b].resourceId)) ||
              drawn[a].meter - drawn[b].meter ||
              drawn[a].hour - drawn[b].hour ||
              drawn[a].revision - drawn[b].revision,
          );
        const key = (i: number) =>
          JSON.stringify([drawn[i].resourceId, drawn[i].meter, drawn[i].hour, drawn[i].revision]);
        assert.deepEqual(keyOrder({ records, hours }).map(key), expected.map(key));
      }),
      { numRuns: 2_000 },
    );
  });
});
