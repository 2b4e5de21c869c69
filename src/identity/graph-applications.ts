import { recordChanges } from '../audit/service.ts';
import { graphError } from '../core/errors.ts';
import { isGuid, newGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import type { Cursor } from '../core/paging.ts';
import { onUniqueViolation } from '../db/database.ts';
import { graphErrors, ownDirectoryOf, requireDirectoryAdmin, userView, type GraphContext } from './graph.ts';
import { parseGraphFilter } from './graph-filter.ts';
import { replaceKeyCredentials, type KeyCredentialInput } from './key-credentials.ts';
import { identityStore, SERVICE_PRINCIPAL_INDEX, type IdentityDb, type ServicePrincipalListed } from './store.ts';

// The directory API's applications and service principals, separate objects as in Graph: an
// application (with its credentials) is registered in its home directory; a service principal is
// the application's presence in one directory (its home or a consenting one), made explicitly, and
// is what role assignments name and what a client-credentials sign-in acts as.

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

/** An application registered in the caller's directory; its service principal is made separately, as in Graph. */
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
 * An application's service principal in the caller's directory, made by an administrator of it:
 * for its own application (as `az ad sp create-for-rbac` does after creating the application), or
 * for another directory's (consent).
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
        if (existing) throw servicePrincipalExists(app.app_id);
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
            newValue: { appId: app.app_id, displayName: sp.display_name },
          },
        ]);
        return sp;
      }),
    () => {
      throw servicePrincipalExists(appId.toLowerCase());
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

/** Graph's answer to a second service principal of one application in one directory. */
const servicePrincipalExists = (appId: string) =>
  graphError(
    'Request_MultipleObjectsWithSameKeyValue',
    `The service principal cannot be created, updated, or restored because the service principal name ${appId} is already in use.`,
  );

/** A service principal as graph shows it: its names are its application's id and identifier URIs. */
export function servicePrincipalView(sp: ServicePrincipalListed) {
  return {
    id: sp.object_id,
    appId: sp.app_id,
    displayName: sp.display_name,
    appDisplayName: sp.app_display_name,
    appOwnerOrganizationId: sp.app_owner_tenant_id,
    accountEnabled: true,
    servicePrincipalType: 'Application',
    servicePrincipalNames: [sp.app_id, ...sp.identifier_uris],
    createdDateTime: sp.created_at.toISOString(),
  };
}

/** Service principals of the caller's directory, filtered as graph filters them. */
export async function listServicePrincipals(
  ctx: GraphContext,
  caller: Principal,
  filter: string | undefined,
  cursor: Cursor,
) {
  const clauses = parseGraphFilter(filter, {
    eq: ['appId', 'displayName'],
    startsWith: ['displayName'],
    anyEq: ['servicePrincipalNames'],
  });
  return identityStore.listServicePrincipals(ctx.db, ownDirectoryOf(caller), clauses, cursor);
}

/** One service principal of the caller's directory, by its object id. */
export async function getServicePrincipal(ctx: GraphContext, caller: Principal, id: string) {
  const tenantId = ownDirectoryOf(caller);
  const sp = isGuid(id) ? await identityStore.getServicePrincipal(ctx.db, id.toLowerCase()) : undefined;
  if (!sp || sp.tenant_id !== tenantId) throw graphErrors.notFound(id);
  const [found] = await identityStore.listServicePrincipals(
    ctx.db,
    tenantId,
    [{ property: 'appId', op: 'eq', value: sp.app_id }],
    { after: undefined, limit: 1 },
  );
  return servicePrincipalView(found);
}

/** Applications registered in the caller's directory, filtered as graph filters them. */
export async function listApplications(
  ctx: GraphContext,
  caller: Principal,
  filter: string | undefined,
  cursor: Cursor,
) {
  const clauses = parseGraphFilter(filter, {
    eq: ['appId', 'displayName'],
    startsWith: ['displayName'],
    anyEq: ['identifierUris'],
  });
  return identityStore.listApplications(ctx.db, ownDirectoryOf(caller), clauses, cursor);
}

/**
 * A user or service principal of the caller's directory by its object id, typed as Graph types it
 * (`@odata.type`): how a stack learns what kind of principal a role assignment names.
 */
export async function getDirectoryObject(ctx: GraphContext, caller: Principal, id: string) {
  const tenantId = ownDirectoryOf(caller);
  if (!isGuid(id)) throw graphErrors.notFound(id);
  const user = await identityStore.getUser(ctx.db, id.toLowerCase());
  if (user?.tenant_id === tenantId) return { '@odata.type': '#microsoft.graph.user', ...userView(user) };
  const sp = await identityStore.getServicePrincipal(ctx.db, id.toLowerCase());
  if (sp?.tenant_id === tenantId)
    return {
      '@odata.type': '#microsoft.graph.servicePrincipal',
      ...(await getServicePrincipal(ctx, caller, sp.object_id)),
    };
  throw graphErrors.notFound(id);
}
