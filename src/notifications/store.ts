import { type Kysely, sql } from 'kysely';
import { type Cursor, keyset, pageQuery } from '../core/paging.ts';
import type { NotificationTables, WebhookDeliveriesTable, WebhookOwnerKind, WebhooksTable } from './tables.ts';

// All SQL of webhooks, their events and deliveries.
export type NotificationDb = Kysely<NotificationTables>;

export interface WebhookOwner {
  kind: WebhookOwnerKind;
  tenantId: string | null;
}

/** An event as another domain records it, in its own transaction. */
export interface NewEvent {
  /** What makes it once: recording the same key again records nothing. */
  key: string;
  type: string;
  occurredAt: Date;
  data: unknown;
  partnerId: string | null;
  customerId: string | null;
}

/** A delivery the worker holds: what to send, where, signed with what. */
export interface ClaimedDelivery {
  webhook_name: string;
  event_id: string;
  lease_id: string;
  url: string;
  sealed_secret: string;
  type: string;
  occurred_at: Date;
  data: unknown;
  attempts: number;
  first_attempt_at: Date | null;
}

const ownedBy = (owner: WebhookOwner) =>
  sql<boolean>`owner_kind = ${owner.kind} and owner_tenant_id is not distinct from ${owner.tenantId}::uuid`;

// Who may receive an event: its webhook's owner may read what the event is about. System
// administrators read everything, a partner what names it (its invoices, its customers'), a
// customer what names it as the customer.
const RECEIVES = sql`(w.owner_kind = 'system'
  or (w.owner_kind = 'partner' and w.owner_tenant_id = e.partner_id)
  or (w.owner_kind = 'customer' and w.owner_tenant_id = e.customer_id))`;

