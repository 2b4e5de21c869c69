import type { Kysely } from 'kysely';
import { authorize, requireSubscription, type ArmContext } from '../../arm/service.ts';
import type { ArmTables } from '../../arm/tables.ts';
import { armError, armErrors } from '../../core/errors.ts';
import { HttpError, type HttpClient } from '../../core/http-client.ts';
import { isGuid } from '../../core/ids.ts';
import type { Principal } from '../../core/principal.ts';
import { requestAppToken } from '../../core/tokens.ts';
import { tenancyStore } from './store.ts';
import type { Cursor } from '../../core/paging.ts';
import type { DirectoryTenantsTable, TenancyTables } from './tables.ts';

// Multi-tenancy: which directories may use the deployment. The home directory (the operator's)
// always may; a guest directory may once the operator has onboarded it and the directory's
// administrator has consented, by creating the service principal of the stack's application in
// that directory. The stack learns both facts from the hub, over HTTP: a directory's existence from
// its OpenID metadata, consent from whether the stack's application can sign in there.

export interface HubDirectory {
  http: HttpClient;
  login: () => string;
  graph: () => string;
}

export interface StackApplication {
  appId: () => string | undefined;
  secret: () => string | undefined;
}

export const tenancyErrors = {
  notOnboarded: (tenantId: string) =>
    armError(
      'DirectoryTenantNotOnboarded',
      `The directory '${tenantId}' is not onboarded to this deployment. Missing step: the operator adds it as a directory tenant (Microsoft.Subscriptions.Admin/directoryTenants in the default provider subscription).`,
    ),
  consentMissing: (tenantId: string, appId: string, graph: string) =>
    armError(
      'DirectoryTenantConsentMissing',
      `The directory '${tenantId}' is onboarded but has not consented. Missing step: an administrator of that directory creates the service principal of the deployment's application (POST ${graph}/v1.0/servicePrincipals with {"appId": "${appId}"}).`,
    ),
  unknownDirectory: (name: string) =>
    armError(
      'InvalidDirectoryTenant',
      `The directory '${name}' does not exist in the cloud this deployment trusts.`,
      'name',
    ),
  tenantMismatch: (name: string, given: string, actual: string) =>
    armError(
      'DirectoryTenantIdMismatch',
      `The directory '${name}' has the tenant id '${actual}', not '${given}'.`,
      'properties.tenantId',
    ),
};

export interface TenancyContext {
  arm: ArmContext;
  /** Tenancy's tables on the stack's database, with ARM's subscriptions (what the ARM hooks take). */
  db: Kysely<TenancyTables & Pick<ArmTables, 'subscriptions'>>;
  hub: HubDirectory;
  app: StackApplication;
  homeDirectory: () => string | undefined;
  providerSubscriptionId: () => string | undefined;
}

const CONSENT_TTL_MS = 60_000;

export class Admission {
  /** Directories whose consent was seen recently: tenant id → until when (real time). */
  readonly #consented = new Map<string, number>();

  constructor(private readonly ctx: TenancyContext) {}

  forget(tenantId: string): void {
    this.#consented.delete(tenantId);
  }

