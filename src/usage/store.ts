import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { UsageRecordWire } from '../core/usage-record.ts';
import type { UsageHourSummary } from '../core/usage-summary.ts';
import { freshBatchStore } from './fresh-batch-store.ts';
import { usagePageStore } from './page-store.ts';
import type { UsageTables } from './tables.ts';

export { type UsageGroupKey, usageGroupOrder } from './page-store.ts';

// All SQL of usage on the hub: receiving records once, each holding its first attribution, the
// ledger and re-attribution (its pages are in page-store.ts).
export type UsageDb = Kysely<UsageTables>;

export type IncomingRecord = UsageRecordWire;

/** A record of a batch whose key the hub holds with another quantity. */
export interface DeploymentConflict {
  /** Its position in the batch. */
  index: number;
  resourceId: string;
  meterId: string;
  hour: Date;
  revision: number;
  stored: string;
  offered: string;
}

/**
 * A batch's records as a table, one typed array per column (`unnest`): PostgreSQL parses each
 * array with its type's input function, which is cheaper than reading the batch as JSON. `i` is
 * each record's position in the batch.
 */
function recordsTable(records: IncomingRecord[]): RawBuilder<unknown> {
  const column = <T>(value: (r: IncomingRecord) => T) => records.map(value);
  return sql`
    select x.*, x.n - 1 as i
    from unnest(${column((r) => r.resourceId)}::text[], ${column((r) => r.resourceUri)}::text[], ${column((r) => r.meterId)}::uuid[],
                ${column((r) => r.hour)}::timestamptz[], ${column((r) => r.revision)}::int[], ${column((r) => r.quantity)}::numeric[],
                ${column((r) => r.subscriptionId)}::uuid[], ${column((r) => r.tenantId)}::uuid[], ${column((r) => r.location)}::text[],
                ${column((r) => JSON.stringify(r.tags ?? {}))}::jsonb[])
      with ordinality as x("resourceId", "resourceUri", "meterId", hour, revision, quantity, "subscriptionId", "tenantId", location, tags, n)`;
}

/** The key of an external event: its source and id (what makes it unique). */
export const eventKey = (source: string, id: string) => `${source}\n${id}`;

