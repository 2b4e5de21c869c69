import pg from 'pg';
import { ByteChunks } from '../core/byte-chunks.ts';
import { Turns } from '../core/turns.ts';
import type { UsageRecordWire } from '../core/usage-record.ts';
import { copyInAtOnce } from '../db/copy-in.ts';
import { archivedRecords, holdMonthsSql } from './archive-store.ts';

// The fast way in for a batch whose records are all new, as nearly every batch is: COPY straight
// into usage_received (its month's partition), each record with its first attribution. A COPY
// that meets a key already held (a retry, a record sent twice) fails whole and changes nothing;
// the caller then stores the batch with the statement that sorts duplicates from conflicts
// (`receiveFromDeployment`).

/** A batch as `copyIfAllNew` takes it: `hours` are the records' hours, parsed. */
export interface FreshBatch {
  cloudId: string;
  registrationId: string;
  registrationSubscriptionId: string;
  batchId: string;
  receivedAt: Date;
  records: UsageRecordWire[];
  hours: Date[];
}

const COPY_COLUMNS =
  'source, cloud_id, registration_id, resource_id, resource_uri, meter_id, hour, revision, quantity, stack_subscription_id, tenant_id, location, tags, received_at, batch_id, billed_subscription_id, link_id';

/** What COPY's text format escapes: backslashes, tabs and line ends. */
const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPED = new RegExp(NEEDS_ESCAPE.source, 'g');

/** A field of COPY's text format: backslashes, tabs and line ends escaped; `\N` for null. */
function copyField(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return NEEDS_ESCAPE.test(value)
    ? value.replace(ESCAPED, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!)
    : value;
}

/**
 * A record's own fields in COPY's text format (resource_id to tags). They are looked at together,
 * once: nearly every record needs no escape, and a look per field was a third of making the rows.
 */
function recordFields(r: UsageRecordWire): string {
  const tags = JSON.stringify(r.tags ?? {});
  const { resourceId, resourceUri, meterId, hour, quantity, subscriptionId, tenantId, location } = r;
  if (
    !NEEDS_ESCAPE.test(
      resourceId + resourceUri + meterId + hour + quantity + subscriptionId + tenantId + location + tags,
    )
  )
    return `${resourceId}\t${resourceUri}\t${meterId}\t${hour}\t${r.revision}\t${quantity}\t${subscriptionId}\t${tenantId}\t${location}\t${tags}`;
  return [
    resourceId,
    resourceUri,
    meterId,
    hour,
    String(r.revision),
    quantity,
    subscriptionId,
    tenantId,
    location,
    tags,
  ]
    .map(copyField)
    .join('\t');
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * The records' positions in the order `receiveFromDeployment` inserts them (resource id by its
 * bytes, meter, hour, revision): two batches that share keys then wait for each other's keys in
 * one order, never in a cycle, whichever way each one takes.
 */
export function keyOrder(batch: Pick<FreshBatch, 'records' | 'hours'>): number[] {
  const ids = batch.records.map((r) => r.resourceId);
  // Below the surrogates, UTF-16 code units sort as UTF-8 bytes do: the ids' bytes are made only
  // for a batch with an id above them.
  const bytes = ids.some((id) => SURROGATE.test(id)) ? ids.map((id) => Buffer.from(id)) : undefined;
  const byId = bytes
    ? (a: number, b: number) => Buffer.compare(bytes[a], bytes[b])
    : (a: number, b: number) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0);
  const meter = batch.records.map((r) => r.meterId.toLowerCase());
  const hour = batch.hours.map((h) => h.getTime());
  return ids
    .map((_, i) => i)
    .sort(
      (a, b) =>
        byId(a, b) ||
        (meter[a] < meter[b] ? -1 : meter[a] > meter[b] ? 1 : 0) ||
        hour[a] - hour[b] ||
        batch.records[a].revision - batch.records[b].revision,
    );
}

/**
 * The customer subscription link in force for each directory and hour of the batch (registration's
 * `link_in_force`), the hours read by PostgreSQL from the records' own text as the COPY reads them.
 */
async function linksInForce(pool: pg.Pool, batch: FreshBatch) {
  const keys = batch.records.map((r) => `${r.tenantId} ${r.hour}`);
  // The first record of each directory and hour.
  const firsts = new Map<string, number>();
  for (const [i, k] of keys.entries()) if (!firsts.has(k)) firsts.set(k, i);
  const asked = [...firsts.values()];
  const found = await pool.query<{ n: string; id: string; subscription_id: string }>(
    `select x.n, l.id, l.customer_subscription_id as subscription_id
     from unnest($2::uuid[], $3::text[]) with ordinality as x(tenant_id, hour, n)
       join lateral link_in_force($1::uuid, x.tenant_id, x.hour::timestamptz) l on true`,
    [batch.cloudId, asked.map((i) => batch.records[i].tenantId), asked.map((i) => batch.records[i].hour)],
  );
  const links = new Map(found.rows.map((l) => [keys[asked[Number(l.n) - 1]], l]));
  // Each record's link, by its position in the batch.
  return keys.map((k) => links.get(k));
}

