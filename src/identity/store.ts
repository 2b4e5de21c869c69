import { type Kysely, type RawBuilder, sql } from 'kysely';
import { jsonValue, type StatementTriggerFunctions, statementTriggers } from '../db/database.ts';
import { keyset, pageQuery, type Cursor } from '../core/paging.ts';
import { TENANT_ORDER } from '../arm/context.ts';
import type { FilterClause } from './graph-filter.ts';
import type {
  ApplicationsTable,
  ClientSecretsTable,
  DirectoriesTable,
  IdentityTables,
  InvitationsTable,
  KeyCredentialsTable,
  ServicePrincipalsTable,
  SigningKeysTable,
  UsersTable,
} from './tables.ts';

// All SQL of identity. Nothing else touches these tables.
export type IdentityDb = Kysely<IdentityTables>;

// The unique indexes a concurrent twin can hit (identity/migrations.ts): services map them to the
// conflict a repeat gets.
export const DIRECTORY_DOMAIN_INDEX = 'directories_domain';
export const USER_NAME_INDEX = 'users_upn';
export const SERVICE_PRINCIPAL_INDEX = 'service_principals_tenant_id_app_id_key';

/** A string property compared as Graph compares it: without regard to case. */
const textMatches = (column: string, c: FilterClause): RawBuilder<boolean> =>
  c.op === 'startsWith'
    ? sql<boolean>`starts_with(lower(${sql.ref(column)}::text), ${c.value.toLowerCase()})`
    : sql<boolean>`lower(${sql.ref(column)}::text) = ${c.value.toLowerCase()}`;

/** Whether one of an application's identifier URIs is `uri` (without a trailing slash or case). */
const hasIdentifierUri = (column: string, uri: string): RawBuilder<boolean> =>
  sql<boolean>`exists (select 1 from unnest(${sql.ref(column)}) u where lower(rtrim(u, '/')) = ${uri.replace(/\/+$/, '').toLowerCase()})`;

/** A service principal (with its application's names): what graph lists. */
export interface ServicePrincipalListed extends ServicePrincipalsTable {
  app_display_name: string;
  app_owner_tenant_id: string | null;
  identifier_uris: string[];
}

// Graph's lists, oldest first (indexes of migration 0106).
export const USER_ORDER = keyset(
  'users',
  [
    ['created_at', 'time'],
    ['object_id', 'uuid'],
  ],
  (r: UsersTable) => [r.created_at, r.object_id],
);
export const SERVICE_PRINCIPAL_ORDER = keyset(
  'servicePrincipals',
  [
    ['sp.created_at', 'time'],
    ['sp.object_id', 'uuid'],
  ],
  (r: ServicePrincipalsTable) => [r.created_at, r.object_id],
);
export const APPLICATION_ORDER = keyset(
  'applications',
  [
    ['created_at', 'time'],
    ['app_id', 'uuid'],
  ],
  (r: ApplicationsTable) => [r.created_at, r.app_id],
);

