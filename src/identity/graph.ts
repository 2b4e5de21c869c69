import type { Kysely } from 'kysely';
import { recordChanges } from '../audit/service.ts';
import type { AuditTables } from '../audit/tables.ts';
import type { AuditDb } from '../audit/store.ts';
import { ArmError } from '../core/errors.ts';
import { isEmail, isGuid, newGuid } from '../core/ids.ts';
import { noteRightsChecked, type Principal } from '../core/principal.ts';
import { replaceKeyCredentials, type KeyCredentialInput } from './key-credentials.ts';
import type { IdentityService } from './service.ts';
import { identityStore, SERVICE_PRINCIPAL_INDEX, USER_NAME_INDEX, type IdentityDb } from './store.ts';
import { onUniqueViolation } from '../db/database.ts';
import type { DirectoriesTable, IdentityTables, InvitationsTable, UsersTable } from './tables.ts';

// The directory API (graph): users and guest invitations of the caller's directory, done by that
// directory's administrators. Every change is written to the activity log in the same transaction.

export const GLOBAL_ADMINISTRATOR = 'GlobalAdministrator';

export const graphErrors = {
  denied: () => new ArmError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'),
  badRequest: (message: string, target?: string) => new ArmError(400, 'Request_BadRequest', message, target),
  notFound: (id: string) =>
    new ArmError(
      404,
      'Request_ResourceNotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    ),
  exists: (property: string) =>
    new ArmError(
      400,
      'Request_BadRequest',
      `Another object with the same value for property ${property} already exists.`,
      property,
    ),
};

export interface GraphContext {
  identity: IdentityService;
  db: Kysely<IdentityTables & AuditTables>;
  /** Runs work in one transaction over the hub database (identity and activity log). */
  transaction<T>(work: (db: IdentityDb & AuditDb) => Promise<T>): Promise<T>;
}

/** The caller's directory, if the caller administers it: a Global Administrator or the directory's own application. */
export async function requireDirectoryAdmin(db: IdentityDb, caller: Principal): Promise<DirectoriesTable> {
  noteRightsChecked(caller);
  const directory = await identityStore.getDirectory(db, caller.tenantId);
  if (!directory) throw graphErrors.denied();
  if (caller.kind === 'User') {
    const user = await identityStore.getUser(db, caller.objectId);
    if (user?.tenant_id === directory.tenant_id && user.directory_role === GLOBAL_ADMINISTRATOR) return directory;
  } else if (caller.appId) {
    const app = await identityStore.getApplication(db, caller.appId);
    if (app?.home_tenant_id === directory.tenant_id) return directory;
  }
  throw graphErrors.denied();
}

/**
 * Whether the caller is one of its directory's own identities: a member user, or an application
 * registered there; not a guest, nor another directory's application consented into it.
 */
export async function isOwnIdentity(db: IdentityDb, caller: Principal): Promise<boolean> {
  if (caller.kind === 'User') {
    const user = await identityStore.getUser(db, caller.objectId);
    return user?.tenant_id === caller.tenantId && user.user_type === 'Member';
  }
  const app = caller.appId ? await identityStore.getApplication(db, caller.appId) : undefined;
  return app?.home_tenant_id === caller.tenantId;
}

/** Members and applications of a directory read that directory, as in Azure AD: the caller's own directory. */
export function ownDirectoryOf(caller: Principal): string {
  noteRightsChecked(caller);
  return caller.tenantId;
}

export interface InvitationInput {
  invitedUserEmailAddress: string;
  inviteRedirectUrl: string;
  invitedUserDisplayName?: string;
  sendInvitationMessage?: boolean;
  invitedUserType?: string;
}

export function userView(u: UsersTable, externalState?: string) {
  return {
    id: u.object_id,
    displayName: u.display_name,
    userPrincipalName: u.user_principal_name,
    mail: u.mail,
    userType: u.user_type,
    accountEnabled: u.account_enabled,
    createdDateTime: u.created_at.toISOString(),
    creationType: u.user_type === 'Guest' ? 'Invitation' : null,
    externalUserState: u.user_type === 'Guest' ? (externalState ?? 'PendingAcceptance') : null,
  };
}

export function invitationView(inv: InvitationsTable, redeemUrl: string) {
  return {
    id: inv.id,
    inviteRedeemUrl: redeemUrl,
    inviteRedirectUrl: inv.invite_redirect_url,
    invitedUserDisplayName: inv.invited_display_name,
    invitedUserEmailAddress: inv.invited_email,
    invitedUserType: 'Guest',
    sendInvitationMessage: false,
    status: inv.status,
    invitedUser: { id: inv.invited_user_id },
  };
}

/** The invitation API: a guest account in the caller's directory for a person of another directory. */
export async function invite(ctx: GraphContext, caller: Principal, input: InvitationInput): Promise<InvitationsTable> {
  if (!isEmail(input.invitedUserEmailAddress))
    throw graphErrors.badRequest(
      `'${input.invitedUserEmailAddress}' is not a valid email address.`,
      'invitedUserEmailAddress',
    );
  if (!/^https?:\/\/\S+$/i.test(input.inviteRedirectUrl))
    throw graphErrors.badRequest(`'${input.inviteRedirectUrl}' is not a valid URL.`, 'inviteRedirectUrl');
  if (input.invitedUserType !== undefined && input.invitedUserType !== 'Guest') {
    throw graphErrors.badRequest(
      `invitedUserType '${input.invitedUserType}' is not supported; only 'Guest' is.`,
      'invitedUserType',
    );
  }
  const now = ctx.identity.clock.now();
  return ctx.transaction(async (db) => {
    const directory = await requireDirectoryAdmin(db, caller);
    const person = await identityStore.findMemberByEmail(db, input.invitedUserEmailAddress);
    if (!person) {
      throw graphErrors.badRequest(
        `No account signs in as '${input.invitedUserEmailAddress}' in this cloud; invite a user of an existing directory.`,
        'invitedUserEmailAddress',
      );
    }
    if (person.tenant_id === directory.tenant_id)
      throw graphErrors.badRequest(
        `'${input.invitedUserEmailAddress}' is already a member of this directory.`,
        'invitedUserEmailAddress',
      );
    let guest: UsersTable | undefined = await identityStore.findGuest(db, directory.tenant_id, person.object_id);
    const changes = [];
    if (!guest) {
      guest = await ctx.identity.createUser(
        {
          tenantId: directory.tenant_id,
          userPrincipalName: `${input.invitedUserEmailAddress.replace('@', '_')}#EXT#@${directory.default_domain}`,
          displayName: input.invitedUserDisplayName ?? person.display_name,
          mail: input.invitedUserEmailAddress,
          userType: 'Guest',
          homeObjectId: person.object_id,
        },
        db,
      );
      changes.push({
        directoryId: directory.tenant_id,
        operation: 'Add user',
        resourceType: 'User',
        resourceId: guest.object_id,
        newValue: userView(guest),
      });
    }
    const invitation: InvitationsTable = {
      id: newGuid(),
      tenant_id: directory.tenant_id,
      invited_user_id: guest.object_id,
      invited_email: input.invitedUserEmailAddress,
      invited_display_name: input.invitedUserDisplayName ?? null,
      invite_redirect_url: input.inviteRedirectUrl,
      status: 'PendingAcceptance',
      invited_by: caller.objectId,
      created_at: now,
      completed_at: null,
    };
    await identityStore.insertInvitation(db, invitation);
    changes.push({
      directoryId: directory.tenant_id,
      operation: 'Invite external user',
      resourceType: 'Invitation',
      resourceId: invitation.id,
      newValue: { invitedUserEmailAddress: invitation.invited_email, invitedUser: guest.object_id },
    });
    await recordChanges(db, caller, now, changes);
    return invitation;
  });
}

export interface NewUserInput {
  displayName: string;
  userPrincipalName: string;
  mailNickname?: string;
  accountEnabled?: boolean;
  passwordProfile: { password: string; forceChangePasswordNextSignIn?: boolean };
}

/** A member account created by an administrator of the caller's directory. */
export async function createMember(ctx: GraphContext, caller: Principal, input: NewUserInput): Promise<UsersTable> {
  const now = ctx.identity.clock.now();
  // Two at once meet the unique index instead of the check: the same answer as a repeat.
  return onUniqueViolation(
    [USER_NAME_INDEX],
    () =>
      ctx.transaction(async (db) => {
        const directory = await requireDirectoryAdmin(db, caller);
        const [local, domain] = input.userPrincipalName.split('@');
        if (!local || !domain || !isEmail(input.userPrincipalName)) {
          throw graphErrors.badRequest(
            `'${input.userPrincipalName}' is not a valid user principal name.`,
            'userPrincipalName',
          );
        }
        if (domain.toLowerCase() !== directory.default_domain.toLowerCase()) {
          throw graphErrors.badRequest(
            `The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization: ${directory.default_domain}.`,
            'userPrincipalName',
          );
        }
        const password = input.passwordProfile.password;
        if (password.length < 8 || !/[a-z]/.test(password) || !/[A-Z]/.test(password) || !/[\d\W]/.test(password)) {
          throw graphErrors.badRequest(
            'The specified password does not comply with password complexity requirements: at least 8 characters with upper case, lower case, and a digit or symbol.',
            'passwordProfile.password',
          );
        }
        if (await identityStore.findMemberByEmail(db, input.userPrincipalName))
          throw graphErrors.exists('userPrincipalName');
        const user = await ctx.identity.createUser(
          {
            tenantId: directory.tenant_id,
            userPrincipalName: input.userPrincipalName,
            displayName: input.displayName,
            password,
            accountEnabled: input.accountEnabled,
          },
          db,
        );
        await recordChanges(db, caller, now, [
          {
            directoryId: directory.tenant_id,
            operation: 'Add user',
            resourceType: 'User',
            resourceId: user.object_id,
            newValue: userView(user),
          },
        ]);
        return user;
      }),
    () => {
      throw graphErrors.exists('userPrincipalName');
    },
  );
}

async function externalState(db: IdentityDb, u: UsersTable): Promise<string | undefined> {
  if (u.user_type !== 'Guest') return undefined;
  const invitations = await identityStore.invitationsOf(db, u.object_id);
  return invitations.some((i) => i.status === 'Completed') ? 'Accepted' : 'PendingAcceptance';
}

export async function listUsers(ctx: GraphContext, caller: Principal, offset: number, limit: number) {
  const db = ctx.identity.db;
  const directory = await identityStore.getDirectory(db, ownDirectoryOf(caller));
  if (!directory) throw graphErrors.denied();
  const rows = await identityStore.listUsers(db, directory.tenant_id, offset, limit);
  return Promise.all(rows.map(async (u) => userView(u, await externalState(db, u))));
}

export async function getUser(ctx: GraphContext, caller: Principal, idOrUpn: string) {
  const db = ctx.identity.db;
  const tenantId = ownDirectoryOf(caller);
  const user = isGuid(idOrUpn)
    ? await identityStore.getUser(db, idOrUpn.toLowerCase())
    : await identityStore.findUserByUpn(db, tenantId, idOrUpn);
  if (!user || user.tenant_id !== tenantId) throw graphErrors.notFound(idOrUpn);
  return userView(user, await externalState(db, user));
}

/** Changes a user of the caller's directory: its name, or whether it may sign in (`accountEnabled`). */
export async function updateUser(
  ctx: GraphContext,
  caller: Principal,
  idOrUpn: string,
  patch: { displayName?: string; accountEnabled?: boolean },
) {
  const now = ctx.identity.clock.now();
  return ctx.transaction(async (db) => {
    const directory = await requireDirectoryAdmin(db, caller);
    const user = isGuid(idOrUpn)
      ? await identityStore.getUser(db, idOrUpn.toLowerCase())
      : await identityStore.findUserByUpn(db, directory.tenant_id, idOrUpn);
    if (!user || user.tenant_id !== directory.tenant_id) throw graphErrors.notFound(idOrUpn);
    const next = {
      ...user,
      display_name: patch.displayName ?? user.display_name,
      account_enabled: patch.accountEnabled ?? user.account_enabled,
    };
    if (next.display_name !== user.display_name)
      await identityStore.updateUserDisplayName(db, user.object_id, next.display_name);
    if (next.account_enabled !== user.account_enabled)
      await identityStore.setAccountEnabled(db, user.object_id, next.account_enabled);
    await recordChanges(db, caller, now, [
      {
        directoryId: directory.tenant_id,
        operation: 'Update user',
        resourceType: 'User',
        resourceId: user.object_id,
        oldValue: userView(user),
        newValue: userView(next),
      },
    ]);
  });
}

// ---- applications and service principals ------------------------------------------------------

export interface PasswordCredentialRow {
  id: string;
  display_name: string | null;
  hint: string;
  created_at: Date;
  expires_at: Date;
}

/** A secret as graph describes it; its text only when just made. */
export function passwordCredentialView(c: PasswordCredentialRow, secretText: string | null = null) {
  return {
    customKeyIdentifier: null,
    displayName: c.display_name,
    endDateTime: c.expires_at.toISOString(),
    hint: c.hint,
    keyId: c.id,
    secretText,
    startDateTime: c.created_at.toISOString(),
  };
}

export function applicationView(
  app: { app_id: string; display_name: string; identifier_uris: string[]; created_at: Date },
  secrets: PasswordCredentialRow[] = [],
) {
  return {
    // One id names both the application object and its appId here.
    id: app.app_id,
    appId: app.app_id,
    displayName: app.display_name,
    identifierUris: app.identifier_uris,
    signInAudience: 'AzureADMultipleOrgs',
    createdDateTime: app.created_at.toISOString(),
    passwordCredentials: secrets.map((c) => passwordCredentialView(c)),
  };
}

async function requireUniqueUris(db: IdentityDb, uris: string[], appId?: string): Promise<void> {
  for (const uri of uris) {
    if (!/^https?:\/\/\S+$/i.test(uri) && !/^api:\/\/\S+$/i.test(uri))
      throw graphErrors.badRequest(`'${uri}' is not a valid identifier URI.`, 'identifierUris');
    const owner = await identityStore.findApplicationByIdentifierUri(db, uri.replace(/\/+$/, '').toLowerCase());
    if (owner && owner.app_id !== appId) throw graphErrors.exists('identifierUris');
  }
}

/** An application registered in the caller's directory, with its service principal there. */
export async function registerApplication(
  ctx: GraphContext,
  caller: Principal,
  input: { displayName: string; identifierUris?: string[]; keyCredentials?: KeyCredentialInput[] },
) {
  const now = ctx.identity.clock.now();
  return ctx.transaction(async (db) => {
    const directory = await requireDirectoryAdmin(db, caller);
    await requireUniqueUris(db, input.identifierUris ?? []);
    const { appId } = await ctx.identity.createApplication(
      { homeTenantId: directory.tenant_id, displayName: input.displayName, identifierUris: input.identifierUris ?? [] },
      db,
    );
    const app = (await identityStore.getApplication(db, appId))!;
    const keys = input.keyCredentials ? await replaceKeyCredentials(db, app, input.keyCredentials, now) : undefined;
    await recordChanges(db, caller, now, [
      {
        directoryId: directory.tenant_id,
        operation: 'Add application',
        resourceType: 'Application',
        resourceId: appId,
        newValue: { ...applicationView(app), ...(keys ? { keyCredentials: keys.after } : {}) },
      },
    ]);
    return app;
  });
}

/** An application of the caller's directory, for its administrators (and its own automation). */
async function requireOwnApplication(db: IdentityDb, caller: Principal, appId: string) {
  const directory = await requireDirectoryAdmin(db, caller);
  const app = isGuid(appId) ? await identityStore.getApplication(db, appId.toLowerCase()) : undefined;
  if (!app || app.home_tenant_id !== directory.tenant_id) throw graphErrors.notFound(appId);
  return { directory, app };
}

/** Changes an application's name or identifier URIs; only administrators of its home directory may. */
export async function updateApplication(
  ctx: GraphContext,
  caller: Principal,
  appId: string,
  patch: { displayName?: string; identifierUris?: string[]; keyCredentials?: KeyCredentialInput[] },
) {
  const now = ctx.identity.clock.now();
  return ctx.transaction(async (db) => {
    const { directory, app } = await requireOwnApplication(db, caller, appId);
    if (patch.identifierUris) await requireUniqueUris(db, patch.identifierUris, app.app_id);
    const next = {
      ...app,
      display_name: patch.displayName ?? app.display_name,
      identifier_uris: patch.identifierUris ?? app.identifier_uris,
    };
    await identityStore.updateApplication(db, next.app_id, next.display_name, next.identifier_uris);
    const keys = patch.keyCredentials ? await replaceKeyCredentials(db, app, patch.keyCredentials, now) : undefined;
    await recordChanges(db, caller, now, [
      {
        directoryId: directory.tenant_id,
        operation: 'Update application',
        resourceType: 'Application',
        resourceId: app.app_id,
        oldValue: { ...applicationView(app), ...(keys ? { keyCredentials: keys.before } : {}) },
        newValue: { ...applicationView(next), ...(keys ? { keyCredentials: keys.after } : {}) },
      },
    ]);
    return next;
  });
}

/**
 * An application of another directory admitted to the caller's directory: an administrator
 * creates its service principal there (consent).
 */
export async function addServicePrincipal(ctx: GraphContext, caller: Principal, appId: string) {
  const now = ctx.identity.clock.now();
  // Two at once meet the unique index instead of the check: the same answer as a repeat.
  return onUniqueViolation(
    [SERVICE_PRINCIPAL_INDEX],
    () =>
      ctx.transaction(async (db) => {
        const directory = await requireDirectoryAdmin(db, caller);
        const app = isGuid(appId) ? await identityStore.getApplication(db, appId.toLowerCase()) : undefined;
        if (!app || app.public_client)
          throw graphErrors.badRequest(
            `The appId '${appId}' of the service principal does not reference a valid application object.`,
            'appId',
          );
        const existing = await identityStore.findServicePrincipal(db, directory.tenant_id, app.app_id);
        if (existing) throw graphErrors.exists('appId');
        // Inserted here rather than "ensured": one made by a concurrent twin since the check is a conflict, not this one.
        const sp = {
          object_id: newGuid(),
          tenant_id: directory.tenant_id,
          app_id: app.app_id,
          display_name: app.display_name,
          created_at: now,
        };
        await identityStore.insertServicePrincipal(db, sp);
        await recordChanges(db, caller, now, [
          {
            directoryId: directory.tenant_id,
            operation: 'Add service principal',
            resourceType: 'ServicePrincipal',
            resourceId: sp.object_id,
            newValue: { appId: app.app_id },
          },
        ]);
        return sp;
      }),
    () => {
      throw graphErrors.exists('appId');
    },
  );
}

/** A new client secret for an application, shown once; it ends at `endDateTime` (two years by default). */
export async function addApplicationPassword(
  ctx: GraphContext,
  caller: Principal,
  appId: string,
  input: { displayName?: string; endDateTime?: string },
) {
  const now = ctx.identity.clock.now();
  let endDateTime: Date | undefined;
  if (input.endDateTime !== undefined) {
    endDateTime = new Date(input.endDateTime);
    if (Number.isNaN(endDateTime.getTime()) || endDateTime.getTime() <= Date.now()) {
      throw graphErrors.badRequest(
        `endDateTime '${input.endDateTime}' must be a time in the future.`,
        'passwordCredential.endDateTime',
      );
    }
  }
  return ctx.transaction(async (db) => {
    const { directory, app } = await requireOwnApplication(db, caller, appId);
    const made = await ctx.identity.addClientSecret(app.app_id, { displayName: input.displayName, endDateTime }, db);
    const view = passwordCredentialView(
      {
        id: made.keyId,
        display_name: made.displayName,
        hint: made.hint,
        created_at: made.startDateTime,
        expires_at: made.endDateTime,
      },
      made.secretText,
    );
    await recordChanges(db, caller, now, [
      {
        directoryId: directory.tenant_id,
        operation: 'Add application password',
        resourceType: 'Application',
        resourceId: app.app_id,
        newValue: { ...view, secretText: null },
      },
    ]);
    return view;
  });
}

/** Revokes one secret of an application at once. */
export async function removeApplicationPassword(ctx: GraphContext, caller: Principal, appId: string, keyId: string) {
  const now = ctx.identity.clock.now();
  return ctx.transaction(async (db) => {
    const { directory, app } = await requireOwnApplication(db, caller, appId);
    if (!isGuid(keyId) || !(await identityStore.deleteClientSecret(db, app.app_id, keyId.toLowerCase()))) {
      throw graphErrors.badRequest(`No password credential with keyId '${keyId}' exists on the application.`, 'keyId');
    }
    await recordChanges(db, caller, now, [
      {
        directoryId: directory.tenant_id,
        operation: 'Remove application password',
        resourceType: 'Application',
        resourceId: app.app_id,
        oldValue: { keyId: keyId.toLowerCase() },
        newValue: null,
      },
    ]);
  });
}
