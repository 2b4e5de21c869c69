import { type Kysely, type Migration, sql } from 'kysely';
import { saltLegacySecretHash } from '../core/ids.ts';

export const identityMigrations: Record<string, Migration> = {
  '0101_identity': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table directories (
          tenant_id uuid primary key,
          display_name text not null,
          default_domain text not null,
          kind text not null,
          created_at timestamptz not null
        );
        create unique index directories_domain on directories (lower(default_domain));
        create table users (
          object_id uuid primary key,
          tenant_id uuid not null references directories (tenant_id),
          user_principal_name text not null,
          display_name text not null,
          mail text,
          user_type text not null check (user_type in ('Member', 'Guest')),
          password_hash text,
          home_object_id uuid references users (object_id),
          created_at timestamptz not null
        );
        create unique index users_upn on users (tenant_id, lower(user_principal_name));
        create unique index users_guest_of on users (tenant_id, home_object_id);
        create table applications (
          app_id uuid primary key,
          home_tenant_id uuid references directories (tenant_id), -- null for the well-known public clients
          display_name text not null,
          identifier_uris text[] not null default '{}',
          public_client boolean not null default false,
          created_at timestamptz not null
        );
        create table service_principals (
          object_id uuid primary key,
          tenant_id uuid not null references directories (tenant_id),
          app_id uuid not null references applications (app_id),
          display_name text not null,
          created_at timestamptz not null,
          unique (tenant_id, app_id)
        );
        create table client_secrets (
          id uuid primary key,
          app_id uuid not null references applications (app_id),
          secret_hash text not null,
          hint text not null,
          created_at timestamptz not null,
          expires_at timestamptz not null
        );
        create table signing_keys (
          kid text primary key,
          private_jwk jsonb not null,
          public_jwk jsonb not null,
          created_at timestamptz not null
        );
      `.execute(db);
    },
  },
  '0102_directory_roles_invitations': {
    async up(db: Kysely<unknown>) {
      await sql`
        alter table users add column directory_role text;
        create table invitations (
          id uuid primary key,
          tenant_id uuid not null references directories (tenant_id),
          invited_user_id uuid not null references users (object_id),
          invited_email text not null,
          invited_display_name text,
          invite_redirect_url text not null,
          status text not null,
          invited_by uuid not null,
          created_at timestamptz not null,
          completed_at timestamptz
        );
      `.execute(db);
    },
  },
  '0103_secrets_and_sign_in': {
    async up(db: Kysely<{ client_secrets: { id: string; secret_hash: string } }>) {
      await sql`
        alter table client_secrets
          add column display_name text,
          -- the secret itself, sealed, for applications whose secret the system hands out again
          add column sealed_secret text;
        alter table applications add column holds_secret boolean not null default false;
        -- a key made before is sealed at the next start (IdentityService.init), then private_jwk is null
        alter table signing_keys add column private_key_sealed text, alter column private_jwk drop not null;
        alter table users
          add column account_enabled boolean not null default true,
          add column failed_sign_ins integer not null default 0,
          add column locked_until timestamptz;
      `.execute(db);
      // The first version kept unsalted digests; they are salted in place (see core/ids.ts).
      const rows = await db.selectFrom('client_secrets').select(['id', 'secret_hash']).execute();
      for (const r of rows as Array<{ id: string; secret_hash: string }>) {
        if (!r.secret_hash.startsWith('sha256$'))
          await db
            .updateTable('client_secrets')
            .set({ secret_hash: saltLegacySecretHash(r.secret_hash) })
            .where('id', '=', r.id)
            .execute();
      }
    },
  },
  '0104_key_credentials': {
    async up(db: Kysely<unknown>) {
      await sql`
        create table key_credentials (
          key_id uuid primary key,
          app_id uuid not null references applications (app_id),
          type text not null,
          usage text not null,
          display_name text,
          custom_key_identifier text not null,
          certificate bytea not null,
          start_date_time timestamptz not null,
          end_date_time timestamptz not null,
          created_at timestamptz not null
        );
        create index key_credentials_app on key_credentials (app_id);
      `.execute(db);
    },
  },
  '0105_service_principal_objects': {
    // An application and its service principal are separate objects (Graph): an application made
    // from now on has none until someone creates it. Every application made before got one with it,
    // whose id role assignments name; one still missing (none should be) gets a new id, none changes.
    async up(db: Kysely<unknown>) {
      await sql`
        insert into service_principals (object_id, tenant_id, app_id, display_name, created_at)
        select gen_random_uuid(), a.home_tenant_id, a.app_id, a.display_name, a.created_at
        from applications a
        where a.home_tenant_id is not null and not a.public_client
          and not exists (
            select 1 from service_principals sp where sp.app_id = a.app_id and sp.tenant_id = a.home_tenant_id
          )
      `.execute(db);
    },
  },
  '0106_list_order_indexes': {
    async up(db: Kysely<unknown>) {
      // Keyset paging: graph's lists of a directory, oldest first.
      await sql`
        create index users_list_order on users (tenant_id, created_at, object_id);
        create index service_principals_list_order on service_principals (tenant_id, created_at, object_id);
        create index applications_list_order on applications (home_tenant_id, created_at, app_id);
      `.execute(db);
    },
  },
};
