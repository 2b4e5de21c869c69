import { type Kysely, sql } from 'kysely';
import type { ApplicationsTable, DirectoriesTable, IdentityTables, InvitationsTable, ServicePrincipalsTable, SigningKeysTable, UsersTable } from './tables.ts';

// All SQL of identity. Nothing else touches these tables.
export type IdentityDb = Kysely<IdentityTables>;

// The unique indexes a concurrent twin can hit (identity/migrations.ts): services map them to the
// conflict a repeat gets.
export const DIRECTORY_DOMAIN_INDEX = 'directories_domain';
export const USER_NAME_INDEX = 'users_upn';
export const SERVICE_PRINCIPAL_INDEX = 'service_principals_tenant_id_app_id_key';

export const identityStore = {
  getDirectory: (db: IdentityDb, tenantId: string) =>
    db.selectFrom('directories').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst(),

  findDirectoryByDomain: (db: IdentityDb, domain: string) =>
    db.selectFrom('directories').selectAll().where(sql`lower(default_domain)`, '=', domain.toLowerCase()).executeTakeFirst(),

  insertDirectory: async (db: IdentityDb, row: DirectoriesTable) => {
    await db.insertInto('directories').values(row).execute();
  },

  insertUser: async (db: IdentityDb, row: UsersTable) => {
    await db.insertInto('users').values(row).execute();
  },

  getUser: (db: IdentityDb, objectId: string) => db.selectFrom('users').selectAll().where('object_id', '=', objectId).executeTakeFirst(),

  /** The member account (the one with a password) whose sign-in name this is. */
  findMemberByUpn: (db: IdentityDb, upn: string) =>
    db
      .selectFrom('users')
      .selectAll()
      .where(sql`lower(user_principal_name)`, '=', upn.toLowerCase())
      .where('user_type', '=', 'Member')
      .executeTakeFirst(),

  findGuest: (db: IdentityDb, tenantId: string, homeObjectId: string) =>
    db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).where('home_object_id', '=', homeObjectId).executeTakeFirst(),

  /** Directories in which a person has an account: its own and those where it is a guest. */
  directoriesOfPerson: (db: IdentityDb, homeObjectId: string) =>
    db
      .selectFrom('users')
      .innerJoin('directories', 'directories.tenant_id', 'users.tenant_id')
      .select(['directories.tenant_id', 'directories.display_name', 'directories.default_domain'])
      .where((eb) => eb.or([eb('users.object_id', '=', homeObjectId), eb('users.home_object_id', '=', homeObjectId)]))
      .execute(),

  insertApplication: async (db: IdentityDb, row: ApplicationsTable) => {
    await db.insertInto('applications').values(row).onConflict((oc) => oc.column('app_id').doNothing()).execute();
  },

  getApplication: (db: IdentityDb, appId: string) => db.selectFrom('applications').selectAll().where('app_id', '=', appId).executeTakeFirst(),

  setIdentifierUris: async (db: IdentityDb, appId: string, uris: string[]) => {
    await db.updateTable('applications').set({ identifier_uris: uris }).where('app_id', '=', appId).execute();
  },

  /** The application that owns a resource identifier, compared without a trailing slash or case. */
  findApplicationByIdentifierUri: (db: IdentityDb, normalizedUri: string) =>
    db
      .selectFrom('applications')
      .selectAll()
      .where(sql<boolean>`exists (select 1 from unnest(identifier_uris) u where lower(rtrim(u, '/')) = ${normalizedUri})`)
      .executeTakeFirst(),

  insertServicePrincipal: async (db: IdentityDb, row: ServicePrincipalsTable) => {
    await db.insertInto('service_principals').values(row).execute();
  },

  findServicePrincipal: (db: IdentityDb, tenantId: string, appId: string) =>
    db.selectFrom('service_principals').selectAll().where('tenant_id', '=', tenantId).where('app_id', '=', appId).executeTakeFirst(),

  getServicePrincipal: (db: IdentityDb, objectId: string) =>
    db.selectFrom('service_principals').selectAll().where('object_id', '=', objectId).executeTakeFirst(),

  insertClientSecret: async (db: IdentityDb, row: { id: string; app_id: string; secret_hash: string; hint: string; created_at: Date; expires_at: Date }) => {
    await db.insertInto('client_secrets').values(row).execute();
  },

  liveSecretHashes: async (db: IdentityDb, appId: string, now: Date) =>
    (await db.selectFrom('client_secrets').select('secret_hash').where('app_id', '=', appId).where('expires_at', '>', now).execute()).map((r) => r.secret_hash),

  signingKeys: (db: IdentityDb) => db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').execute(),

  insertSigningKey: async (db: IdentityDb, row: SigningKeysTable) => {
    await db
      .insertInto('signing_keys')
      .values({ ...row, private_jwk: JSON.stringify(row.private_jwk) as any, public_jwk: JSON.stringify(row.public_jwk) as any })
      .execute();
  },

  /** A member found by sign-in name or mail address, anywhere in the cloud. */
  findMemberByEmail: (db: IdentityDb, email: string) =>
    db
      .selectFrom('users')
      .selectAll()
      .where('user_type', '=', 'Member')
      .where((eb) => eb.or([eb(sql`lower(user_principal_name)`, '=', email.toLowerCase()), eb(sql`lower(mail)`, '=', email.toLowerCase())]))
      .orderBy('created_at')
      .executeTakeFirst(),

  listUsers: (db: IdentityDb, tenantId: string, offset: number, limit: number) =>
    db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('object_id').offset(offset).limit(limit).execute(),

  findUserByUpn: (db: IdentityDb, tenantId: string, upn: string) =>
    db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).where(sql`lower(user_principal_name)`, '=', upn.toLowerCase()).executeTakeFirst(),

  insertInvitation: async (db: IdentityDb, row: InvitationsTable) => {
    await db.insertInto('invitations').values(row).execute();
  },

  invitationsOf: (db: IdentityDb, invitedUserId: string) =>
    db.selectFrom('invitations').selectAll().where('invited_user_id', '=', invitedUserId).orderBy('created_at').execute(),

  completeInvitations: async (db: IdentityDb, invitedUserId: string, at: Date) => {
    await db
      .updateTable('invitations')
      .set({ status: 'Completed', completed_at: at })
      .where('invited_user_id', '=', invitedUserId)
      .where('status', '=', 'PendingAcceptance')
      .execute();
  },

  updateApplication: async (db: IdentityDb, appId: string, displayName: string, uris: string[]) => {
    await db.updateTable('applications').set({ display_name: displayName, identifier_uris: uris }).where('app_id', '=', appId).execute();
  },

  servicePrincipalsOf: (db: IdentityDb, appId: string) => db.selectFrom('service_principals').selectAll().where('app_id', '=', appId).execute(),
};
