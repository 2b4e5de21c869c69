import { type Kysely, type Migration, sql } from 'kysely';
import { LIST_SHEET, pricingMigrations } from '../rating/migrations.ts';
import { usageStore } from '../usage/store.ts';
import { BILLABLE_SUBSCRIPTIONS } from './rated-store.ts';

export const billingMigrations: Record<string, Migration> = {
  ...pricingMigrations(LIST_SHEET, 'The provider list prices that partners pay'),
  '0602_billing': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table billing_profiles (
          seller text not null,
          customer_id uuid,
          billing_day int not null check (billing_day between 1 and 28),
          tax_rate numeric(7, 4) not null check (tax_rate >= 0 and tax_rate < 100),
          updated_by text not null,
          updated_at timestamptz not null,
          unique nulls not distinct (seller, customer_id)
        );
        create sequence invoice_numbers;
        create table invoices (
          id uuid primary key,
          number text not null unique,
          stream text not null check (stream in ('partner', 'customer')),
          kind text not null check (kind in ('invoice', 'credit_note')),
          seller text not null,
          buyer_id uuid not null,
          period text not null,
          period_start timestamptz not null,
          period_end timestamptz not null,
          watermark bigint not null,
          adjustment_watermark bigint not null,
          invoice_date timestamptz not null,
          currency text not null,
          subtotal numeric(18, 2) not null,
          tax_rate numeric(7, 4) not null,
          tax numeric(18, 2) not null,
          total numeric(18, 2) not null,
          credit_note_for uuid references invoices (id),
          created_at timestamptz not null
        );
        -- a period is invoiced once: a second run, or two at once, add nothing
        create unique index invoices_once on invoices (stream, seller, buyer_id, period) where kind = 'invoice';
        create index invoices_buyer on invoices (buyer_id, period_end);
        create table invoice_lines (
          invoice_id uuid not null references invoices (id),
          line_no int not null,
          line_type text not null,
          customer_id uuid,
          subscription_id uuid,
          meter_id uuid,
          resource_uri text,
          location text,
          usage_date date,
          usage_to date,
          tier int,
          quantity numeric(38, 9),
          unit_price numeric(18, 6),
          amount numeric(18, 2) not null,
          description text,
          reason text,
          created_by text,
          primary key (invoice_id, line_no)
        );
        create table billing_adjustments (
          id bigserial primary key,
          seller text not null,
          customer_id uuid not null,
          subscription_id uuid,
          kind text not null check (kind in ('credit', 'adjustment')),
          amount numeric(18, 2) not null,
          description text not null,
          reason text not null,
          created_by text not null,
          created_at timestamptz not null,
          credit_note_for uuid references invoices (id)
        );
        create function closed_documents_never_change() returns trigger language plpgsql as $$
          begin raise exception 'a closed invoice never changes: issue a credit note'; end $$;
        create trigger invoices_closed before update or delete on invoices
          for each statement execute function closed_documents_never_change();
        create trigger invoice_lines_closed before update or delete on invoice_lines
          for each statement execute function closed_documents_never_change();
        -- late usage is found by its hour
        create index usage_received_by_hour on usage_received (hour);
      `.execute(db);
    },
  },
  '0603_list_order_index': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: a buyer's invoices by period and number.
      await sql`
        create index invoices_buyer_order on invoices (stream, buyer_id, period, number);
      `.execute(db);
    },
  },
  '0620_billed_quantities': {
    async up(db: Kysely<unknown>) {
      // What each buyer's invoices have billed, per usage key: a close bills (daily aggregate −
      // billed), so exactness rests on keys, not on ids committing in order. The buyer leads every
      // key: it is the distribution column.
      await sql`
        create table billed_daily (
          buyer_id uuid not null,
          stream text not null,
          seller text not null,
          subscription_id uuid not null,
          usage_date date not null,
          meter_id uuid not null,
          resource_uri text not null,
          location text not null,
          quantity numeric(38, 9) not null,
          invoice_id uuid not null references invoices (id),
          primary key (buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location)
        );
        create table billed_adjustments (
          buyer_id uuid not null,
          adjustment_id bigint not null references billing_adjustments (id),
          invoice_id uuid not null references invoices (id),
          primary key (buyer_id, adjustment_id)
        );
      `.execute(db);
      // Invoices closed so far took, per buyer, the attributions up to its last invoice's watermark
      // whose hour is before that invoice's end (the union of each invoice's share), and the
      // adjustments up to their adjustment watermarks: written once here as billed quantities.
      await sql`
        with last as (
          select distinct on (stream, seller, buyer_id) id, stream, seller, buyer_id, watermark, period_end
          from invoices where kind = 'invoice' order by stream, seller, buyer_id, period_end desc
        ), subs as (${BILLABLE_SUBSCRIPTIONS})
        insert into billed_daily (buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location, quantity, invoice_id)
        select l.buyer_id, l.stream, l.seller, s.subscription_id, (u.hour at time zone 'UTC')::date, u.meter_id, u.resource_uri, u.location, sum(u.quantity), l.id
        from last l
        join subs s on case when l.stream = 'partner' then s.partner_id = l.buyer_id else s.customer_id = l.buyer_id and s.partner_id::text = l.seller end
        join (${usageStore.attributionsWithIds()}) u on u.billed_subscription_id = s.subscription_id and u.id <= l.watermark and u.hour < l.period_end
        group by l.buyer_id, l.stream, l.seller, s.subscription_id, 5, u.meter_id, u.resource_uri, u.location, l.id
      `.execute(db);
      await sql`
        insert into billed_adjustments (buyer_id, adjustment_id, invoice_id)
        select a.customer_id, a.id, i.id
        from billing_adjustments a
        cross join lateral (
          select i.id from invoices i
          where i.kind = 'invoice' and i.seller = a.seller and i.buyer_id = a.customer_id and i.adjustment_watermark >= a.id
          order by i.period_end limit 1
        ) i
        where a.credit_note_for is null
      `.execute(db);
    },
  },
  '0630_invoice_drafts': {
    async up(db: Kysely<unknown>) {
      // Drafts, finalization, void and regenerate (issue #19). A draft has no number (it is
      // addressed by `draft_name`) until it is finalized; numbers come from a counter per seller
      // and prefix, taken in the finalizing transaction, so they are gapless per seller. Each
      // invoice records what it added to `billed_daily` (`invoice_billed`), so that re-rating a
      // draft or voiding an invoice can take exactly that back.
      await sql`
        alter table billing_profiles add column grace_period_days int not null default 0
          check (grace_period_days between 0 and 27);
        alter table invoices
          alter column number drop not null,
          add column status text not null default 'finalized' check (status in ('draft', 'finalized', 'voided')),
          add column draft_name text unique,
          -- what the invoice is addressed by: its draft name, then its number
          add column name text generated always as (coalesce(number, draft_name)) stored,
          add column finalize_after timestamptz,
          add column replaces uuid unique references invoices (id),
          add column void_reason text,
          add column voided_at timestamptz,
          add column voided_by text,
          -- invoices closed before now did not record what they billed
          add column billed_recorded boolean not null default false,
          add constraint invoices_numbered check ((status = 'draft') = (number is null));
        alter table invoices alter column billed_recorded set default true;
        alter table invoices drop constraint invoices_number_key;
        create unique index invoices_seller_number on invoices (seller, number);
        create index invoices_seller_name on invoices (seller, lower(name));
        drop index invoices_buyer_order;
        create index invoices_buyer_order on invoices (stream, buyer_id, period, name);
        drop index invoices_once;
        create unique index invoices_once on invoices (stream, seller, buyer_id, period) where kind = 'invoice' and replaces is null;
        create index invoices_drafts on invoices (finalize_after) where status = 'draft';
        create table invoice_number_counters (
          seller text not null,
          prefix text not null,
          last bigint not null,
          primary key (seller, prefix)
        );
        insert into invoice_number_counters (seller, prefix, last)
        select seller, substring(number from '^[A-Z]+'), max(substring(number from '[0-9]+$')::bigint)
        from invoices where number ~ '^[A-Z]+[0-9]+$' group by 1, 2;
        -- No foreign key to invoices: its rows are written by the statement that writes their
        -- invoice and taken back with it, and a key checked per row made every close a third slower.
        create table invoice_billed (
          buyer_id uuid not null,
          invoice_id uuid not null,
          subscription_id uuid not null,
          usage_date date not null,
          meter_id uuid not null,
          resource_uri text not null,
          location text not null,
          quantity numeric(38, 9) not null,
          primary key (buyer_id, invoice_id, subscription_id, usage_date, meter_id, resource_uri, location)
        );
        drop trigger invoices_closed on invoices;
        drop trigger invoice_lines_closed on invoice_lines;
        -- A draft changes until it is finalized; a finalized invoice only ever becomes voided
        -- (its status and the void's who, when and why), and nothing else changes.
        create function invoices_change_only_as_drafts() returns trigger language plpgsql as $$
          begin
            if old.status = 'draft' then return coalesce(new, old); end if;
            if tg_op = 'UPDATE' and old.status = 'finalized' and new.status = 'voided'
               and (to_jsonb(old) - array['status', 'void_reason', 'voided_at', 'voided_by', 'name'])
                 = (to_jsonb(new) - array['status', 'void_reason', 'voided_at', 'voided_by', 'name']) then
              return new;
            end if;
            raise exception 'a finalized invoice never changes: void it or issue a credit note';
          end $$;
        create trigger invoices_closed before update or delete on invoices
          for each row execute function invoices_change_only_as_drafts();
        create function invoice_lines_change_only_on_drafts() returns trigger language plpgsql as $$
          begin
            if exists (select 1 from invoices where id = old.invoice_id and status = 'draft') then return old; end if;
            raise exception 'a finalized invoice never changes: void it or issue a credit note';
          end $$;
        create trigger invoice_lines_closed before update or delete on invoice_lines
          for each row execute function invoice_lines_change_only_on_drafts();
        drop sequence invoice_numbers;
      `.execute(db);
    },
  },
  '0645_line_list_prices': {
    // A usage line keeps the list price beside the billed one (FOCUS's ListCost). Closed lines are
    // never updated (their trigger refuses it): theirs stay null, and exports fall back to the
    // billed unit price.
    async up(db: Kysely<unknown>) {
      await sql`alter table invoice_lines add column list_unit_price numeric(18, 6)`.execute(db);
    },
  },
};