export const usageStore = {
  ...usagePageStore,
  ...freshBatchStore,
  /**
   * Stores the records of a batch that are not stored yet, each with its first attribution, in
   * one statement: to the customer subscription that held the record's directory on the deployment
   * at the start of its hour (registration's `link_in_force`), else to the registration subscription.
   * Answers how many were new, or the batch's conflicts: records whose key (source, resource,
   * meter, hour, revision) is already held with another quantity, by the hub or by an earlier
   * record of the same batch. With conflicts the caller must roll the transaction back.
   *
   * The hub's copy of a key is found by the insert itself (`on conflict` on the unique key), not
   * by a look-up beside it: without statistics (a new table or month) the planner took another
   * index for such a look-up and filtered every record of the hour for each one (20 s a batch).
   * A conflicting row is "updated" to itself so that it is returned with its stored quantity.
   */
  async receiveFromDeployment(
    db: UsageDb,
    batch: {
      cloudId: string;
      registrationId: string;
      registrationSubscriptionId: string;
      batchId: string;
      receivedAt: Date;
      records: IncomingRecord[];
    },
  ): Promise<{ received: number; new: number; conflicts: DeploymentConflict[] }> {
    const result = await sql<{ new: string; total: string; conflicts: DeploymentConflict[] }>`
      with input as (${recordsTable(batch.records)}), in_batch as (
        select x.i, x."resourceId", x."meterId", x.hour, x.revision, y.quantity as stored, x.quantity as offered
        from input x join input y
          on y."resourceId" = x."resourceId" and y."meterId" = x."meterId" and y.hour = x.hour and y.revision = x.revision and y.i < x.i
        where y.quantity <> x.quantity
      ), firsts as (
        select distinct on ("resourceId", "meterId", hour, revision) * from input order by "resourceId", "meterId", hour, revision, i
      ), stored as (
        insert into usage_received (source, cloud_id, registration_id, resource_id, resource_uri, meter_id, hour, revision, quantity,
                                    stack_subscription_id, tenant_id, location, tags, received_at, batch_id, billed_subscription_id, link_id)
        select 'deployment:' || ${batch.cloudId}, ${batch.cloudId}::uuid, ${batch.registrationId}::uuid, f."resourceId", f."resourceUri", f."meterId", f.hour, f.revision, f.quantity,
               f."subscriptionId", f."tenantId", f.location, f.tags, ${batch.receivedAt}::timestamptz, ${batch.batchId}::uuid,
               coalesce(l.customer_subscription_id, ${batch.registrationSubscriptionId}::uuid), l.id
        -- in the key's order (the resource id by its bytes, as fresh-batch-store's COPY too): two
        -- batches that share keys wait for each other's keys in one order, never in a cycle (no
        -- deadlock), and the unique index keeps the first committed quantity
        from firsts f left join lateral link_in_force(${batch.cloudId}::uuid, f."tenantId", f.hour) l on true
        where not exists (select 1 from in_batch) order by f."resourceId" collate "C", f."meterId", f.hour, f.revision
        on conflict (source, resource_id, meter_id, hour, revision)
          do update set batch_id = usage_received.batch_id where usage_received.quantity <> excluded.quantity
        returning resource_id, meter_id, hour, revision, quantity
      ), conflicting as (
        select f.i, f."resourceId", f."meterId", f.hour, f.revision, s.quantity as stored, f.quantity as offered
        from stored s join firsts f
          on f."resourceId" = s.resource_id and f."meterId" = s.meter_id and f.hour = s.hour and f.revision = s.revision
        where s.quantity <> f.quantity
        union all
        select * from in_batch
      )
      select (select count(*) from stored) as new, (select count(*) from input) as total,
        (select coalesce(jsonb_agg(jsonb_build_object('index', c.i, 'resourceId', c."resourceId", 'meterId', c."meterId", 'hour', c.hour,
                 'revision', c.revision, 'stored', c.stored::text, 'offered', c.offered::text) order by c.i), '[]')
         from (select distinct on (i) * from conflicting order by i) c) as conflicts
    `.execute(db);
    const row = result.rows[0];
    const conflicts = row.conflicts.map((c) => ({ ...c, hour: new Date(c.hour) }));
    return { received: Number(row.total), new: Number(row.new), conflicts };
  },

  /**
   * Counts refused conflicts: once per key and quantity offered, with how often each was sent.
   * Answers the conflicts refused for the first time.
   */
  async countConflicts(
    db: UsageDb,
    cloudId: string,
    conflicts: DeploymentConflict[],
    at: Date,
  ): Promise<Omit<DeploymentConflict, 'index'>[]> {
    if (conflicts.length === 0) return [];
    const result = await sql<Omit<DeploymentConflict, 'index'>>`
      insert into usage_conflicts (source, cloud_id, resource_id, meter_id, hour, revision, stored_quantity, offered_quantity, first_refused_at, last_refused_at)
      select distinct on ("resourceId", "meterId", hour, revision, offered) ${`deployment:${cloudId}`}, ${cloudId}::uuid, "resourceId", "meterId", hour, revision, stored, offered, ${at}::timestamptz, ${at}::timestamptz
      from jsonb_to_recordset(${JSON.stringify(conflicts)}::jsonb)
        as x("resourceId" text, "meterId" uuid, "hour" timestamptz, "revision" int, "stored" numeric, "offered" numeric)
      on conflict (source, resource_id, meter_id, hour, revision, offered_quantity)
        do update set refusals = usage_conflicts.refusals + 1, last_refused_at = excluded.last_refused_at
      returning resource_id as "resourceId", meter_id as "meterId", hour, revision, stored_quantity::text as stored,
        offered_quantity::text as offered, (xmax = 0) as new
    `.execute(db);
    return (result.rows as (Omit<DeploymentConflict, 'index'> & { new: boolean })[])
      .filter((r) => r.new)
      .map(({ new: _, ...c }) => c);
  },

  /** What the hub received from a deployment, per usage hour and meter: the reconciliation's other side. */
  async deploymentSummary(db: UsageDb, cloudId: string, from: Date, to: Date): Promise<UsageHourSummary[]> {
    const result = await sql<UsageHourSummary>`
      select to_char(hour at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as hour, meter_id::text as "meterId", count(*)::int as records, sum(quantity)::text as quantity
      from usage_received
      where cloud_id = ${cloudId}::uuid and source = ${`deployment:${cloudId}`} and hour >= ${from}::timestamptz and hour < ${to}::timestamptz
      group by hour, meter_id
      order by hour, meter_id
    `.execute(db);
    return result.rows;
  },

  /** Conflicts refused in a range of usage hours (of one deployment, or all): distinct records, and refusals. */
  async conflictCounts(
    db: UsageDb,
    from: Date,
    to: Date,
    cloudId?: string,
  ): Promise<{ records: number; refusals: number }> {
    const result = await sql<{ records: number; refusals: number }>`
      select count(*)::int as records, coalesce(sum(refusals), 0)::int as refusals from usage_conflicts
      where hour >= ${from}::timestamptz and hour < ${to}::timestamptz ${cloudId ? sql`and cloud_id = ${cloudId}::uuid` : sql``}
    `.execute(db);
    return result.rows[0];
  },

  /**
   * The ledger invariant, over a range of usage hours: per deployment, meter and hour, the sum
   * received equals the sum attributed. Answers the places where it does not hold.
   */
  async ledgerDifferences(db: UsageDb, from: Date, to: Date) {
    const result = await sql<{ source: string; meter_id: string; hour: Date; received: string; attributed: string }>`
      with received as (
        select source, meter_id, hour, sum(quantity) as q from usage_received where hour >= ${from}::timestamptz and hour < ${to}::timestamptz group by source, meter_id, hour
      ), attributed as (
        select source, meter_id, hour, sum(quantity) as q
        from usage_attributions where hour >= ${from}::timestamptz and hour < ${to}::timestamptz group by source, meter_id, hour
      )
      select coalesce(x.source, y.source) as source, coalesce(x.meter_id, y.meter_id)::text as meter_id, coalesce(x.hour, y.hour) as hour,
             coalesce(x.q, 0)::text as received, coalesce(y.q, 0)::text as attributed
      from received x full join attributed y on x.source = y.source and x.meter_id = y.meter_id and x.hour = y.hour
      where coalesce(x.q, 0) <> coalesce(y.q, 0)
      order by 3, 1, 2
    `.execute(db);
    return result.rows;
  },

  async ledgerTotals(db: UsageDb, from: Date, to: Date) {
    const result = await sql<{ records: string; received: string; attributed: string }>`
      select (select count(*) from usage_received where hour >= ${from}::timestamptz and hour < ${to}::timestamptz)::text as records,
             (select coalesce(sum(quantity), 0) from usage_received where hour >= ${from}::timestamptz and hour < ${to}::timestamptz)::text as received,
             (select coalesce(sum(quantity), 0) from usage_attributions where hour >= ${from}::timestamptz and hour < ${to}::timestamptz)::text as attributed
    `.execute(db);
    return result.rows[0];
  },

  /** Takes the lock that makes re-attributions one at a time (they read what they then correct). */
  async lockReattribution(db: UsageDb): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtext('stackledger:reattribution'))`.execute(db);
  },

  /**
   * Re-attribution of the usage hours in [from, to): each record whose net attribution differs
   * from what the links in force at `asOf` decide (registration's `link_in_force`) gets reversing
   * entries for what it was billed to and a new entry for the decision. Nothing is edited. Answers
   * how many entries it wrote.
   */
  async reattribute(
    db: UsageDb,
    q: { from: Date; to: Date; cloudId?: string; asOf: Date; at: Date; reattributionId: string },
  ) {
    const result = await sql<{ reversed: string; added: string }>`
      with scope as (
        select r.id, r.source, r.hour, r.meter_id, r.resource_uri, r.location, r.cloud_id, r.tenant_id, r.quantity, r.billed_subscription_id,
               g.subscription_id as registration_subscription_id
        from usage_received r join registration_subscriptions() g on g.registration_id = r.registration_id
        where r.hour >= ${q.from}::timestamptz and r.hour < ${q.to}::timestamptz
          ${q.cloudId ? sql`and r.cloud_id = ${q.cloudId}::uuid` : sql``}
      ), current as (
        -- each record's net per subscription: its first attribution (on the record) and the rows after it
        select source, hour, received_id, billed_subscription_id, sum(quantity) as quantity
        from (
          select s.source, s.hour, s.id as received_id, s.billed_subscription_id, s.quantity from scope s where s.billed_subscription_id is not null
          union all
          select a.source, a.hour, a.received_id, a.billed_subscription_id, a.quantity
          from usage_attributed a join scope s on s.source = a.source and s.hour = a.hour and s.id = a.received_id
        ) x
        group by source, hour, received_id, billed_subscription_id
        having sum(quantity) <> 0
      ), decision as (
        select s.source, s.hour, s.id as received_id, s.meter_id, s.resource_uri, s.location, coalesce(l.customer_subscription_id, s.registration_subscription_id) as billed_subscription_id, l.id as link_id, s.quantity
        from scope s
        left join lateral link_in_force(s.cloud_id, s.tenant_id, ${q.asOf}::timestamptz) l on true
      ), changed as (
        select d.* from decision d
        where not exists (select 1 from current c where c.received_id = d.received_id and c.billed_subscription_id = d.billed_subscription_id and c.quantity = d.quantity)
      ), reversed as (
        insert into usage_attributed (source, hour, received_id, meter_id, resource_uri, location, billed_subscription_id, link_id, reason, quantity, attributed_at, reattribution_id)
        select c.source, c.hour, c.received_id, x.meter_id, x.resource_uri, x.location, c.billed_subscription_id, null, 'reattribution: reversed', -c.quantity, ${q.at}::timestamptz, ${q.reattributionId}::uuid
        from current c join changed x on x.received_id = c.received_id
        returning 1
      ), added as (
        insert into usage_attributed (source, hour, received_id, meter_id, resource_uri, location, billed_subscription_id, link_id, reason, quantity, attributed_at, reattribution_id)
        select x.source, x.hour, x.received_id, x.meter_id, x.resource_uri, x.location, x.billed_subscription_id, x.link_id, case when x.link_id is null then 'reattribution: not registered' else 'reattribution: linked' end,
               x.quantity, ${q.at}::timestamptz, ${q.reattributionId}::uuid
        from changed x
        returning 1
      )
      select (select count(*) from reversed)::text as reversed, (select count(*) from added)::text as added
    `.execute(db);
    return { reversed: Number(result.rows[0].reversed), added: Number(result.rows[0].added) };
  },

  /** External usage (CloudEvents): each event stored once by id and source, billed to its subject. */
  async receiveEvents(
    db: UsageDb,
    batch: {
      batchId: string;
      receivedAt: Date;
      events: {
        source: string;
        id: string;
        subscriptionId: string;
        meterId: string;
        hour: string;
        quantity: string;
        resourceUri: string;
        location: string;
      }[];
    },
  ): Promise<{ received: number; new: number; newKeys: string[] }> {
    const result = await sql<{ new: string; total: string; new_keys: string[] | null }>`
      with input as (
        select * from jsonb_to_recordset(${JSON.stringify(batch.events)}::jsonb)
          as x("source" text, "id" text, "subscriptionId" uuid, "meterId" uuid, "hour" timestamptz, "quantity" numeric, "resourceUri" text, "location" text)
      ), first_seen as (
        -- each event once by source and id, whatever hour it names (usage_event_ids)
        insert into usage_event_ids (source, event_id)
        select distinct 'cloudevents:' || "source", "id" from input
        on conflict do nothing
        returning source, event_id
      ), inserted as (
        -- billed to the event's subject (usage_attributions' reason: 'external meter')
        insert into usage_received (source, resource_id, resource_uri, meter_id, hour, revision, quantity, location, tags, received_at, batch_id,
                                    stack_subscription_id, billed_subscription_id)
        select distinct on (f.source, f.event_id) f.source, f.event_id, "resourceUri", "meterId", "hour", 1, "quantity", "location", '{}'::jsonb,
               ${batch.receivedAt}::timestamptz, ${batch.batchId}::uuid, "subscriptionId", "subscriptionId"
        from input x join first_seen f on f.source = 'cloudevents:' || x."source" and f.event_id = x."id"
        on conflict do nothing
        returning source, resource_id
      )
      select (select count(*) from inserted) as new, (select count(*) from input) as total,
        (select array_agg(substr(source, length('cloudevents:') + 1) || E'\n' || resource_id) from inserted) as new_keys
    `.execute(db);
    const row = result.rows[0];
    return { received: Number(row.total), new: Number(row.new), newKeys: row.new_keys ?? [] };
  },

  // Published for billing (its daily aggregates: daily-store.ts).
  /**
   * Every attribution with its id and its record's meter, resource, location and hour. Only for
   * billing's migration that turns the invoices' id watermarks of the past into billed quantities.
   */
  attributionsWithIds: (): RawBuilder<unknown> => sql`
    select a.id, a.billed_subscription_id, a.quantity, r.meter_id, r.resource_uri, r.location, r.hour
    from usage_attributed a join usage_received r on r.source = a.source and r.hour = a.hour and r.id = a.received_id`,
};
