import type { Kysely } from 'kysely';
import { recordChanges } from '../audit/service.ts';
import type { AuditTables } from '../audit/tables.ts';
import type { AuditDb } from '../audit/store.ts';
import { graphError } from '../core/errors.ts';
import { isEmail, isGuid, newGuid } from '../core/ids.ts';
import { noteRightsChecked, type Principal } from '../core/principal.ts';
import type { Cursor } from '../core/paging.ts';
import type { IdentityService } from './service.ts';
import { identityStore, USER_NAME_INDEX, type IdentityDb } from './store.ts';
import { onUniqueViolation } from '../db/database.ts';
import type { DirectoriesTable, IdentityTables, InvitationsTable, UsersTable } from './tables.ts';

// The directory API (graph): users and guest invitations of the caller's directory, done by that
// directory's administrators (applications and service principals: graph-applications.ts). Every
// change is written to the activity log in the same transaction.

export const GLOBAL_ADMINISTRATOR = 'GlobalAdministrator';

export const graphErrors = {
  denied: () => graphError('Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'),
  badRequest: (message: string, target?: string) => graphError('Request_BadRequest', message, target),
  notFound: (id: string) =>
    graphError(
      'Request_ResourceNotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    ),
  exists: (property: string) =>
    graphError(
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
export async function administeredDirectory(db: IdentityDb, caller: Principal): Promise<DirectoriesTable | undefined> {
  noteRightsChecked(caller);
  const directory = await identityStore.getDirectory(db, caller.tenantId);
  if (!directory) return undefined;
  if (caller.kind === 'User') {
    const user = await identityStore.getUser(db, caller.objectId);
    if (user?.tenant_id === directory.tenant_id && user.directory_role === GLOBAL_ADMINISTRATOR) return directory;
  } else if (caller.appId) {
    const app = await identityStore.getApplication(db, caller.appId);
    if (app?.home_tenant_id === directory.tenant_id) return directory;
  }
  return undefined;
}

/** As `administeredDirectory`, or the directory API's 403. */
export async function requireDirectoryAdmin(db: IdentityDb, caller: Principal): Promise<DirectoriesTable> {
  const directory = await administeredDirectory(db, caller);
  if (!directory) throw graphErrors.denied();
  return directory;
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

/** A page of the caller's directory's users, each with its view. */
export async function listUsers(ctx: GraphContext, caller: Principal, cursor: Cursor) {
  const db = ctx.identity.db;
  const directory = await identityStore.getDirectory(db, ownDirectoryOf(caller));
  if (!directory) throw graphErrors.denied();
  const rows = await identityStore.listUsers(db, directory.tenant_id, cursor);
  return Promise.all(rows.map(async (row) => ({ row, view: userView(row, await externalState(db, row)) })));
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