/** The COPY rows of a batch, in key order, each record with its first attribution. */
async function copyRows(pool: pg.Pool, batch: FreshBatch): Promise<Buffer[]> {
  // Read before the COPY, as a statement of a read-committed transaction would; the wait for its
  // turn changes nothing, since the link in force at the start of an hour gone by stays so.
  const links = await linksInForce(pool, batch);
  // Every field escaped, those of the batch's own too: a tab or line end in one must not make
  // a column or a row of its own.
  const fixed = [`deployment:${batch.cloudId}`, batch.cloudId, batch.registrationId].map(copyField).join('\t');
  const received = [batch.receivedAt.toISOString(), batch.batchId].map(copyField).join('\t');
  // Each row encoded straight into chunks of 64 kB: the batch's text as one string, and its
  // bytes, were two fresh megabytes a batch (ByteChunks says why that costs).
  const text = new ByteChunks();
  for (const i of keyOrder(batch)) {
    const link = links[i];
    const billed = `${copyField(link?.subscription_id ?? batch.registrationSubscriptionId)}\t${copyField(link?.id)}`;
    text.add(`${fixed}\t${recordFields(batch.records[i])}\t${received}\t${billed}\n`);
  }
  return text.take();
}

/**
 * A deployment's COPYs, one at a time in this process, per database: batches of one deployment
 * write into the same last pages of the same indexes, where three at once cost the database 1.6
 * times the CPU of one after the other, for no more records a second, and two at once 1.16 times,
 * for a fifth more (BENCHMARKS.md, ingestion): a hub of many deployments runs out of database CPU
 * first. Their rows are made beforehand, so the next batch's are made while one is copied.
 */
const copyTurns = new WeakMap<pg.Pool, Turns>();
const turnsOf = (pool: pg.Pool) => copyTurns.get(pool) ?? copyTurns.set(pool, new Turns()).get(pool)!;

export const freshBatchStore = {
  /**
   * Stores a batch by COPY when none of its keys is held yet (by the hub or twice in the batch):
   * answers how many it stored, or undefined (nothing stored) when the database refused the COPY,
   * for a held key or anything else, which the statement's way then answers; or, when some of its
   * records are of archived months, where archived usage ends (nothing stored).
   */
  async copyIfAllNew(
    pool: pg.Pool,
    batch: FreshBatch,
  ): Promise<{ received: number; new: number } | { archivedUntil: Date } | undefined> {
    const rows = await copyRows(pool, batch);
    const months = holdMonthsSql(batch.hours);
    return turnsOf(pool).run(batch.cloudId, async () => {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        // The batch's months held, then where archived usage ends and its month's partition read
        // (three statements, one trip).
        const [, , read, partition] = (await client.query(
          `begin; ${months.hold}; ${months.archivedUntil}; ${months.partition}`,
        )) as unknown as [
          unknown,
          unknown,
          pg.QueryResult<{ until: Date | null }>,
          pg.QueryResult<{ partition: string | null }>,
        ];
        const archivedUntil = read.rows[0].until ?? undefined;
        if (archivedRecords(batch.hours, archivedUntil).length > 0) {
          await client.query('rollback');
          return { archivedUntil: archivedUntil! };
        }
        // A COPY is one statement, stored whole or not at all. Its rows go with it at once
        // (`copyInAtOnce`): written 64 kB at a time, each write waited for, they kept the
        // database waiting whenever another request held this process (a body parsed, say).
        // Into the month's partition where there is one: into the parent, PostgreSQL inserts
        // them one by one, for its statement triggers (migration 0564 says why).
        const table = partition.rows[0].partition ?? 'usage_received';
        await copyInAtOnce(client, `copy ${table} (${COPY_COLUMNS}) from stdin`, rows);
        await client.query('commit');
        return { received: batch.records.length, new: batch.records.length };
      } catch (e) {
        // A refusal by the database leaves the connection fit for use once rolled back; anything
        // else (the connection lost midway) does not.
        if (e instanceof pg.DatabaseError) {
          await client.query('rollback');
          return undefined;
        }
        broken = e instanceof Error ? e : new Error(String(e));
        throw e;
      } finally {
        client.release(broken);
      }
    });
  },
};
