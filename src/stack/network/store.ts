import { type Kysely, sql } from 'kysely';
import { jsonValue } from '../../db/database.ts';
import { keyset, pageQuery, type Cursor } from '../../core/paging.ts';
import { ANY_TYPE_ORDER, NAMED_ROW_ORDER, whereNamed, type NamedRowFilter } from '../../db/named-rows.ts';
import { PUBLIC_IP_POOL } from './rules.ts';
import type { NetworkReferencesTable, NetworkResourcesTable, NetworkTables, ReferenceKind } from './tables.ts';

// All SQL of the network domain: its resources, what refers to what, and the public address pool.
export type NetworkDb = Kysely<NetworkTables>;

type ChildKey = { name_key: string };
/** A resource's children (subnets, security rules, IP configurations) by name, unique among them. */
export const CHILD_ORDER = keyset('networkChildren', [[sql.ref('c.name_key'), 'text']], (c: ChildKey) => [c.name_key]);

/** The advisory lock of the public address pool (one pool per deployment database). */
const POOL_LOCK = 0x4e45_5450; // 'NETP'

const named = (db: NetworkDb, subscriptionId: string, resourceGroup: string, type: string, name: string) =>
  whereNamed(db.selectFrom('network_resources').selectAll(), { subscriptionId, resourceGroup, type, name });