  /** Refuses a principal of a directory that may not use the deployment, naming the step missing. */
  async admit(principal: Principal): Promise<void> {
    if (principal.tenantId === this.ctx.homeDirectory()) return;
    const onboarded = await tenancyStore.byTenantId(this.ctx.db, principal.tenantId);
    if (!onboarded) throw tenancyErrors.notOnboarded(principal.tenantId);
    if ((this.#consented.get(principal.tenantId) ?? 0) > Date.now()) return;
    if (!(await this.#hasConsented(principal.tenantId))) {
      throw tenancyErrors.consentMissing(principal.tenantId, this.ctx.app.appId() ?? '?', this.ctx.hub.graph());
    }
    this.#consented.set(principal.tenantId, Date.now() + CONSENT_TTL_MS);
    await tenancyStore.consentSeen(this.ctx.db, principal.tenantId, this.ctx.arm.clock.now());
  }

  /** The application signs in to the directory only where its service principal exists. */
  async #hasConsented(tenantId: string): Promise<boolean> {
    const appId = this.ctx.app.appId();
    const secret = this.ctx.app.secret();
    if (!appId || !secret) return false;
    const res = await requestAppToken(
      this.ctx.hub.http,
      this.ctx.hub.login(),
      { tenantId, clientId: appId, clientSecret: secret },
      this.ctx.hub.graph(),
    );
    if (res.status === 200) return true;
    if (res.status === 400 && Array.isArray(res.body?.error_codes) && res.body.error_codes.includes(700016))
      return false;
    throw armError(
      'ServiceUnavailable',
      `The directory service did not answer whether '${tenantId}' consented (${res.status}); retry.`,
    );
  }
}

/** Resolves a directory named by tenant id or domain through the hub's OpenID metadata. */
async function resolveDirectory(hub: HubDirectory, name: string): Promise<string | undefined> {
  try {
    const config = await hub.http.call(
      'GET',
      `${hub.login()}/${encodeURIComponent(name)}/v2.0/.well-known/openid-configuration`,
    );
    const m = /\/([0-9a-f-]{36})\/v2\.0$/i.exec(String(config.issuer));
    return m?.[1].toLowerCase();
  } catch (e) {
    if (e instanceof HttpError && e.status === 400) return undefined;
    throw e;
  }
}

export interface DirectoryTenantRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

const scopeOf = (r: DirectoryTenantRef) =>
  `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.Subscriptions.Admin/directoryTenants/${r.name}`;

/** Directory tenants live in the default provider subscription's `system.{location}` group. */
async function requireSystemGroup(
  ctx: TenancyContext,
  principal: Principal,
  ref: Omit<DirectoryTenantRef, 'name'> & { name?: string },
  action: string,
) {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  const scope =
    ref.name === undefined
      ? `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}`
      : scopeOf(ref as DirectoryTenantRef);
  await authorize(ctx.arm, principal, action, scope);
  const system = `system.${ctx.arm.locations()[0]}`;
  if (
    sub.subscription_id !== ctx.providerSubscriptionId() ||
    ref.resourceGroup.toLowerCase() !== system.toLowerCase()
  ) {
    throw armError(
      'InvalidDirectoryTenantScope',
      `Directory tenants live in the resource group '${system}' of the default provider subscription '${ctx.providerSubscriptionId()}'.`,
    );
  }
  return sub;
}

export async function onboardDirectory(
  ctx: TenancyContext,
  principal: Principal,
  ref: DirectoryTenantRef,
  tenantId: string | undefined,
) {
  const sub = await requireSystemGroup(ctx, principal, ref, 'Microsoft.Subscriptions.Admin/directoryTenants/write');
  if (tenantId !== undefined && !isGuid(tenantId))
    throw armErrors.invalidRequestContent(`The tenantId '${tenantId}' is not a GUID.`, 'properties.tenantId');
  const actual = await resolveDirectory(ctx.hub, ref.name);
  if (!actual) throw tenancyErrors.unknownDirectory(ref.name);
  if (tenantId !== undefined && tenantId.toLowerCase() !== actual)
    throw tenancyErrors.tenantMismatch(ref.name, tenantId, actual);
  const existing = (await tenancyStore.byName(ctx.db, ref.name)) ?? (await tenancyStore.byTenantId(ctx.db, actual));
  if (existing) return { row: existing, created: false };
  const row: DirectoryTenantsTable = {
    tenant_id: actual,
    name: ref.name,
    name_key: ref.name.toLowerCase(),
    subscription_id: sub.subscription_id,
    resource_group: ref.resourceGroup,
    created_at: ctx.arm.clock.now(),
    consent_seen_at: null,
  };
  await tenancyStore.insert(ctx.db, row);
  await ctx.arm.recordChange?.(ctx.db, principal, sub, {
    operation: 'Onboard directory',
    resourceType: 'Microsoft.Subscriptions.Admin/directoryTenants',
    resourceId: scopeOf(ref),
    newValue: { tenantId: actual },
  });
  return { row, created: true };
}

export async function getDirectoryTenant(
  ctx: TenancyContext,
  principal: Principal,
  ref: DirectoryTenantRef,
): Promise<DirectoryTenantsTable> {
  await requireSystemGroup(ctx, principal, ref, 'Microsoft.Subscriptions.Admin/directoryTenants/read');
  const row =
    (await tenancyStore.byName(ctx.db, ref.name)) ??
    (isGuid(ref.name) ? await tenancyStore.byTenantId(ctx.db, ref.name.toLowerCase()) : undefined);
  if (!row) throw armErrors.namedResourceNotFound('directory tenant', ref.name);
  return row;
}

export async function listDirectoryTenants(
  ctx: TenancyContext,
  principal: Principal,
  ref: Omit<DirectoryTenantRef, 'name'>,
  cursor: Cursor,
) {
  await requireSystemGroup(ctx, principal, ref, 'Microsoft.Subscriptions.Admin/directoryTenants/read');
  return tenancyStore.list(ctx.db, cursor);
}

/** Offboards a directory: from now on its users' tokens are refused. */
export async function offboardDirectory(
  ctx: TenancyContext,
  admission: Admission,
  principal: Principal,
  ref: DirectoryTenantRef,
): Promise<boolean> {
  const sub = await requireSystemGroup(ctx, principal, ref, 'Microsoft.Subscriptions.Admin/directoryTenants/delete');
  const row =
    (await tenancyStore.byName(ctx.db, ref.name)) ??
    (isGuid(ref.name) ? await tenancyStore.byTenantId(ctx.db, ref.name.toLowerCase()) : undefined);
  if (!row) return false;
  await tenancyStore.remove(ctx.db, row.tenant_id);
  admission.forget(row.tenant_id);
  await ctx.arm.recordChange?.(ctx.db, principal, sub, {
    operation: 'Offboard directory',
    resourceType: 'Microsoft.Subscriptions.Admin/directoryTenants',
    resourceId: scopeOf(ref),
    oldValue: { tenantId: row.tenant_id },
  });
  return true;
}
