import { type Kysely, type Migration, sql } from 'kysely';
import { LIST_SHEET, pricingMigrations } from '../rating/migrations.ts';

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
};