export const identityStore = {
  getDirectory: (db: IdentityDb, tenantId: string) =>
    db.selectFrom('directories').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst(),

  /** Published: the partners' directories, as a query other domains compose into theirs (billing's buyers). */
  partnerDirectories: (): RawBuilder<unknown> =>
    sql`select tenant_id, display_name, default_domain, created_at from directories where kind = 'partner'`,

  /**
   * Published, as migration DDL: statement triggers `${name}_inserted`, `_updated` and `_deleted`
   * on the directories, calling a subscriber's trigger functions, which read the statement's rows
   * (`tenant_id`, `kind`) as `new_directories` (inserted, or updated: after) and
   * `old_directories` (updated: before, or deleted). Billing re-prices a partner's own rows with them.
   */
  directoryTriggers: (name: string, functions: StatementTriggerFunctions) =>
    statementTriggers('directories', 'directories', name, functions),

  findDirectoryByDomain: (db: IdentityDb, domain: string) =>
    db
      .selectFrom('directories')
      .selectAll()
      .where(sql`lower(default_domain)`, '=', domain.toLowerCase())
      .executeTakeFirst(),

  insertDirectory: async (db: IdentityDb, row: DirectoriesTable) => {
    await db.insertInto('directories').values(row).execute();
  },

  insertUser: async (db: IdentityDb, row: UsersTable) => {
    await db.insertInto('users').values(row).execute();
  },

  getUser: (db: IdentityDb, objectId: string) =>
    db.selectFrom('users').selectAll().where('object_id', '=', objectId).executeTakeFirst(),

  /** The member account (the one with a password) whose sign-in name this is. */
  findMemberByUpn: (db: IdentityDb, upn: string) =>
    db
      .selectFrom('users')
      .selectAll()
      .where(sql`lower(user_principal_name)`, '=', upn.toLowerCase())
      .where('user_type', '=', 'Member')
      .executeTakeFirst(),

  findGuest: (db: IdentityDb, tenantId: string, homeObjectId: string) =>
    db
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('home_object_id', '=', homeObjectId)
      .executeTakeFirst(),

  /** A page of the directories where a person has an account (its own, those it is a guest in); `exists` names each once. */
  directoriesOfPerson: (db: IdentityDb, homeObjectId: string, cursor: Cursor) =>
    pageQuery(
      db
        .selectFrom('directories')
        .select(['tenant_id', 'display_name', 'default_domain'])
        .where(({ exists, selectFrom }) =>
          exists(
            selectFrom('users as u')
              .select(sql`1`.as('one'))
              .whereRef('u.tenant_id', '=', 'directories.tenant_id')
              .where((eb) => eb.or([eb('u.object_id', '=', homeObjectId), eb('u.home_object_id', '=', homeObjectId)])),
          ),
        ),
      TENANT_ORDER,
      cursor,
    ).execute(),

  insertApplication: async (db: IdentityDb, row: ApplicationsTable) => {
    await db
      .insertInto('applications')
      .values(row)
      .onConflict((oc) => oc.column('app_id').doNothing())
      .execute();
  },

  getApplication: (db: IdentityDb, appId: string) =>
    db.selectFrom('applications').selectAll().where('app_id', '=', appId).executeTakeFirst(),

  setIdentifierUris: async (db: IdentityDb, appId: string, uris: string[]) => {
    await db.updateTable('applications').set({ identifier_uris: uris }).where('app_id', '=', appId).execute();
  },

  /** The application that owns a resource identifier, compared without a trailing slash or case. */
  findApplicationByIdentifierUri: (db: IdentityDb, normalizedUri: string) =>
    db
      .selectFrom('applications')
      .selectAll()
      .where(
        sql<boolean>`exists (select 1 from unnest(identifier_uris) u where lower(rtrim(u, '/')) = ${normalizedUri})`,
      )
      .executeTakeFirst(),

  insertServicePrincipal: async (db: IdentityDb, row: ServicePrincipalsTable) => {
    await db.insertInto('service_principals').values(row).execute();
  },

  findServicePrincipal: (db: IdentityDb, tenantId: string, appId: string) =>
    db
      .selectFrom('service_principals')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('app_id', '=', appId)
      .executeTakeFirst(),

  getServicePrincipal: (db: IdentityDb, objectId: string) =>
    db.selectFrom('service_principals').selectAll().where('object_id', '=', objectId).executeTakeFirst(),

  /** Service principals of a directory matching every clause (appId, displayName, servicePrincipalNames). */
  listServicePrincipals: (
    db: IdentityDb,
    tenantId: string,
    clauses: FilterClause[],
    cursor: Cursor,
  ): Promise<ServicePrincipalListed[]> => {
    let query = db
      .selectFrom('service_principals as sp')
      .innerJoin('applications as a', 'a.app_id', 'sp.app_id')
      .selectAll('sp')
      .select(['a.display_name as app_display_name', 'a.home_tenant_id as app_owner_tenant_id', 'a.identifier_uris'])
      .where('sp.tenant_id', '=', tenantId);
    for (const c of clauses) {
      const test =
        c.property === 'appId'
          ? textMatches('sp.app_id', c)
          : c.property === 'displayName'
            ? textMatches('sp.display_name', c)
            : sql<boolean>`(${textMatches('sp.app_id', c)} or ${hasIdentifierUri('a.identifier_uris', c.value)})`;
      query = query.where(test);
    }
    return pageQuery(query, SERVICE_PRINCIPAL_ORDER, cursor).execute();
  },

  /** Applications registered in a directory matching every clause (appId, displayName, identifierUris). */
  listApplications: (db: IdentityDb, tenantId: string, clauses: FilterClause[], cursor: Cursor) => {
    let query = db.selectFrom('applications').selectAll().where('home_tenant_id', '=', tenantId);
    for (const c of clauses) {
      const test =
        c.property === 'appId'
          ? textMatches('app_id', c)
          : c.property === 'displayName'
            ? textMatches('display_name', c)
            : hasIdentifierUri('identifier_uris', c.value);
      query = query.where(test);
    }
    return pageQuery(query, APPLICATION_ORDER, cursor).execute();
  },

  insertClientSecret: async (db: IdentityDb, row: ClientSecretsTable) => {
    await db.insertInto('client_secrets').values(row).execute();
  },

  liveSecretHashes: async (db: IdentityDb, appId: string, now: Date) =>
    (
      await db
        .selectFrom('client_secrets')
        .select('secret_hash')
        .where('app_id', '=', appId)
        .where('expires_at', '>', now)
        .execute()
    ).map((r) => r.secret_hash),

  /** An application's secrets as graph lists them (never the secret or its hash). */
  clientSecretsOf: (db: IdentityDb, appId: string) =>
    db
      .selectFrom('client_secrets')
      .select(['id', 'display_name', 'hint', 'created_at', 'expires_at'])
      .where('app_id', '=', appId)
      .orderBy('created_at')
      .orderBy('id')
      .execute(),

  /** Deletes one secret of an application; answers whether it existed. */
  deleteClientSecret: async (db: IdentityDb, appId: string, id: string) =>
    (await db.deleteFrom('client_secrets').where('app_id', '=', appId).where('id', '=', id).executeTakeFirst())
      .numDeletedRows > 0n,

  /** The newest live secret that the application holds sealed. */
  heldSecret: (db: IdentityDb, appId: string, now: Date) =>
    db
      .selectFrom('client_secrets')
      .select(['id', 'sealed_secret', 'expires_at'])
      .where('app_id', '=', appId)
      .where('sealed_secret', 'is not', null)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirst(),

  liveSecretsWithHashes: (db: IdentityDb, appId: string, now: Date) =>
    db
      .selectFrom('client_secrets')
      .select(['id', 'secret_hash'])
      .where('app_id', '=', appId)
      .where('expires_at', '>', now)
      .execute(),

  setSealedSecret: async (db: IdentityDb, id: string, sealed: string) => {
    await db.updateTable('client_secrets').set({ sealed_secret: sealed }).where('id', '=', id).execute();
  },

  markHoldsSecret: async (db: IdentityDb, appId: string) => {
    await db.updateTable('applications').set({ holds_secret: true }).where('app_id', '=', appId).execute();
  },

  signingKeys: (db: IdentityDb) => db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').execute(),

  insertSigningKey: async (db: IdentityDb, row: SigningKeysTable) => {
    await db
      .insertInto('signing_keys')
      .values({ ...row, private_jwk: null, public_jwk: jsonValue(row.public_jwk) })
      .execute();
  },

  /** A key of the first version gets its private part sealed, and the plain one dropped. */
  sealSigningKey: async (db: IdentityDb, kid: string, sealed: string) => {
    await db
      .updateTable('signing_keys')
      .set({ private_key_sealed: sealed, private_jwk: null })
      .where('kid', '=', kid)
      .execute();
  },

  /**
   * One more failed password sign-in; at the threshold the account locks until `lockUntil` and
   * the count starts again. One statement, so that concurrent attempts all count.
   */
  recordFailedSignIn: async (db: IdentityDb, objectId: string, threshold: number, lockUntil: Date) => {
    await db
      .updateTable('users')
      .set({
        failed_sign_ins: sql`case when failed_sign_ins + 1 >= ${threshold} then 0 else failed_sign_ins + 1 end`,
        locked_until: sql`case when failed_sign_ins + 1 >= ${threshold} then ${lockUntil}::timestamptz else locked_until end`,
      })
      .where('object_id', '=', objectId)
      .execute();
  },

  clearFailedSignIns: async (db: IdentityDb, objectId: string) => {
    await db
      .updateTable('users')
      .set({ failed_sign_ins: 0, locked_until: null })
      .where('object_id', '=', objectId)
      .where('failed_sign_ins', '>', 0)
      .execute();
  },

  setAccountEnabled: async (db: IdentityDb, objectId: string, enabled: boolean) => {
    await db.updateTable('users').set({ account_enabled: enabled }).where('object_id', '=', objectId).execute();
  },

  updateUserDisplayName: async (db: IdentityDb, objectId: string, displayName: string) => {
    await db.updateTable('users').set({ display_name: displayName }).where('object_id', '=', objectId).execute();
  },

  /** A member found by sign-in name or mail address, anywhere in the cloud. */
  findMemberByEmail: (db: IdentityDb, email: string) =>
    db
      .selectFrom('users')
      .selectAll()
      .where('user_type', '=', 'Member')
      .where((eb) =>
        eb.or([
          eb(sql`lower(user_principal_name)`, '=', email.toLowerCase()),
          eb(sql`lower(mail)`, '=', email.toLowerCase()),
        ]),
      )
      .orderBy('created_at')
      .executeTakeFirst(),

  listUsers: (db: IdentityDb, tenantId: string, cursor: Cursor) =>
    pageQuery(db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId), USER_ORDER, cursor).execute(),

  findUserByUpn: (db: IdentityDb, tenantId: string, upn: string) =>
    db
      .selectFrom('users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where(sql`lower(user_principal_name)`, '=', upn.toLowerCase())
      .executeTakeFirst(),

  insertInvitation: async (db: IdentityDb, row: InvitationsTable) => {
    await db.insertInto('invitations').values(row).execute();
  },

  invitationsOf: (db: IdentityDb, invitedUserId: string) =>
    db
      .selectFrom('invitations')
      .selectAll()
      .where('invited_user_id', '=', invitedUserId)
      .orderBy('created_at')
      .execute(),

  completeInvitations: async (db: IdentityDb, invitedUserId: string, at: Date) => {
    await db
      .updateTable('invitations')
      .set({ status: 'Completed', completed_at: at })
      .where('invited_user_id', '=', invitedUserId)
      .where('status', '=', 'PendingAcceptance')
      .execute();
  },

  updateApplication: async (db: IdentityDb, appId: string, displayName: string, uris: string[]) => {
    await db
      .updateTable('applications')
      .set({ display_name: displayName, identifier_uris: uris })
      .where('app_id', '=', appId)
      .execute();
  },

  servicePrincipalsOf: (db: IdentityDb, appId: string) =>
    db.selectFrom('service_principals').selectAll().where('app_id', '=', appId).execute(),

  keyCredentialsOf: (db: IdentityDb, appId: string) =>
    db
      .selectFrom('key_credentials')
      .selectAll()
      .where('app_id', '=', appId)
      .orderBy('created_at')
      .orderBy('key_id')
      .execute(),

  /** Graph's PATCH of keyCredentials replaces the whole collection. */
  replaceKeyCredentials: async (db: IdentityDb, appId: string, rows: KeyCredentialsTable[]) => {
    await db.deleteFrom('key_credentials').where('app_id', '=', appId).execute();
    if (rows.length > 0) await db.insertInto('key_credentials').values(rows).execute();
  },
};
