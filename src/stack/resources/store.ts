import { type Kysely, sql } from 'kysely';
import { jsonValue } from '../../db/database.ts';
import type { MeterRates } from './metering.ts';
import type { OperationsTable, ResourcesTable, ResourcesTables } from './tables.ts';

// All SQL of tenant resources, their metering intervals and the hours closed from them.
export type ResourcesDb = Kysely<
  ResourcesTables & {
    subscriptions: { subscription_id: string; tenant_id: string; state: string };
    settings: { key: string; value: unknown };
  }
>;

/** The advisory lock of closing hours (a fixed key: one deployment per database). */
export const CLOSING_LOCK = 0x5354_4b4d; // 'STKM'

const sameRates = (a: MeterRates, b: MeterRates) => {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && Number(a[k]) === Number(b[k]));
};

/** Resources of one type and name in a resource group, names compared case-insensitively. */
const named = (db: ResourcesDb, subscriptionId: string, resourceGroup: string, type: string, name: string) =>
  db
    .selectFrom('resources')
    .selectAll()
    .where('subscription_id', '=', subscriptionId)
    .where('resource_group_key', '=', resourceGroup.toLowerCase())
    .where('type_key', '=', type.toLowerCase())
    .where('name_key', '=', name.toLowerCase());

export const resourcesStore = {
  get: (db: ResourcesDb, subscriptionId: string, resourceGroup: string, type: string, name: string) =>
    named(db, subscriptionId, resourceGroup, type, name).where('deleted_at', 'is', null).executeTakeFirst(),

  /** Whether a live resource of the type has the name anywhere on the deployment. */
  nameTaken: async (db: ResourcesDb, type: string, name: string): Promise<boolean> =>
    (await db
      .selectFrom('resources')
      .select('id')
      .where('type_key', '=', type.toLowerCase())
      .where('name_key', '=', name.toLowerCase())
      .where('deleted_at', 'is', null)
      .executeTakeFirst()) !== undefined,

  /** The newest resource of that name, deleted or not. */
  getIncludingDeleted: (db: ResourcesDb, subscriptionId: string, resourceGroup: string, type: string, name: string) =>
    named(db, subscriptionId, resourceGroup, type, name).orderBy('created_at', 'desc').executeTakeFirst(),

  byId: (db: ResourcesDb, id: string) => db.selectFrom('resources').selectAll().where('id', '=', id).executeTakeFirst(),

  insert: async (db: ResourcesDb, row: ResourcesTable) => {
    await db
      .insertInto('resources')
      .values({
        ...row,
        tags: jsonValue(row.tags),
        properties: jsonValue(row.properties),
        sku: row.sku === null ? null : jsonValue(row.sku),
      })
      .execute();
  },

  update: async (db: ResourcesDb, row: ResourcesTable) => {
    await db
      .updateTable('resources')
      .set({
        tags: jsonValue(row.tags),
        properties: jsonValue(row.properties),
        sku: row.sku === null ? null : jsonValue(row.sku),
        updated_at: row.updated_at,
      })
      .where('id', '=', row.id)
      .execute();
  },

  markDeleted: async (db: ResourcesDb, id: string, at: Date) => {
    await db.updateTable('resources').set({ deleted_at: at }).where('id', '=', id).execute();
  },

  list: (
    db: ResourcesDb,
    subscriptionId: string,
    type: string,
    resourceGroup: string | undefined,
    offset: number,
    limit: number,
  ) => {
    let q = db
      .selectFrom('resources')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('type_key', '=', type.toLowerCase())
      .where('deleted_at', 'is', null);
    if (resourceGroup !== undefined) q = q.where('resource_group_key', '=', resourceGroup.toLowerCase());
    return q.orderBy('resource_group_key').orderBy('name_key').offset(offset).limit(limit).execute();
  },

  /** Live resources of every type, for ARM's generic list: optionally of one group, type, name or location. */
  listAnyType: (
    db: ResourcesDb,
    subscriptionId: string,
    resourceGroup: string | undefined,
    filter: { resourceType?: string; name?: string; location?: string },
    offset: number,
    limit: number,
  ) => {
    let q = db
      .selectFrom('resources')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('deleted_at', 'is', null);
    if (resourceGroup !== undefined) q = q.where('resource_group_key', '=', resourceGroup.toLowerCase());
    if (filter.resourceType !== undefined) q = q.where('type_key', '=', filter.resourceType.toLowerCase());
    if (filter.name !== undefined) q = q.where('name_key', '=', filter.name.toLowerCase());
    if (filter.location !== undefined) q = q.where(sql`lower(location)`, '=', filter.location.toLowerCase());
    return q
      .orderBy('resource_group_key')
      .orderBy('type_key')
      .orderBy('name_key')
      .offset(offset)
      .limit(limit)
      .execute();
  },

  liveInSubscription: (db: ResourcesDb, subscriptionId: string) =>
    db
      .selectFrom('resources')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('deleted_at', 'is', null)
      .execute(),

  liveInGroup: (db: ResourcesDb, subscriptionId: string, resourceGroup: string) =>
    db
      .selectFrom('resources')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('resource_group_key', '=', resourceGroup.toLowerCase())
      .where('deleted_at', 'is', null)
      .execute(),

  openRates: async (db: ResourcesDb, resourceId: string): Promise<MeterRates> => {
    const row = await db
      .selectFrom('resource_states')
      .select('rates')
      .where('resource_id', '=', resourceId)
      .where('valid_to', 'is', null)
      .executeTakeFirst();
    return (row?.rates as MeterRates) ?? {};
  },

  /** From `at` on, the resource meters at `rates` (nothing when empty); a change only when they differ. */
  changeRates: async (
    db: ResourcesDb,
    resourceId: string,
    subscriptionId: string,
    at: Date,
    rates: MeterRates,
    reason: string,
    recordedAt: Date,
  ) => {
    const open = await db
      .selectFrom('resource_states')
      .select(['id', 'rates'])
      .where('resource_id', '=', resourceId)
      .where('valid_to', 'is', null)
      .executeTakeFirst();
    if (sameRates((open?.rates as MeterRates) ?? {}, rates)) return false;
    if (open) await db.updateTable('resource_states').set({ valid_to: at }).where('id', '=', open.id).execute();
    if (Object.keys(rates).length > 0) {
      await db
        .insertInto('resource_states')
        .values({
          resource_id: resourceId,
          subscription_id: subscriptionId,
          valid_from: at,
          valid_to: null,
          rates: jsonValue(rates),
          reason,
          recorded_at: recordedAt,
        })
        .execute();
    }
    return true;
  },

  /**
   * A change that happened at `at` but is learnt only now: the interval that held at `at` ends
   * there, and the rest of it holds the new rates. Answers whether that interval was the open one.
   */
  splitAt: async (
    db: ResourcesDb,
    resourceId: string,
    subscriptionId: string,
    at: Date,
    rates: MeterRates,
    reason: string,
    recordedAt: Date,
  ): Promise<boolean | undefined> => {
    const holding = await db
      .selectFrom('resource_states')
      .selectAll()
      .where('resource_id', '=', resourceId)
      .where('valid_from', '<=', at)
      .where((eb) => eb.or([eb('valid_to', 'is', null), eb('valid_to', '>', at)]))
      .executeTakeFirst();
    if (!holding) return undefined;
    if (sameRates(holding.rates as MeterRates, rates)) return holding.valid_to === null;
    await db.updateTable('resource_states').set({ valid_to: at }).where('id', '=', holding.id).execute();
    if (Object.keys(rates).length > 0) {
      await db
        .insertInto('resource_states')
        .values({
          resource_id: resourceId,
          subscription_id: subscriptionId,
          valid_from: at,
          valid_to: holding.valid_to,
          rates: jsonValue(rates),
          reason,
          recorded_at: recordedAt,
        })
        .execute();
    }
    return holding.valid_to === null;
  },

  intervals: (db: ResourcesDb, resourceId: string) =>
    db
      .selectFrom('resource_states')
      .selectAll()
      .where('resource_id', '=', resourceId)
      .orderBy('valid_from')
      .orderBy('id')
      .execute(),

  /** Counts toward quotas: live resources of a type, and the cores of allocated VMs. */
  usageOf: async (db: ResourcesDb, subscriptionId: string) => {
    const rows = await db
      .selectFrom('resources')
      .select(['type_key', 'properties'])
      .where('subscription_id', '=', subscriptionId)
      .where('deleted_at', 'is', null)
      .execute();
    return rows;
  },

  insertOperation: async (db: ResourcesDb, row: OperationsTable) => {
    await db
      .insertInto('operations')
      .values({ ...row, error: row.error === null ? null : jsonValue(row.error) })
      .execute();
  },

  getOperation: (db: ResourcesDb, id: string) =>
    db.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst(),

  // ---- closing hours ---------------------------------------------------------------------------

  /**
   * Closes one hour for every resource in one statement: computes each resource's quantity per
   * meter from the intervals that overlap the hour, and writes, per resource and meter, the
   * difference from what earlier closings of the hour already wrote, as the next revision.
   * Closing again with nothing changed writes nothing. Answers how many records it wrote.
   */
  closeHour: async (db: ResourcesDb, hourStart: Date, reportedAt: Date): Promise<number> => {
    const end = new Date(hourStart.getTime() + 3_600_000);
    const result = await sql`
      with computed as (
        select s.resource_id, m.key as meter_id,
               round(sum(extract(epoch from (least(coalesce(s.valid_to, ${end}::timestamptz), ${end}::timestamptz) - greatest(s.valid_from, ${hourStart}::timestamptz))) * m.value::numeric) / 3600, 9) as quantity
        from resource_states s, jsonb_each_text(s.rates) m
        where s.valid_from < ${end}::timestamptz and (s.valid_to is null or s.valid_to > ${hourStart}::timestamptz)
        group by s.resource_id, m.key
      ), existing as (
        select resource_id, meter_id::text as meter_id, sum(quantity) as quantity, max(revision) as revision
        from usage_records where hour = ${hourStart}::timestamptz
        group by resource_id, meter_id
      ), delta as (
        select coalesce(c.resource_id, e.resource_id) as resource_id, coalesce(c.meter_id, e.meter_id) as meter_id,
               coalesce(c.quantity, 0) - coalesce(e.quantity, 0) as quantity, coalesce(e.revision, 0) + 1 as revision
        from computed c full join existing e on e.resource_id = c.resource_id and e.meter_id = c.meter_id
        where coalesce(c.quantity, 0) <> coalesce(e.quantity, 0)
      )
      insert into usage_records (resource_id, meter_id, hour, revision, quantity, subscription_id, tenant_id, resource_uri, location, tags, reported_at)
      select d.resource_id, d.meter_id::uuid, ${hourStart}::timestamptz, d.revision, d.quantity, r.subscription_id, s.tenant_id,
             '/subscriptions/' || r.subscription_id || '/resourceGroups/' || r.resource_group || '/providers/' || r.type || '/' || r.name,
             r.location, r.tags, ${reportedAt}::timestamptz
      from delta d
      join resources r on r.id = d.resource_id
      join subscriptions s on s.subscription_id = r.subscription_id
      on conflict do nothing
    `.execute(db);
    return Number(result.numAffectedRows ?? 0);
  },

  firstIntervalStart: async (db: ResourcesDb): Promise<Date | undefined> => {
    const row = await db
      .selectFrom('resource_states')
      .select((eb) => eb.fn.min('valid_from').as('first'))
      .executeTakeFirst();
    return (row?.first as Date | null) ?? undefined;
  },

  closedUntil: async (db: ResourcesDb): Promise<Date | undefined> => {
    const row = await db.selectFrom('settings').select('value').where('key', '=', 'metering').executeTakeFirst();
    const v = row?.value as { closedUntil?: string } | undefined;
    return v?.closedUntil ? new Date(v.closedUntil) : undefined;
  },

  setClosedUntil: async (db: ResourcesDb, at: Date) => {
    const json = JSON.stringify({ closedUntil: at.toISOString() });
    await db
      .insertInto('settings')
      .values({ key: 'metering', value: json })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: json }))
      .execute();
  },

  /**
   * Serializes, until the end of the caller's transaction, everything that closes hours or changes
   * closed history: a late report and the closing of its hour never overlap (the hour would close
   * with the old rates, unmarked). Taken first in the transaction, so that what follows reads what
   * the previous holder committed.
   */
  lockClosing: async (db: ResourcesDb) => {
    if (!db.isTransaction) throw new Error('lockClosing holds until the end of a transaction: call it in one');
    await sql`select pg_advisory_xact_lock(${CLOSING_LOCK})`.execute(db);
  },

  markDirty: async (db: ResourcesDb, hours: Date[]) => {
    if (hours.length === 0) return;
    await db
      .insertInto('metering_dirty_hours')
      .values(hours.map((hour) => ({ hour })))
      .onConflict((oc) => oc.column('hour').doNothing())
      .execute();
  },

  /** Takes the dirty hours before `before` off their list: in the transaction that closes them again. */
  takeDirty: async (db: ResourcesDb, before: Date): Promise<Date[]> => {
    if (!db.isTransaction)
      throw new Error('takeDirty must run in the transaction that closes the hours again, or a crash loses them');
    return (await db.deleteFrom('metering_dirty_hours').where('hour', '<', before).returning('hour').execute())
      .map((r) => r.hour)
      .sort((a, b) => a.getTime() - b.getTime());
  },

  recordsOf: (db: ResourcesDb, resourceId: string) =>
    db
      .selectFrom('usage_records')
      .selectAll()
      .where('resource_id', '=', resourceId)
      .orderBy('hour')
      .orderBy('meter_id')
      .orderBy('revision')
      .execute(),
};