export const notificationStore = {
  async webhook(db: NotificationDb, name: string): Promise<WebhooksTable | undefined> {
    return db.selectFrom('webhooks').selectAll().where('name', '=', name).executeTakeFirst();
  },

  /** A page of an owner's webhooks, by name. */
  async webhooks(db: NotificationDb, owner: WebhookOwner, cursor: Cursor) {
    return pageQuery(db.selectFrom('webhooks').selectAll().where(ownedBy(owner)), WEBHOOKS_KEYSET, cursor).execute();
  },

  /**
   * Creates or replaces a webhook of this owner; without a sealed secret, only replaces (keeping
   * the secret). Undefined when the name is another owner's (the row is left as it is) or, without
   * a secret, when there is nothing to replace.
   */
  async putWebhook(
    db: NotificationDb,
    row: Omit<WebhooksTable, 'created_at' | 'updated_at' | 'sealed_secret'> & { sealed_secret?: string },
    now: Date,
  ): Promise<{ webhook: WebhooksTable; created: boolean } | undefined> {
    const owner = { kind: row.owner_kind, tenantId: row.owner_tenant_id };
    if (row.sealed_secret === undefined) {
      const webhook = await db
        .updateTable('webhooks')
        .set({ url: row.url, events: row.events, updated_at: now })
        .where('name', '=', row.name)
        .where(ownedBy(owner))
        .returningAll()
        .executeTakeFirst();
      return webhook && { webhook, created: false };
    }
    const result = await sql<WebhooksTable & { created: boolean }>`
      insert into webhooks (name, owner_kind, owner_tenant_id, url, events, sealed_secret, created_at, updated_at)
      values (${row.name}, ${row.owner_kind}, ${row.owner_tenant_id}::uuid, ${row.url}, ${row.events}::text[],
        ${row.sealed_secret}, ${now}, ${now})
      on conflict (name) do update set
        url = excluded.url, events = excluded.events, updated_at = excluded.updated_at, sealed_secret = excluded.sealed_secret
      where webhooks.owner_kind = excluded.owner_kind and webhooks.owner_tenant_id is not distinct from excluded.owner_tenant_id
      returning *, (xmax = 0) as created`.execute(db);
    const r = result.rows[0];
    if (!r) return undefined;
    const { created, ...webhook } = r;
    return { webhook, created };
  },

  async deleteWebhook(db: NotificationDb, name: string, owner: WebhookOwner): Promise<boolean> {
    const r = await db.deleteFrom('webhooks').where('name', '=', name).where(ownedBy(owner)).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  },

  /**
   * Records events (each once, by its key) and queues a delivery of each new one to every
   * webhook that asked for its type and whose owner may read what it is about. Runs in the
   * caller's transaction, so an event exists exactly when what it tells of does.
   */
  async record<DB>(db: Kysely<DB>, events: NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    const input = JSON.stringify(
      events.map((e) => ({
        event_key: e.key,
        type: e.type,
        occurred_at: e.occurredAt.toISOString(),
        data: e.data,
        partner_id: e.partnerId,
        customer_id: e.customerId,
      })),
    );
    await sql`
      with input as (
        select * from jsonb_to_recordset(${input}::jsonb)
          as x(event_key text, type text, occurred_at timestamptz, data jsonb, partner_id uuid, customer_id uuid)
      ), e as (
        insert into notification_events (id, event_key, type, occurred_at, data, partner_id, customer_id)
        select gen_random_uuid(), event_key, type, occurred_at, data, partner_id, customer_id from input
        on conflict (event_key) do nothing
        returning *
      )
      insert into webhook_deliveries (webhook_name, event_id, status)
      select w.name, e.id, 'Pending' from e join webhooks w on e.type = any (w.events) and ${RECEIVES}
      order by e.occurred_at, e.event_key, w.name`.execute(db);
  },

  /**
   * Takes up to `limit` deliveries that are due, each the oldest pending one of its webhook (so
   * each webhook gets its events in order), and holds them until `leaseUntil`, skipping what
   * another worker holds.
   */
  async claim(db: NotificationDb, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
    const result = await sql<ClaimedDelivery>`
      with heads as (
        select distinct on (webhook_name) webhook_name, event_id, next_attempt_at, leased_until
        from webhook_deliveries where status = 'Pending'
        order by webhook_name, seq
      ), due as (
        select d.webhook_name, d.event_id
        from webhook_deliveries d join heads h using (webhook_name, event_id)
        where h.next_attempt_at <= ${now} and (h.leased_until is null or h.leased_until < ${now})
        order by h.next_attempt_at
        limit ${limit}
        for update of d skip locked
      ), held as (
        update webhook_deliveries d set leased_until = ${leaseUntil}, lease_id = gen_random_uuid()
        from due where d.webhook_name = due.webhook_name and d.event_id = due.event_id
        returning d.*
      )
      select h.webhook_name, h.event_id, h.lease_id, h.attempts, h.first_attempt_at, w.url, w.sealed_secret, e.type, e.occurred_at, e.data
      from held h join webhooks w on w.name = h.webhook_name join notification_events e on e.id = h.event_id`.execute(
      db,
    );
    return result.rows;
  },

  /**
   * What one attempt came to: delivered, tried again at `nextAttemptAt`, or given up. Recorded
   * only while the attempt's hold stands: a re-send queued meanwhile is not overwritten.
   */
  async recordAttempt(
    db: NotificationDb,
    d: { webhook_name: string; event_id: string; lease_id: string },
    outcome: {
      at: Date;
      delivered: boolean;
      statusCode: number | null;
      error: string | null;
      nextAttemptAt?: Date;
    },
  ): Promise<void> {
    const status = outcome.delivered ? 'Delivered' : outcome.nextAttemptAt ? 'Pending' : 'Failed';
    await db
      .updateTable('webhook_deliveries')
      .set((eb) => ({
        status,
        attempts: eb('attempts', '+', 1),
        first_attempt_at: eb.fn.coalesce('first_attempt_at', sql<Date>`${outcome.at}::timestamptz`),
        last_attempt_at: outcome.at,
        last_status_code: outcome.statusCode,
        last_error: outcome.error,
        delivered_at: outcome.delivered ? outcome.at : null,
        next_attempt_at: outcome.nextAttemptAt ?? outcome.at,
        leased_until: null,
        lease_id: null,
      }))
      .where('webhook_name', '=', d.webhook_name)
      .where('event_id', '=', d.event_id)
      .where('lease_id', '=', d.lease_id)
      .execute();
  },

  /** A page of a webhook's deliveries, newest first. */
  async deliveries(db: NotificationDb, name: string, cursor: Cursor) {
    const query = db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('notification_events as e', 'e.id', 'd.event_id')
      .select([
        'd.seq',
        'd.event_id',
        'd.status',
        'd.attempts',
        'd.created_at',
        'd.next_attempt_at',
        'd.first_attempt_at',
        'd.last_attempt_at',
        'd.last_status_code',
        'd.last_error',
        'd.delivered_at',
        'e.type',
        'e.occurred_at',
      ])
      .where('d.webhook_name', '=', name);
    return pageQuery(query, DELIVERIES_KEYSET, cursor).execute();
  },

  /**
   * Queues a delivery again, as a new attempt series after what is already queued (the same
   * event, the same id). Undefined when the webhook has no such delivery.
   */
  async resend(
    db: NotificationDb,
    name: string,
    eventId: string,
    now: Date,
  ): Promise<WebhookDeliveriesTable | undefined> {
    return db
      .updateTable('webhook_deliveries')
      .set({
        status: 'Pending',
        seq: sql<string>`nextval(pg_get_serial_sequence('webhook_deliveries', 'seq'))`,
        next_attempt_at: now,
        first_attempt_at: null,
        leased_until: null,
        lease_id: null,
      })
      .where('webhook_name', '=', name)
      .where('event_id', '=', eventId)
      .returningAll()
      .executeTakeFirst();
  },
};

export type DeliveryRow = Awaited<ReturnType<typeof notificationStore.deliveries>>[number];

export const WEBHOOKS_KEYSET = keyset<WebhooksTable>('webhooks', [['name', 'text']], (w) => [w.name]);
export const DELIVERIES_KEYSET = keyset<{ seq: string }>(
  'webhook deliveries',
  [['d.seq', 'int']],
  (d) => [d.seq],
  'descending',
);
