import { type Kysely, sql } from 'kysely';
import { keyset, pageQuery, type Cursor } from '../core/paging.ts';
import type { PriceOverridesTable, PricingTables } from './tables.ts';
import { transaction } from '../db/transactions.ts';

// All SQL of price sheets and overrides, in both roles.
export type PricingDb = Kysely<PricingTables>;

/** A seller's overrides (GET priceOverrides), in the order they were added: by id, a bigserial. */
export const OVERRIDE_ORDER = keyset('priceOverrides', [['id', 'int']], (r: PriceOverridesTable) => [r.id]);

export const pricingStore = {
  /**
   * Published, as migration DDL: statement triggers `${name}_prices` and `${name}_overrides`
   * calling a subscriber's trigger function after every statement that changes the prices or the
   * overrides (billing re-prices what it keeps rated).
   */
  priceTriggers: (name: string, fn: string) => `
    create trigger ${name}_prices after insert or update or delete or truncate on prices
      for each statement execute function ${fn}();
    create trigger ${name}_overrides after insert or update or delete or truncate on price_overrides
      for each statement execute function ${fn}();`,

  async sheet(db: PricingDb, name: string) {
    return db.selectFrom('price_sheets').selectAll().where('name', '=', name).executeTakeFirst();
  },

  async sheetPrices(db: PricingDb, name: string) {
    return db
      .selectFrom('prices')
      .selectAll()
      .where('sheet', '=', name)
      .orderBy('meter_id')
      .orderBy('effective_from')
      .orderBy('tier_from')
      .execute();
  },

  /** Replaces the tiers of one meter from one day on (the earlier days keep theirs). */
  async setPrice(
    db: PricingDb,
    p: {
      sheet: string;
      meterId: string;
      effectiveFrom: string;
      tiers: { fromQuantity: string; unitPrice: string }[];
      by: string;
      at: Date;
    },
  ) {
    await transaction(db, async (tx) => {
      // One writer per meter and day at a time: a concurrent twin waits, then replaces what the first wrote.
      await sql`select pg_advisory_xact_lock(hashtext(${`prices ${p.sheet} ${p.meterId} ${p.effectiveFrom}`}))`.execute(
        tx,
      );
      await tx
        .deleteFrom('prices')
        .where('sheet', '=', p.sheet)
        .where('meter_id', '=', p.meterId)
        .where('effective_from', '=', p.effectiveFrom)
        .execute();
      await tx
        .insertInto('prices')
        .values(
          p.tiers.map((t) => ({
            sheet: p.sheet,
            meter_id: p.meterId,
            effective_from: p.effectiveFrom,
            tier_from: t.fromQuantity,
            unit_price: t.unitPrice,
            created_by: p.by,
            created_at: p.at,
          })),
        )
        .execute();
    });
  },

  async addOverride(
    db: PricingDb,
    o: {
      seller: string;
      customerId: string | null;
      offerId: string | null;
      meterId: string | null;
      kind: string;
      value: string;
      effectiveFrom: string;
      reason: string;
      by: string;
      at: Date;
    },
  ) {
    const r = await sql<{ id: string }>`
      insert into price_overrides (seller, customer_id, offer_id, meter_id, kind, value, effective_from, reason, created_by, created_at)
      values (${o.seller}, ${o.customerId}::uuid, ${o.offerId}, ${o.meterId}::uuid, ${o.kind}, ${o.value}::numeric, ${o.effectiveFrom}::date, ${o.reason}, ${o.by}, ${o.at}::timestamptz)
      returning id::text
    `.execute(db);
    return r.rows[0].id;
  },

  /** A page of a seller's overrides (OVERRIDE_ORDER); with a buyer, only those for every buyer or for that one. */
  async overrides(db: PricingDb, cursor: Cursor, seller: string, buyer?: string) {
    let q = db.selectFrom('price_overrides').selectAll().where('seller', '=', seller);
    if (buyer !== undefined) q = q.where((eb) => eb.or([eb('customer_id', 'is', null), eb('customer_id', '=', buyer)]));
    return pageQuery(q, OVERRIDE_ORDER, cursor).execute();
  },
};