export const networkStore = {
  get: (db: NetworkDb, subscriptionId: string, resourceGroup: string, type: string, name: string) =>
    named(db, subscriptionId, resourceGroup, type, name).executeTakeFirst(),

  insert: async (db: NetworkDb, row: NetworkResourcesTable) => {
    await db
      .insertInto('network_resources')
      .values({ ...row, tags: jsonValue(row.tags), properties: jsonValue(row.properties) })
      .execute();
  },

  update: async (db: NetworkDb, row: NetworkResourcesTable) => {
    await db
      .updateTable('network_resources')
      .set({
        tags: jsonValue(row.tags),
        properties: jsonValue(row.properties),
        etag: row.etag,
        updated_at: row.updated_at,
      })
      .where('id', '=', row.id)
      .execute();
  },

  markDeleted: async (db: NetworkDb, id: string, at: Date) => {
    await db.updateTable('network_resources').set({ deleted_at: at }).where('id', '=', id).execute();
  },

  /** A page of live resources of one type, optionally of one group. */
  list: (db: NetworkDb, subscriptionId: string, type: string, resourceGroup: string | undefined, cursor: Cursor) =>
    pageQuery(
      whereNamed(db.selectFrom('network_resources').selectAll(), { subscriptionId, type, resourceGroup }),
      NAMED_ROW_ORDER,
      cursor,
    ).execute(),

  /** A page of live resources of every type for ARM's generic list, in its order (group, type, name). */
  listAnyType: (db: NetworkDb, filter: NamedRowFilter, cursor: Cursor) =>
    pageQuery(whereNamed(db.selectFrom('network_resources').selectAll(), filter), ANY_TYPE_ORDER, cursor).execute(),

  /**
   * A page of children's names (lower case), of the children as their parent was read: they live
   * inline in its document, so the page comes from that one version of it, ordered as SQL orders keys.
   */
  childPage: (db: NetworkDb, children: readonly { name: string }[], cursor: Cursor) => {
    const names = jsonValue(children.map((c) => c.name));
    const keys = sql<ChildKey>`(select lower(n) as name_key from jsonb_array_elements_text(${names}::jsonb) n)`;
    return pageQuery(db.selectFrom(keys.as('c')).select('c.name_key'), CHILD_ORDER, cursor).execute();
  },

  /** The subscription's live resources of a type, from the counter its trigger keeps: read under the subscription's lock. */
  countLive: async (db: NetworkDb, subscriptionId: string, type: string): Promise<number> => {
    const row = await db
      .selectFrom('network_usage')
      .select('live')
      .where('subscription_id', '=', subscriptionId)
      .where('type_key', '=', type.toLowerCase())
      .executeTakeFirst();
    return row?.live ?? 0;
  },

  liveInGroup: (db: NetworkDb, subscriptionId: string, resourceGroup: string) =>
    db
      .selectFrom('network_resources')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .where('resource_group_key', '=', resourceGroup.toLowerCase())
      .where('deleted_at', 'is', null)
      .execute(),

  // ---- references ------------------------------------------------------------------------------

  referencesHeldBy: (db: NetworkDb, holderId: string, kinds?: ReferenceKind[]) => {
    let q = db.selectFrom('network_references').selectAll().where('holder_id', '=', holderId);
    if (kinds) q = q.where('kind', 'in', kinds);
    return q.orderBy('id').execute();
  },

  /** What refers to these resources (or to one subnet of a virtual network, by its name). */
  referencesTo: (db: NetworkDb, targetIds: string[], child?: string) => {
    if (targetIds.length === 0) return Promise.resolve([] as NetworkReferencesTable[]);
    let q = db.selectFrom('network_references').selectAll().where('target_id', 'in', targetIds);
    if (child !== undefined) q = q.where('target_child', '=', child.toLowerCase());
    return q.orderBy('id').execute();
  },

  insertReferences: async (db: NetworkDb, rows: NetworkReferencesTable[]) => {
    if (rows.length > 0) await db.insertInto('network_references').values(rows).execute();
  },

  deleteReferencesHeldBy: async (db: NetworkDb, holderId: string, kinds?: ReferenceKind[]) => {
    let q = db.deleteFrom('network_references').where('holder_id', '=', holderId);
    if (kinds) q = q.where('kind', 'in', kinds);
    await q.execute();
  },

  deleteReferencesTo: async (db: NetworkDb, targetId: string) => {
    await db.deleteFrom('network_references').where('target_id', '=', targetId).execute();
  },

  // ---- the public address pool -----------------------------------------------------------------

  publicAddressOf: async (db: NetworkDb, publicIpId: string): Promise<string | undefined> =>
    (
      await db
        .selectFrom('public_ip_pool')
        .select(sql<string>`host(address)`.as('address'))
        .where('public_ip_id', '=', publicIpId)
        .executeTakeFirst()
    )?.address,

  /** The public IP's address: the one it holds, else the lowest free one of the pool (undefined when none is). */
  allocatePublicAddress: async (db: NetworkDb, publicIpId: string): Promise<string | undefined> => {
    const held = await networkStore.publicAddressOf(db, publicIpId);
    if (held) return held;
    if (!db.isTransaction) throw new Error('allocatePublicAddress holds the pool lock: call it in a transaction');
    await sql`select pg_advisory_xact_lock(${POOL_LOCK})`.execute(db);
    const { rows } = await sql<{ address: string | null }>`
      select host(candidate) as address from (
        select ${PUBLIC_IP_POOL.first}::inet as candidate
        union all
        select address + 1 from public_ip_pool
      ) c
      where candidate <= ${PUBLIC_IP_POOL.last}::inet
        and not exists (select 1 from public_ip_pool p where p.address = c.candidate)
      order by candidate limit 1`.execute(db);
    const address = rows[0]?.address ?? undefined;
    if (address) await db.insertInto('public_ip_pool').values({ address, public_ip_id: publicIpId }).execute();
    return address;
  },

  releasePublicAddress: async (db: NetworkDb, publicIpId: string) => {
    await db.deleteFrom('public_ip_pool').where('public_ip_id', '=', publicIpId).execute();
  },

  takenPrivateAddresses: async (db: NetworkDb, vnetId: string, subnet: string): Promise<string[]> =>
    (
      await db
        .selectFrom('network_references')
        .select(sql<string>`host(private_ip)`.as('ip'))
        .where('target_id', '=', vnetId)
        .where('target_child', '=', subnet.toLowerCase())
        .where('private_ip', 'is not', null)
        .execute()
    ).map((r) => r.ip),
};
