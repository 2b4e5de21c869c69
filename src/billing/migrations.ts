import { type Kysely, type Migration, sql } from 'kysely';
import { LIST_SHEET, pricingMigrations } from '../rating/migrations.ts';
import { usageStore } from '../usage/store.ts';
import { partnerUnbilledMigrations } from './partner-unbilled-migrations.ts';
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
  '0650_line_resource_parts': {
    // What the exports write of a line's resource id, kept on the line when it is written rather
    // than parsed again on every export: `resource_parts` is [its group, its provider namespace]
    // as parseResourceId reads them (none if it is not a resource id), then FOCUS's ResourceType
    // (after the last '/providers/', every other segment from the first, without the last of them;
    // 0680 makes it the resource's ARM type).
    // A stored generated column: the rule is written once, here, computed once per line (one
    // call: a column each would parse the id three times), and adding it fills the lines already
    // closed (a table rewrite, which fires no trigger: closed lines never change).
    async up(db: Kysely<unknown>) {
      await sql`
        -- PL/pgSQL: a SQL function with a FROM clause is not inlined, and ran 40 times slower per line.
        create function resource_parts(uri text) returns text[] language plpgsql immutable strict parallel safe as $$
          declare
            seg text[] := array_remove(string_to_array(uri, '/'), '');
            n int := cardinality(seg);
            c int := case when lower(seg[3]) = 'resourcegroups' then 4 else 2 end;
            tail text := split_part(uri, '/providers/', -1);
            slashes int := length(tail) - length(replace(tail, '/', ''));
            parts text[] := array[null, null, null];
            p text[];
          begin
            if n >= 2 and lower(seg[1]) = 'subscriptions' and (c = 2 or n >= 4)
               and (n = c or (lower(seg[c + 1]) = 'providers' and n - c - 2 > 0 and (n - c - 2) % 2 = 0)) then
              parts[1] := case when c = 4 then seg[4] end;
              parts[2] := case when n > c then seg[c + 2] end;
            end if;
            -- the usual ids, of 3 to 6 segments after '/providers/', without building an array
            if slashes >= 2 and slashes < 4 then
              parts[3] := split_part(tail, '/', 1);
            elsif slashes >= 4 and slashes < 6 then
              parts[3] := split_part(tail, '/', 1) || '/' || split_part(tail, '/', 3);
            elsif slashes >= 6 then
              p := string_to_array(tail, '/');
              parts[3] := array_to_string(array(select p[k] from generate_series(1, cardinality(p) - 3 + cardinality(p) % 2, 2) k order by k), '/');
            end if;
            return parts;
          end $$;
        alter table invoice_lines add column resource_parts text[] generated always as (resource_parts(resource_uri)) stored;
      `.execute(db);
    },
  },
  '0660_billed_per_invoice': {
    // `billed_daily` keeps each invoice's own share per key (the key and the invoice are its
    // primary key; billed = the sum over the buyer's invoices), so a close inserts its shares
    // once instead of adding to a running total and recording its share again in
    // `invoice_billed`, and taking an invoice back deletes its rows. The running totals become
    // the recorded shares, plus, per key, what invoices closed before `0630_invoice_drafts`
    // billed (the total less the shares) on the buyer's latest of those (which cannot be voided).
    async up(db: Kysely<unknown>) {
      await sql`
        alter table billed_daily drop constraint billed_daily_pkey;
        with totals as (delete from billed_daily returning *),
        shares as (
          select i.buyer_id, i.stream, i.seller, r.subscription_id, r.usage_date, r.meter_id, r.resource_uri, r.location, r.quantity, r.invoice_id
          from invoice_billed r join invoices i on i.id = r.invoice_id
        ),
        recorded as (
          select buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location, sum(quantity) as quantity
          from shares group by 1, 2, 3, 4, 5, 6, 7, 8
        ),
        unrecorded as (
          select t.buyer_id, t.stream, t.seller, t.subscription_id, t.usage_date, t.meter_id, t.resource_uri, t.location,
                 t.quantity - coalesce(r.quantity, 0) as quantity,
                 coalesce((select i.id from invoices i
                           where i.kind = 'invoice' and not i.billed_recorded and i.stream = t.stream and i.seller = t.seller and i.buyer_id = t.buyer_id
                           order by i.period_end desc limit 1), t.invoice_id) as invoice_id
          from totals t left join recorded r using (buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location)
          where t.quantity <> coalesce(r.quantity, 0)
        )
        insert into billed_daily (buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location, quantity, invoice_id)
        select buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location, sum(quantity), invoice_id
        from (select * from shares union all select * from unrecorded) x
        group by buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location, invoice_id;
        alter table billed_daily add primary key (buyer_id, stream, seller, subscription_id, usage_date, meter_id, resource_uri, location, invoice_id);
        drop table invoice_billed;
      `.execute(db);
    },
  },
  '0661_billing_keys_by_buyer': {
    // The buyer is billing's distribution column (see ARCHITECTURE.md, "Beyond one database
    // server"): every primary and unique key of its distributed tables now contains it, and every
    // foreign key between them carries it (a line its invoice's buyer, an adjustment its
    // customer). An invoice's number stays unique per seller by its counter (one number per
    // increment of the seller's locked counter row), no longer by an index.
    async up(db: Kysely<unknown>) {
      await sql`
        alter table invoices drop constraint invoices_credit_note_for_fkey, drop constraint invoices_replaces_fkey;
        alter table invoice_lines drop constraint invoice_lines_invoice_id_fkey;
        alter table billing_adjustments drop constraint billing_adjustments_credit_note_for_fkey;
        alter table billed_daily drop constraint billed_daily_invoice_id_fkey;
        alter table billed_adjustments drop constraint billed_adjustments_adjustment_id_fkey, drop constraint billed_adjustments_invoice_id_fkey;

        -- the id leads: invoices and their lines are found by id
        alter table invoices drop constraint invoices_pkey, add primary key (id, buyer_id),
          drop constraint invoices_draft_name_key, add constraint invoices_draft_name_key unique (draft_name, buyer_id),
          drop constraint invoices_replaces_key, add constraint invoices_replaces_key unique (replaces, buyer_id),
          add foreign key (credit_note_for, buyer_id) references invoices (id, buyer_id),
          add foreign key (replaces, buyer_id) references invoices (id, buyer_id);
        drop index invoices_seller_number;
        create index invoices_seller_number on invoices (seller, number);

        -- closed lines never change (their trigger): it stands aside while they take their invoice's buyer
        alter table invoice_lines add column buyer_id uuid;
        alter table invoice_lines disable trigger invoice_lines_closed;
        update invoice_lines l set buyer_id = i.buyer_id from invoices i where i.id = l.invoice_id;
        alter table invoice_lines enable trigger invoice_lines_closed;
        alter table invoice_lines alter column buyer_id set not null,
          drop constraint invoice_lines_pkey, add primary key (invoice_id, line_no, buyer_id),
          add foreign key (invoice_id, buyer_id) references invoices (id, buyer_id);

        alter table billing_adjustments drop constraint billing_adjustments_pkey, add primary key (id, customer_id),
          add foreign key (credit_note_for, customer_id) references invoices (id, buyer_id);
        alter table billed_daily add foreign key (invoice_id, buyer_id) references invoices (id, buyer_id);
        alter table billed_adjustments add foreign key (adjustment_id, buyer_id) references billing_adjustments (id, customer_id),
          add foreign key (invoice_id, buyer_id) references invoices (id, buyer_id);
      `.execute(db);
    },
  },
  '0680_line_resource_type': {
    // FOCUS's ResourceType is "the kind of resource the charge applies to" (FOCUS 1.2,
    // resourcetype.md): the resource's ARM type as `resourceTypeOf` names it
    // (`Microsoft.Compute/virtualMachines`, `Microsoft.Network/virtualNetworks/subnets`), where
    // 0650 kept the provider namespace and the names between the types (`Microsoft.Compute`,
    // `Microsoft.Network/vn`), and a piece of ids that are not resource ids (those now have none).
    // PostgreSQL 15 cannot change a stored generated column's expression: the column is made
    // again, which fills the lines already closed (a rewrite, which fires no trigger).
    async up(db: Kysely<unknown>) {
      await sql`
        alter table invoice_lines drop column resource_parts;
        create or replace function resource_parts(uri text) returns text[] language plpgsql immutable strict parallel safe as $$
          declare
            seg text[] := array_remove(string_to_array(uri, '/'), '');
            n int := cardinality(seg);
            c int := case when lower(seg[3]) = 'resourcegroups' then 4 else 2 end;
          begin
            -- parseResourceId's grammar: /subscriptions/{id}[/resourceGroups/{rg}][/providers/{namespace}/{type}/{name}...]
            if n >= 2 and lower(seg[1]) = 'subscriptions' and (c = 2 or n >= 4)
               and (n = c or (lower(seg[c + 1]) = 'providers' and n - c - 2 > 0 and (n - c - 2) % 2 = 0)) then
              if n = c then
                return array[case when c = 4 then seg[4] end, null,
                  case when c = 4 then 'Microsoft.Resources/resourceGroups' else 'Microsoft.Resources/subscriptions' end];
              end if;
              -- the namespace, then every type (the usual ids, of one or two, without building an array)
              return array[case when c = 4 then seg[4] end, seg[c + 2], case n - c - 2
                when 2 then seg[c + 2] || '/' || seg[c + 3]
                when 4 then seg[c + 2] || '/' || seg[c + 3] || '/' || seg[c + 5]
                else seg[c + 2] || '/' || array_to_string(array(select seg[k] from generate_series(c + 3, n - 1, 2) k order by k), '/')
              end];
            end if;
            return array[null, null, null]::text[];
          end $$;
        alter table invoice_lines add column resource_parts text[] generated always as (resource_parts(resource_uri)) stored;
      `.execute(db);
    },
  },
  '0690_close_rows_without_foreign_keys': {
    // A close writes 2 rows per usage key (its line and its billed share), and a foreign key checked
    // each with a look-up: 29% of the close's database time at 300 customers. Both are written only
    // by the statement that inserts their invoice, from its `returning` rows (a credit note's line
    // with its note), and invoices are never deleted (their trigger refuses a finalized one; drafts
    // are updated): no row can lose its invoice. The keys of rows written one at a time (credit
    // notes, replacements, billed adjustments) stay.
    async up(db: Kysely<unknown>) {
      await sql`
        alter table invoice_lines drop constraint invoice_lines_invoice_id_buyer_id_fkey;
        alter table billed_daily drop constraint billed_daily_invoice_id_buyer_id_fkey;
      `.execute(db);
    },
  },
  '0691_line_resource_parts_written': {
    // `resource_parts` was computed by the column (0650's stored generated column), once per line:
    // the PL/pgSQL function ran 18,600 times for a partner invoice of 300 resources. The close now
    // writes it (`writeInvoices`), calling the same function once per resource id. The lines keep
    // their values (no table rewrite); a line without a resource (a credit or adjustment) has none,
    // as before.
    async up(db: Kysely<unknown>) {
      await sql`alter table invoice_lines alter column resource_parts drop expression`.execute(db);
    },
  },
  '0692_usage_by_hour_dropped': {
    // 0602's index for late usage, usage_received (hour), is a prefix of the usage API's
    // usage_received_aggregate_order (hour, meter, …), which serves every range of hours it served
    // (the ledger's checks, re-attribution's scope); billing itself reads usage_daily, not records.
    // One index less for every record ingestion writes (issue #16).
    async up(db: Kysely<unknown>) {
      await sql`drop index if exists usage_received_by_hour`.execute(db);
    },
  },
  '0694_line_resource_parts_dropped': {
    // The exports now make their rows in TypeScript from the lines' own columns (exports.ts), with
    // parseResourceId and resourceTypeOf themselves: nothing reads `resource_parts`, SQL's copy of
    // that rule, any more, and a close no longer computes it (issue #16).
    async up(db: Kysely<unknown>) {
      await sql`
        alter table invoice_lines drop column if exists resource_parts;
        drop function if exists resource_parts(text);
      `.execute(db);
    },
  },
  ...partnerUnbilledMigrations,
};
